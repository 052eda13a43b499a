from __future__ import annotations

from fastapi import APIRouter, Response

from bot.orders.deps import BotCaller, ServiceDep
from bot.orders.routes.docs import (
    KEY_REUSED,
    LOCKED_RESPONSE,
    NOT_FOUND_RESPONSE,
    REPLAY_HEADER,
    REPLAY_HEADERS,
    refusals,
)
from bot.orders.schemas import CancelCreate, Cancelled, problem_example

router = APIRouter(tags=["cancellations"])


@router.post(
    "/orders/cancel",
    summary="Cancel an order that has not shipped yet",
    description="Allowed while the order awaits payment or is in production.",
    response_model=Cancelled,
    responses={
        200: {"description": "Cancelled (or replayed: see the header).", "headers": REPLAY_HEADERS},
        **NOT_FOUND_RESPONSE,
        **LOCKED_RESPONSE,
        **refusals(
            "The order can no longer be cancelled.",
            not_cancellable=problem_example(
                "not_cancellable",
                "This order has already shipped, so it can no longer be cancelled. It can "
                "be returned or exchanged within 30 days of the shipping confirmation.",
                status="delivered",
            ),
            idempotency_key_reused=KEY_REUSED,
        ),
    },
)
def cancel(
    body: CancelCreate, service: ServiceDep, caller: BotCaller, response: Response
) -> Cancelled:
    record, created = service.cancel(body, caller)
    response.headers[REPLAY_HEADER] = "false" if created else "true"
    return record
