"""The app database (transcripts, staff, unanswered questions): engines built once per
URL, never at import, and its schema brought up to date by Alembic migrations.

The tables are declared on `app_metadata` by the modules that own them
(bot/gateway/transcripts.py, bot/staff/tables.py, bot/faq/unanswered.py); the migrations
in bot/migrations/ create them, and a test checks the two agree.
"""

from __future__ import annotations

import threading
from functools import lru_cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, MetaData, create_engine, event, make_url, text

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# Shared by every process that migrates the app database: PostgreSQL's advisory lock
# lets one of them at a time run the migrations (the others then find nothing to do).
ADVISORY_LOCK_KEY = 7_238_104_552

app_metadata = MetaData()


@lru_cache(maxsize=8)
def get_engine(url: str) -> Engine:
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(conn, _record):  # type: ignore[no-untyped-def]
            # WAL lets the action server write while other processes read. synchronous=NORMAL
            # (safe in WAL mode; only a power cut may lose the last commits) makes a commit
            # ~1 ms instead of ~5 ms: the gateway commits three times per message.
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA synchronous=NORMAL")

        return engine
    return create_engine(url, pool_pre_ping=True)


_migrated: set[str] = set()
_migrate_lock = threading.Lock()


def migrate_app_db(url: str) -> None:
    """`alembic upgrade head` on the app database, once per process and URL.

    The gateway and the action server both call it at start; on SQLite the migration runs
    in one `BEGIN IMMEDIATE` transaction and on PostgreSQL under an advisory lock, so when
    they start together one migrates and the other then finds the schema current.
    """
    with _migrate_lock:
        if url in _migrated:
            return
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
        engine = _migration_engine(url)
        try:
            with engine.begin() as connection:
                if connection.dialect.name == "postgresql":
                    connection.execute(
                        text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK_KEY}
                    )
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
        finally:
            engine.dispose()
        _migrated.add(url)


def _migration_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(parsed)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(parsed, connect_args={"timeout": 30})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):  # type: ignore[no-untyped-def]
        dbapi_connection.isolation_level = None  # SQLAlchemy's "begin" below emits BEGIN
        dbapi_connection.execute("PRAGMA journal_mode=WAL")

    @event.listens_for(engine, "begin")
    def _on_begin(connection):  # type: ignore[no-untyped-def]
        # Take the write lock first: two processes migrating at once queue here.
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine
