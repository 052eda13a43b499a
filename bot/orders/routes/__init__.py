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
from bot.orders.routes.docs import COMMON_RESPONSES


def v1_router() -> APIRouter:
    router = APIRouter(
        prefix="/v1", dependencies=[Depends(require_token)], responses=COMMON_RESPONSES
    )
    for module in (verify, orders, returns, changes, cancellations, admin):
        router.include_router(module.router)
    return router


def staff_router() -> APIRouter:
    """`/v1/staff/...`: the staff console's routes, behind ORDERS_STAFF_TOKEN."""
    router = APIRouter(
        prefix="/v1", dependencies=[Depends(require_staff_token)], responses=COMMON_RESPONSES
    )
    router.include_router(staff.router)
    return router


__all__ = ["health", "staff_router", "v1_router"]
