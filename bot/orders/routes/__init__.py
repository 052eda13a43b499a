"""The order backend's routes: `/healthz` open, everything under `/v1` behind the bearer token."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from bot.orders.deps import require_token
from bot.orders.routes import admin, cancellations, changes, health, orders, returns, verify
from bot.orders.routes.docs import UNAUTHORIZED_RESPONSE


def v1_router() -> APIRouter:
    router = APIRouter(
        prefix="/v1", dependencies=[Depends(require_token)], responses=UNAUTHORIZED_RESPONSE
    )
    for module in (verify, orders, returns, changes, cancellations, admin):
        router.include_router(module.router)
    return router


__all__ = ["health", "v1_router"]
