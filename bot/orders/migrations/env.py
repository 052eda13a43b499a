"""Alembic environment of the order backend.

`bot.orders.db.migrate(url)` passes an open connection in `config.attributes`; the
`alembic` command line works too, given `-x url=...` or `sqlalchemy.url`.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from bot.orders.db import create_orders_engine
from bot.orders.models import Base

target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _url() -> str:
    url = context.get_x_argument(as_dictionary=True).get("url") or context.config.get_main_option(
        "sqlalchemy.url"
    )
    if not url:
        raise RuntimeError("no database URL: pass -x url=... or use bot.orders.db.migrate(url)")
    return url


def main() -> None:
    if context.is_offline_mode():
        context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = create_orders_engine(_url(), immediate=True)
    try:
        with engine.begin() as conn:
            _run(conn)
    finally:
        engine.dispose()


main()
