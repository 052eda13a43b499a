"""Start the order backend, or seed its demo orders: what `bot orders ...` calls."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.orders.db import Database, migrate
from bot.orders.seed import SeedResult, seed
from bot.settings import Settings


def serve(settings: Settings) -> None:
    """Migrate the order database, then serve the API on ORDERS_HOST:ORDERS_PORT."""
    import uvicorn

    from bot.orders.app import check_settings, create_app
    from bot.staff.redact import install_log_redaction

    try:
        check_settings(settings)  # before migrating: nothing is touched
    except ValueError as exc:
        raise SystemExit(f"error: {exc}") from None
    # This process never logs what shoppers typed (no access log, no request bodies), so
    # the patterns and the name cues suffice here, without loading spaCy's NER.
    install_log_redaction()
    migrate(settings.orders_database_url)
    uvicorn.run(
        create_app(settings, run_migrations=False),
        host=settings.orders_host,
        port=settings.orders_port,
        log_level="info",
        access_log=False,
    )


def seed_demo(settings: Settings) -> SeedResult:
    """Migrate, then write the demo orders if the database has none."""
    if settings.environment != "local":
        raise RuntimeError("demo orders are seeded only when ENVIRONMENT is 'local'")
    migrate(settings.orders_database_url)
    db = Database(settings.orders_database_url)
    try:
        return seed(db.write_sessions, datetime.now(UTC).date())
    finally:
        db.dispose()


def seed_command(settings: Settings) -> int:
    """`bot orders seed`: prints what it did; the exit code (0 or 1) is returned."""
    try:
        result = seed_demo(settings)
    except RuntimeError as exc:
        print(f"error: {exc}")
        return 1
    print(result.message)
    return 0
