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
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from bot.db import get_engine, migrate_app_db
from bot.staff.tables import staff_login_failures, staff_sessions, staff_users

MIN_PASSWORD_LENGTH = 10
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
        return self.name.split()[0] if self.name.split() else "Support"

    def public(self) -> dict[str, object]:
        return {"id": self.id, "name": self.name, "first_name": self.first_name}


@dataclass(frozen=True)
class StaffSession:
    user: StaffUser
    csrf_token: str
    expires_at: datetime


def normalize_email(email: str) -> str:
    return email.strip().lower()


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)  # SQLite gives naive ones


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
                        created_at=_now(),
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
        detail) or LoginLocked after `lockout_attempts` failures in a row."""
        now = now or _now()
        address = normalize_email(email)[:254]
        locked = self._locked_for(address, now)
        if locked > 0:
            raise LoginLocked(locked)
        user = self.by_email(address)
        stored = self._hash_of(user.id) if user else None
        ok = False
        try:
            ok = _hasher.verify(stored or _dummy_hash(), password[:MAX_PASSWORD_LENGTH])
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            ok = False
        if not ok or user is None or stored is None or user.disabled:
            retry = self._record_failure(address, now)
            if retry > 0:
                raise LoginLocked(retry)
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

    def _locked_for(self, address: str, now: datetime) -> float:
        with self._engine.connect() as conn:
            until = conn.execute(
                select(staff_login_failures.c.locked_until).where(
                    staff_login_failures.c.email == address
                )
            ).scalar()
        return max(0.0, (_aware(until) - now).total_seconds()) if until else 0.0

    def _record_failure(self, address: str, now: datetime) -> float:
        """Count one failure; seconds of lock-out it starts (0 while under the limit).
        Failures older than the lock-out period are forgotten."""
        with self._engine.begin() as conn:
            row = conn.execute(
                select(staff_login_failures).where(staff_login_failures.c.email == address)
            ).first()
            if row is None or now - _aware(row.first_failed_at) > self.lockout:
                conn.execute(
                    delete(staff_login_failures).where(staff_login_failures.c.email == address)
                )
                conn.execute(
                    insert(staff_login_failures).values(
                        email=address, failures=1, first_failed_at=now, locked_until=None
                    )
                )
                failures = 1
            else:
                failures = row.failures + 1
                conn.execute(
                    update(staff_login_failures)
                    .where(staff_login_failures.c.email == address)
                    .values(failures=failures)
                )
            if failures < self.lockout_attempts:
                return 0.0
            # Locked: the count starts again once the lock-out has passed.
            conn.execute(
                update(staff_login_failures)
                .where(staff_login_failures.c.email == address)
                .values(locked_until=now + self.lockout, failures=0, first_failed_at=now)
            )
            return self.lockout.total_seconds()

    # --- sessions -------------------------------------------------------------------
    def open_session(self, user: StaffUser, now: datetime | None = None) -> tuple[str, str]:
        """A new session: (the cookie's token, its CSRF token)."""
        now = now or _now()
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
        now = now or _now()
        key = _token_id(token)
        with self._engine.begin() as conn:
            row = conn.execute(
                select(staff_sessions, staff_users)
                .join(staff_users, staff_users.c.id == staff_sessions.c.staff_id)
                .where(staff_sessions.c.id == key)
            ).first()
            if row is None:
                return None
            if _aware(row.expires_at) <= now or row.disabled:
                conn.execute(delete(staff_sessions).where(staff_sessions.c.id == key))
                return None
            expires = now + self.session_ttl
            # One write a minute at most: a busy console polls often.
            if now - _aware(row.last_seen_at) > timedelta(seconds=60):
                conn.execute(
                    update(staff_sessions)
                    .where(staff_sessions.c.id == key)
                    .values(last_seen_at=now, expires_at=expires)
                )
            else:
                expires = _aware(row.expires_at)
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
        """Delete expired sessions; how many."""
        with self._engine.begin() as conn:
            result = conn.execute(
                delete(staff_sessions).where(staff_sessions.c.expires_at <= (now or _now()))
            )
        return int(result.rowcount or 0)
