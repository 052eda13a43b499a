"""The order backend's FastAPI application, built by `create_app(settings)`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from bot.orders import rules
from bot.orders.db import Database, migrate
from bot.orders.errors import BodySizeLimit, install_error_handlers
from bot.orders.guessing import GuessingGuard
from bot.orders.routes import health, staff_router, v1_router
from bot.orders.service import Clock, OrderService
from bot.settings import Settings

MAX_BODY_BYTES = 64 * 1024

DESCRIPTION = """\
Orders of the KNT store and the store's rules about them: one change per order, cancel
before shipping, return or exchange within 30 days of the shipping confirmation.

Every `/v1` route needs `Authorization: Bearer <ORDERS_API_TOKEN>`. Every request names
the order by its number **and** the e-mail address on it; a mismatch is always the same
404. Refusals are `409 {"detail": {"reason": ..., "message": ...}}`. Creates take an
`idempotency_key`: repeating a request with the same key returns the same record.

Failed ownership checks are counted per e-mail address, order number and client
(`X-Shopper-IP`, `X-Shopper-Session`); past the limit, checks for them are refused with
`429 verification_locked` without being evaluated. A write commits within the backend's
deadline (shorter than the client's timeout) or not at all: `503 write_deadline_exceeded`.
"""


def check_settings(settings: Settings) -> None:
    """Refuse settings under which a client could give up on a write that then happens."""
    deadline, timeout = settings.orders_write_deadline_seconds, settings.orders_timeout_seconds
    if not 0 < deadline < timeout:
        raise ValueError(
            f"ORDERS_WRITE_DEADLINE_SECONDS ({deadline:g}) must be above 0 and shorter than "
            f"ORDERS_TIMEOUT_SECONDS ({timeout:g}), the time the action server waits for the "
            "order backend: otherwise a write could complete after the shopper was told it "
            "did not. E.g. set ORDERS_WRITE_DEADLINE_SECONDS to 2 with a timeout of 3."
        )
    if settings.verify_failure_limit < 1 or settings.verify_failure_window_seconds <= 0:
        raise ValueError(
            "VERIFY_FAILURE_LIMIT must be at least 1 and VERIFY_FAILURE_WINDOW_SECONDS above "
            f"0 (got {settings.verify_failure_limit} and "
            f"{settings.verify_failure_window_seconds:g})."
        )


def utc_now() -> datetime:
    return datetime.now(UTC)


def create_app(
    settings: Settings, *, clock: Clock | None = None, run_migrations: bool = True
) -> FastAPI:
    """The app over `settings.orders_database_url`; it migrates on startup unless told not
    to (`runner.serve` migrates before binding the port). `clock` is for tests."""
    check_settings(settings)
    db = Database(settings.orders_database_url)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if run_migrations:
            await run_in_threadpool(migrate, settings.orders_database_url)
        try:
            yield
        finally:
            db.dispose()

    app = FastAPI(
        title="KNT order backend",
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        openapi_tags=[
            {"name": "orders", "description": "Prove an order is the shopper's; look it up."},
            {"name": "returns", "description": "Returns and exchanges (RMA)."},
            {"name": "changes", "description": "The one change an order allows."},
            {"name": "cancellations", "description": "Cancel before shipping."},
            {"name": "admin", "description": "Demo data."},
            {"name": "staff", "description": "The staff console's view of any order."},
            {"name": "health", "description": "Liveness."},
        ],
    )
    app.state.settings = settings
    app.state.db = db
    app.state.clock = clock or utc_now
    guard = GuessingGuard(
        db,
        app.state.clock,
        limit=settings.verify_failure_limit,
        window_seconds=settings.verify_failure_window_seconds,
        support_email=settings.support_email,
    )
    app.state.service = OrderService(
        db, app.state.clock, guard, rules.Policy.from_settings(settings)
    )
    app.add_middleware(BodySizeLimit, limit=MAX_BODY_BYTES)
    install_error_handlers(app)
    app.include_router(health.router)
    app.include_router(v1_router())
    app.include_router(staff_router())
    return app
