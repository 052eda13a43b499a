"""The order backend's FastAPI application, built by `create_app(settings)`."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from bot.orders.db import Database, migrate
from bot.orders.errors import install_error_handlers
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
"""


def utc_now() -> datetime:
    return datetime.now(UTC)


def create_app(
    settings: Settings, *, clock: Clock | None = None, run_migrations: bool = True
) -> FastAPI:
    """The app over `settings.orders_database_url`; it migrates on startup unless told not
    to (`runner.serve` migrates before binding the port). `clock` is for tests."""
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
    app.state.service = OrderService(db, app.state.clock)

    @app.middleware("http")
    async def limit_body_size(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > MAX_BODY_BYTES):
            return JSONResponse(status_code=413, content={"detail": "request body too large"})
        return await call_next(request)

    install_error_handlers(app)
    app.include_router(health.router)
    app.include_router(v1_router())
    app.include_router(staff_router())
    return app
