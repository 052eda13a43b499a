"""Alembic environment of the app database (transcripts, staff, unanswered questions).

`bot.db.migrate_app_db(url)` passes an open connection in `config.attributes`; the
`alembic` command line works too, given `-x url=...`.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine

from bot.db import app_metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=app_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def main() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = context.get_x_argument(as_dictionary=True).get("url")
    if not url:
        raise RuntimeError("no database URL: pass -x url=... or use bot.db.migrate_app_db(url)")
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            _run(conn)
    finally:
        engine.dispose()


main()
