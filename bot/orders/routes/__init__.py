"""The order backend's routes: `/healthz` open, everything under `/v1` behind the bearer token."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from bot.orders.deps import require_staff_token, require_token
from bot.orders.routes import (
    admin,
    cancellations,
    changes,
    health,
    orders,
    returns,
    staff,
    verify,
)
from bot.orders.routes.docs import UNAUTHORIZED_RESPONSE


def v1_router() -> APIRouter:
    router = APIRouter(
        prefix="/v1", dependencies=[Depends(require_token)], responses=UNAUTHORIZED_RESPONSE
    )
    for module in (verify, orders, returns, changes, cancellations, admin):
        router.include_router(module.router)
    return router


def staff_router() -> APIRouter:
    """`/v1/staff/...`: the staff console's routes, behind ORDERS_STAFF_TOKEN."""
    router = APIRouter(
        prefix="/v1", dependencies=[Depends(require_staff_token)], responses=UNAUTHORIZED_RESPONSE
    )
    router.include_router(staff.router)
    return router


__all__ = ["health", "staff_router", "v1_router"]
