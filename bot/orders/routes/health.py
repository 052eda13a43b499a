from __future__ import annotations

from fastapi import APIRouter

from bot.orders.schemas import Health

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Liveness (no token needed)", response_model=Health)
def healthz() -> Health:
    return Health()
