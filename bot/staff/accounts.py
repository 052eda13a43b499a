"""Staff accounts, their server-side sessions and the lock-out after wrong passwords.

Passwords are hashed with argon2id (argon2-cffi's defaults, which follow RFC 9106's
second recommendation); only the hash is stored and nothing here logs a password. A
session is a random token in an HttpOnly cookie; the database keeps its SHA-256, the
staff member, a CSRF token and when it expires. Methods are synchronous (SQLAlchemy Core);
the gateway calls them in its database thread.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import and_, case, delete, insert, null, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError

from bot.db import get_engine, migrate_app_db
from bot.staff.tables import staff_login_failures, staff_sessions, staff_users
from bot.timeutil import as_utc, utc_now

MIN_PASSWORD_LENGTH = 10
# However often it is used, a session ends this long after the login: a stolen cookie
# does not live for ever.
MAX_SESSION_AGE = timedelta(days=7)
MAX_PASSWORD_LENGTH = 1024  # argon2 takes any length; this only bounds the work per try
_hasher = PasswordHasher()


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    """Verified when the e-mail has no account, so a wrong address costs as long as a wrong
    password and the answer's timing does not tell which addresses exist. Made on first
    use: hashing takes half a second, and importing this module must not."""
    return _hasher.hash("not-a-password-of-anyone")


class AccountError(ValueError):
    """A staff command or login that cannot be done; the message says what to do."""


class LoginLocked(Exception):
    """Too many wrong passwords for this address; `retry_after` seconds until it opens."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"locked for {retry_after:.0f} s")
        self.retry_after = retry_after


@dataclass(frozen=True)
class StaffUser:
    id: int
    email: str
    name: str
    disabled: bool
    created_at: datetime
    last_login_at: datetime | None

    @property
    def first_name(self) -> str:
        """What shoppers see beside an agent's messages."""
        return first_name(self.name)

    def public(self) -> dict[str, object]:
        return {"id": self.id, "name": self.name, "first_name": self.first_name}


@dataclass(frozen=True)
class StaffSession:
    user: StaffUser
    csrf_token: str
    expires_at: datetime


def first_name(name: str | None) -> str:
    """The first word of a staff member's name (at most 64 characters): what shoppers see."""
    words = (name or "").split()
    return words[0][:64] if words else "Support"


def normalize_email(email: str) -> str:
    return email.strip().lower()


def _token_id(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def _user(row: Any) -> StaffUser:
    return StaffUser(
        id=row.id,
        email=row.email,
        name=row.name,
        disabled=bool(row.disabled),
        created_at=row.created_at,
        last_login_at=row.last_login_at,
    )


def check_new_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise AccountError(f"the password must have at most {MAX_PASSWORD_LENGTH} characters")


class StaffAccounts:
    def __init__(
        self,
        database_url: str,
        session_ttl_seconds: float = 12 * 3600,
        lockout_attempts: int = 5,
        lockout_seconds: float = 15 * 60,
    ) -> None:
        migrate_app_db(database_url)
        self._engine = get_engine(database_url)
        self.session_ttl = timedelta(seconds=session_ttl_seconds)
        self.lockout_attempts = lockout_attempts
        self.lockout = timedelta(seconds=lockout_seconds)

    # --- accounts (the `bot staff` commands) ----------------------------------------
    def add(self, email: str, name: str, password: str) -> StaffUser:
        address = normalize_email(email)
        if "@" not in address or len(address) > 254 or any(c.isspace() for c in address):
            raise AccountError(f"{email!r} is not an e-mail address")
        name = " ".join(name.split()) or address.split("@")[0]
        if len(name) > 120:
            raise AccountError("the name must have at most 120 characters")
        check_new_password(password)
        try:
            with self._engine.begin() as conn:
                conn.execute(
                    insert(staff_users).values(
                        email=address,
                        name=name,
                        password_hash=_hasher.hash(password),
                        disabled=False,
                        created_at=utc_now(),
                    )
                )
        except IntegrityError:
            raise AccountError(f"{address} already has an account") from None
        user = self.by_email(address)
        assert user is not None
        return user

    def by_email(self, email: str) -> StaffUser | None:
        with self._engine.connect() as conn:
            row = conn.execute(
                select(staff_users).where(staff_users.c.email == normalize_email(email))
            ).first()
        return _user(row) if row else None

    def by_id(self, staff_id: int) -> StaffUser | None:
        with self._engine.connect() as conn:
            row = conn.execute(select(staff_users).where(staff_users.c.id == staff_id)).first()
        return _user(row) if row else None

    def all(self) -> list[StaffUser]:
        with self._engine.connect() as conn:
            rows = conn.execute(select(staff_users).order_by(staff_users.c.email)).all()
        return [_user(r) for r in rows]

    def disable(self, email: str) -> StaffUser:
        """Disable the account and end its sessions at once."""
        user = self.by_email(email)
        if user is None:
            raise AccountError(f"no staff account for {normalize_email(email)}")
        with self._engine.begin() as conn:
            conn.execute(
                update(staff_users).where(staff_users.c.id == user.id).values(disabled=True)
            )
            conn.execute(delete(staff_sessions).where(staff_sessions.c.staff_id == user.id))
        return StaffUser(**{**user.__dict__, "disabled": True})

    # --- login and lock-out -----------------------------------------------------------
    def authenticate(self, email: str, password: str, now: datetime | None = None) -> StaffUser:
        """The account for these credentials; AccountError (one message for every wrong
        detail) or LoginLocked after `lockout_attempts` wrong passwords in a row.

        Each attempt is counted before its password is checked, in one atomic statement:
        attempts sent all at once cannot slip past the limit while the slow hash runs."""
        now = now or utc_now()
        address = normalize_email(email)[:254]
        attempt, locked_until = self._count_attempt(address, now)
        if locked_until is not None and as_utc(locked_until) > now:
            raise LoginLocked((as_utc(locked_until) - now).total_seconds())
        if attempt > self.lockout_attempts:
            raise LoginLocked(self._lock(address, now))
        user = self.by_email(address)
        stored = self._hash_of(user.id) if user else None
        ok = False
        try:
            ok = _hasher.verify(stored or _dummy_hash(), password[:MAX_PASSWORD_LENGTH])
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            ok = False
        if not ok or user is None or stored is None or user.disabled:
            if attempt >= self.lockout_attempts:
                raise LoginLocked(self._lock(address, now))
            raise AccountError("Wrong e-mail address or password.")
        with self._engine.begin() as conn:
            conn.execute(
                delete(staff_login_failures).where(staff_login_failures.c.email == address)
            )
            values: dict[str, object] = {"last_login_at": now}
            if _hasher.check_needs_rehash(stored):
                values["password_hash"] = _hasher.hash(password)
            conn.execute(update(staff_users).where(staff_users.c.id == user.id).values(**values))
        return user

    def _hash_of(self, staff_id: int) -> str | None:
        with self._engine.connect() as conn:
            value = conn.execute(
                select(staff_users.c.password_hash).where(staff_users.c.id == staff_id)
            ).scalar()
        return str(value) if value else None

    def _count_attempt(self, address: str, now: datetime) -> tuple[int, datetime | None]:
        """Count one login attempt for `address`: (its number in the current run of
        attempts, the end of a lock-out in force). A run starts again once a lock-out has
        passed, or when its first attempt is older than the lock-out period."""
        t = staff_login_failures
        upsert = pg_insert if self._engine.dialect.name == "postgresql" else sqlite_insert
        fresh = or_(
            and_(t.c.locked_until.is_not(None), t.c.locked_until <= now),
            and_(t.c.locked_until.is_(None), t.c.first_failed_at < now - self.lockout),
        )
        statement = (
            upsert(t)
            .values(email=address, failures=1, first_failed_at=now, locked_until=None)
            .on_conflict_do_update(
                index_elements=[t.c.email],
                set_={
                    "failures": case((fresh, 1), else_=t.c.failures + 1),
                    "first_failed_at": case((fresh, now), else_=t.c.first_failed_at),
                    "locked_until": case((fresh, null()), else_=t.c.locked_until),
                },
            )
            .returning(t.c.failures, t.c.locked_until)
        )
        with self._engine.begin() as conn:
            row = conn.execute(statement).one()
        return int(row.failures), row.locked_until

    def _lock(self, address: str, now: datetime) -> float:
        """Lock the address for the lock-out period (unless it is locked already); the
        seconds it stays locked."""
        until = now + self.lockout
        t = staff_login_failures
        with self._engine.begin() as conn:
            conn.execute(
                update(t)
                .where(
                    t.c.email == address, or_(t.c.locked_until.is_(None), t.c.locked_until <= now)
                )
                .values(locked_until=until)
            )
            current = conn.execute(select(t.c.locked_until).where(t.c.email == address)).scalar()
        return max(1.0, ((as_utc(current) if current else until) - now).total_seconds())

    def unlock(self, email: str) -> None:
        """Forget the failed logins of an address (`bot staff unlock`)."""
        with self._engine.begin() as conn:
            conn.execute(
                delete(staff_login_failures).where(
                    staff_login_failures.c.email == normalize_email(email)
                )
            )

    # --- sessions -------------------------------------------------------------------
    def open_session(self, user: StaffUser, now: datetime | None = None) -> tuple[str, str]:
        """A new session: (the cookie's token, its CSRF token)."""
        now = now or utc_now()
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        with self._engine.begin() as conn:
            conn.execute(
                insert(staff_sessions).values(
                    id=_token_id(token),
                    staff_id=user.id,
                    csrf_token=csrf,
                    created_at=now,
                    last_seen_at=now,
                    expires_at=now + self.session_ttl,
                )
            )
        return token, csrf

    def session(self, token: str | None, now: datetime | None = None) -> StaffSession | None:
        """The live session of this cookie token; None when unknown, expired or disabled.
        Each use moves the expiry forward (idle sessions end after the TTL)."""
        if not token or len(token) > 256:
            return None
        now = now or utc_now()
        key = _token_id(token)
        with self._engine.begin() as conn:
            row = conn.execute(
                select(staff_sessions, staff_users)
                .join(staff_users, staff_users.c.id == staff_sessions.c.staff_id)
                .where(staff_sessions.c.id == key)
            ).first()
            if row is None:
                return None
            too_old = now - as_utc(row.created_at) > MAX_SESSION_AGE
            if as_utc(row.expires_at) <= now or row.disabled or too_old:
                conn.execute(delete(staff_sessions).where(staff_sessions.c.id == key))
                return None
            expires = now + self.session_ttl
            # One write a minute at most: a busy console polls often.
            if now - as_utc(row.last_seen_at) > timedelta(seconds=60):
                conn.execute(
                    update(staff_sessions)
                    .where(staff_sessions.c.id == key)
                    .values(last_seen_at=now, expires_at=expires)
                )
            else:
                expires = as_utc(row.expires_at)
        user = StaffUser(
            id=row.staff_id,
            email=row.email,
            name=row.name,
            disabled=bool(row.disabled),
            created_at=row.created_at,
            last_login_at=row.last_login_at,
        )
        return StaffSession(user=user, csrf_token=row.csrf_token, expires_at=expires)

    def close_session(self, token: str) -> None:
        with self._engine.begin() as conn:
            conn.execute(delete(staff_sessions).where(staff_sessions.c.id == _token_id(token)))

    def sweep(self, now: datetime | None = None) -> int:
        """Delete expired sessions, and failed-login counts that no longer matter (older
        than the lock-out period and not locked); how many rows went."""
        now = now or utc_now()
        t = staff_login_failures
        with self._engine.begin() as conn:
            sessions = conn.execute(
                delete(staff_sessions).where(staff_sessions.c.expires_at <= now)
            ).rowcount
            failures = conn.execute(
                delete(t).where(
                    t.c.first_failed_at < now - self.lockout,
                    or_(t.c.locked_until.is_(None), t.c.locked_until <= now),
                )
            ).rowcount
        return int(sessions or 0) + int(failures or 0)
