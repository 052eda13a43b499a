"""Guessing gains nothing: failed ownership checks are counted, and past a limit refused.

Every check (verify, lookup, and the one before a return, change or cancel) is counted
per e-mail address, per order number and per client (the shopper's IP address and
session, as the action server passes them on). Once any of those counts reaches
VERIFY_FAILURE_LIMIT within VERIFY_FAILURE_WINDOW_SECONDS, further checks for that e-mail
or order, or from that client, are refused without being evaluated, so even the right
pair is refused; each refusal is written to the audit log.

The count, the check and the new failure happen in one transaction that holds a lock on
each key it counts (SQLite: the database's write lock, taken by `BEGIN IMMEDIATE`;
PostgreSQL: a transaction-scoped advisory lock per key), so guesses made at once, from
any number of processes, are counted one after the other and never slip past the limit.
Only failures are stored: twenty identical right requests at once are all answered.
(Recording every check before evaluating it, without a lock, would be race-free too,
but refused such bursts of right requests: measured with tests/test_orders_concurrency.)
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import delete, exists, func, select, text
from sqlalchemy.orm import Session

from bot.orders import normalize, repository
from bot.orders.db import Database
from bot.orders.domain import Caller, VerificationLocked
from bot.orders.models import Customer, Order, VerificationFailure

Keys = dict[str, str]  # column of VerificationFailure -> SHA-256 of the normalised value
# The failure's key columns, and the word the audit log uses for each.
KEY_NAMES = {"email_key": "email", "order_key": "order", "ip_key": "ip", "session_key": "session"}
# PostgreSQL's two-int advisory locks live apart from the one-bigint ones the migrations
# take; this first int says "a guessing key", the second is the key's hash.
ADVISORY_CLASS = 7_238


def _digest(kind: str, value: str) -> str:
    return hashlib.sha256(f"{kind}:{value}".encode()).hexdigest()


def keys_of(order_number: str, email: str, caller: Caller) -> Keys:
    """What a check is counted under: the e-mail always; the order number when it is one
    (typed text that is not one cannot match an order); the client when the caller said."""
    keys = {"email_key": _digest("email", normalize.email(email))}
    number = normalize.order_number(order_number)
    if number is not None:
        keys["order_key"] = _digest("order", number)
    client = client_key(caller.client_ip)
    if client is not None:
        keys["ip_key"] = _digest("ip", client)
    if caller.session and caller.session.strip():
        keys["session_key"] = _digest("session", caller.session.strip())
    return keys


def client_key(client_ip: str | None) -> str | None:
    """What a client address is counted under: an IPv4 address as it is, an IPv6 address
    by its /64 (one subscriber's block: counting single addresses would let one attacker
    try 2^64 times); None for anything that is not an address ("unknown", garbage), so
    shoppers whose address is not known never share one count."""
    try:
        address = ipaddress.ip_address((client_ip or "").strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:  # ::ffff:1.2.3.4 is 1.2.3.4
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def _lock(session: Session, keys: Keys) -> None:
    """Until commit, no other check counts any of these keys (PostgreSQL; SQLite's
    `BEGIN IMMEDIATE` has already locked the whole database)."""
    if session.get_bind().dialect.name != "postgresql":
        return
    for value in sorted(keys.values()):  # one order everywhere: no deadlocks
        session.execute(
            text("SELECT pg_advisory_xact_lock(:cls, :key)"),
            {"cls": ADVISORY_CLASS, "key": int.from_bytes(bytes.fromhex(value[:8]), signed=True)},
        )


class GuessingGuard:
    def __init__(
        self,
        db: Database,
        clock: Callable[[], datetime],
        *,
        limit: int,
        window_seconds: float,
        support_email: str,
    ) -> None:
        self.db = db
        self.clock = clock
        self.limit = limit
        self.window = timedelta(seconds=window_seconds)
        self.message = (
            "There have been too many unsuccessful attempts to confirm an order with these "
            "details, so they can't be checked here for now. Please write to "
            f"{support_email} and the team will help you."
        )

    def owner_check(self, order_number: str, email: str, caller: Caller, route: str) -> str | None:
        """The order number (normalised) when the e-mail is the order's, None when not (a
        failure, counted); `VerificationLocked`, without checking, when a key is over the
        limit. `route` names the check in the audit log."""
        keys = keys_of(order_number, email, caller)
        number = normalize.order_number(order_number)

        def step(session: Session) -> tuple[str | None, tuple[str, ...]]:
            _lock(session, keys)
            now = self.clock()
            locked = self._locked(session, keys, now)
            if locked:
                repository.audit(
                    session,
                    when=now,
                    action="verification.locked",
                    order_number=number,
                    caller=caller,
                    details={"route": route, "locked": list(locked)},
                )
                return None, locked
            if number is not None and _owned(session, number, email):
                return number, ()
            # Forget failures that can no longer count, then count this one.
            session.execute(
                delete(VerificationFailure).where(
                    VerificationFailure.failed_at <= now - self.window
                )
            )
            session.add(VerificationFailure(failed_at=now, **keys))
            return None, ()

        owned, locked = self.db.write(step, deadline=caller.deadline)
        if locked:
            raise VerificationLocked(self.message, locked)  # after the audit row committed
        return owned

    def _locked(self, session: Session, keys: Keys, now: datetime) -> tuple[str, ...]:
        """The keys that already failed `limit` times within the window."""
        locked = []
        for column, value in keys.items():
            query = select(func.count()).where(
                getattr(VerificationFailure, column) == value,
                VerificationFailure.failed_at > now - self.window,
            )
            if (session.scalar(query) or 0) >= self.limit:
                locked.append(KEY_NAMES[column])
        return tuple(locked)


def _owned(session: Session, number: str, email: str) -> bool:
    query = select(
        exists().where(
            Order.order_number == number,
            Order.customer_id == Customer.id,
            Customer.email == normalize.email(email),
        )
    )
    return bool(session.scalar(query))
