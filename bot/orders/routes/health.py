from __future__ import annotations

from fastapi import APIRouter

from bot.orders.routes.docs import BODY_TOO_LARGE_RESPONSE
from bot.orders.schemas import Health

router = APIRouter(tags=["health"])


@router.get(
    "/healthz",
    summary="Liveness (no token needed)",
    response_model=Health,
    responses=BODY_TOO_LARGE_RESPONSE,
)
def healthz() -> Health:
    return Health()
