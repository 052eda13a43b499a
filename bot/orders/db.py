"""Engines, sessions and migrations of the order backend, built by factories (never at import).

SQLite serialises writers: write transactions start with `BEGIN IMMEDIATE`, so a request
takes the write lock before it reads what it decides on (two requests can never both see
"no open return yet"). PostgreSQL runs many writers at once: the service locks the order's
row (`SELECT ... FOR UPDATE`) first. In both, unique constraints are the last line, and a
write that still collides is retried from the start (it then sees the winner's row).

A write given a deadline (ORDERS_WRITE_DEADLINE_SECONDS after the request arrived, shorter
than the client's ORDERS_TIMEOUT_SECONDS) commits before it or not at all: waits for
locks are bounded by it (SQLite's busy timeout, PostgreSQL's `lock_timeout` and
`statement_timeout`), and it is checked once more just before COMMIT. So a client that
gave up waiting never finds, later, that the write happened after all.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event, make_url, text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from bot.orders.domain import WriteDeadlineExceeded

T = TypeVar("T")

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
SQLITE_BUSY_TIMEOUT_SECONDS = 30.0
WRITE_ATTEMPTS = 5
# Any constant shared by every process: the key of PostgreSQL's advisory lock that lets
# one process at a time migrate or seed (`SELECT pg_advisory_xact_lock(...)`).
ADVISORY_LOCK_KEY = 7_238_104_551
# The deadline of the write transaction this thread is beginning (set by `Database.write`):
# SQLite then waits for another process's write lock only until it.
_write_deadline: ContextVar[float | None] = ContextVar("orders_write_deadline", default=None)


def backend_name(url: str) -> str:
    return make_url(url).get_backend_name()


def create_orders_engine(url: str, *, immediate: bool = False) -> Engine:
    """An engine for the order database; on SQLite `immediate` makes every transaction a
    writer from its first statement (`BEGIN IMMEDIATE`)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(parsed, pool_pre_ping=True, pool_size=10, max_overflow=20)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(parsed, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS})
    begin = "BEGIN IMMEDIATE" if immediate else "BEGIN"

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event (below) emit BEGIN instead of the sqlite3 module.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        deadline = _write_deadline.get()
        wait = SQLITE_BUSY_TIMEOUT_SECONDS
        if deadline is not None:
            wait = max(deadline - time.monotonic(), 0.001)
        connection.exec_driver_sql(f"PRAGMA busy_timeout = {int(wait * 1000) or 1}")
        connection.exec_driver_sql(begin)

    return engine


def take_advisory_lock(target: Session | Connection) -> None:
    """On PostgreSQL, wait until no other process migrates or seeds (until commit)."""
    dialect = target.dialect if isinstance(target, Connection) else target.get_bind().dialect
    if dialect.name == "postgresql":
        target.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK_KEY})


def migrate(url: str) -> None:
    """`alembic upgrade head` on the order database, configured in code (no alembic.ini)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    engine = create_orders_engine(url, immediate=True)
    try:
        with engine.begin() as connection:
            take_advisory_lock(connection)
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    finally:
        engine.dispose()


def _is_sqlite_busy(exc: OperationalError) -> bool:
    message = str(exc.orig).lower()
    return "database is locked" in message or "database is busy" in message


def _is_postgres_timeout(exc: OperationalError) -> bool:
    # lock_timeout -> 55P03 (lock_not_available), statement_timeout -> 57014 (query_canceled)
    return getattr(exc.orig, "sqlstate", None) in {"55P03", "57014"}


class Database:
    """The order database: short read transactions and retried write transactions."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.backend = backend_name(url)
        self._read_engine = create_orders_engine(url)
        self._write_engine = (
            create_orders_engine(url, immediate=True)
            if self.backend == "sqlite"
            else self._read_engine
        )
        self.read_sessions = sessionmaker(self._read_engine, expire_on_commit=False)
        self.write_sessions = sessionmaker(self._write_engine, expire_on_commit=False)

    @contextmanager
    def read(self) -> Iterator[Session]:
        with self.read_sessions.begin() as session:
            yield session

    def write(self, step: Callable[[Session], T], *, deadline: float | None = None) -> T:
        """Run `step` in a write transaction and commit; start again from scratch when a
        unique constraint fires (a concurrent request won) or SQLite stays busy.

        With a `deadline` (a `time.monotonic()` value) it commits before the deadline or
        rolls back and raises `WriteDeadlineExceeded`: never a commit after it."""
        token = _write_deadline.set(deadline)
        try:
            for attempt in range(1, WRITE_ATTEMPTS + 1):
                try:
                    with self.write_sessions.begin() as session:
                        if deadline is not None:
                            self._bound_waits(session, deadline)
                        result = step(session)
                        if deadline is not None and time.monotonic() >= deadline:
                            raise WriteDeadlineExceeded()  # rolls the transaction back
                        return result
                except IntegrityError:
                    if attempt == WRITE_ATTEMPTS:
                        raise
                except OperationalError as exc:
                    if deadline is not None and (
                        _is_postgres_timeout(exc) or time.monotonic() >= deadline
                    ):
                        raise WriteDeadlineExceeded() from exc
                    if attempt == WRITE_ATTEMPTS or not _is_sqlite_busy(exc):
                        raise
                    time.sleep(0.05 * attempt)
            raise AssertionError("unreachable")
        finally:
            _write_deadline.reset(token)

    def _bound_waits(self, session: Session, deadline: float) -> None:
        """On PostgreSQL, no lock wait or statement may outlast the deadline (SQLite's
        wait for the write lock is bounded when the transaction begins)."""
        left_ms = int((deadline - time.monotonic()) * 1000)
        if left_ms <= 0:
            raise WriteDeadlineExceeded()
        if self.backend == "postgresql":
            session.execute(
                text(
                    "SELECT set_config('lock_timeout', :ms, true), "
                    "set_config('statement_timeout', :ms, true)"
                ),
                {"ms": f"{left_ms}ms"},
            )

    def dispose(self) -> None:
        self._read_engine.dispose()
        self._write_engine.dispose()
