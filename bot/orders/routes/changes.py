from __future__ import annotations

from fastapi import APIRouter, Response, status

from bot.orders.deps import BotCaller, ServiceDep
from bot.orders.routes.docs import (
    KEY_REUSED,
    LOCKED_RESPONSE,
    NOT_FOUND_RESPONSE,
    REPLAY_HEADER,
    REPLAY_HEADERS,
    refusals,
)
from bot.orders.schemas import ChangeCreate, ChangeCreated, problem_example

router = APIRouter(tags=["changes"])


@router.post(
    "/orders/changes",
    summary="Request the order's one change: gemstone, metal or ring size of one item",
    description=(
        "One change per order, to a single item, before it ships. The new value must be in "
        "the catalogue (case and spacing are ignored; ring size `7.0` is `7`); a refusal "
        "for an unknown value lists the allowed ones."
    ),
    status_code=status.HTTP_201_CREATED,
    response_model=ChangeCreated,
    responses={
        201: {"description": "Created (or replayed: see the header).", "headers": REPLAY_HEADERS},
        **NOT_FOUND_RESPONSE,
        **LOCKED_RESPONSE,
        **refusals(
            "The store's rules refuse it; `reason` says which rule.",
            change_already_used=problem_example(
                "change_already_used", "This order's one allowed change has already been used."
            ),
            order_shipped=problem_example(
                "order_shipped",
                "This order has already shipped, so it can no longer be changed.",
                status="shipped",
            ),
            invalid_value=problem_example(
                "invalid_value",
                "'titanium' is not a metal we offer.",
                attribute="metal",
                allowed=["white gold", "yellow gold", "rose gold", "platinum"],
            ),
            invalid_attribute=problem_example(
                "invalid_attribute",
                "Only the gemstone, the metal or the ring size of an item can be changed.",
                allowed=["gemstone", "metal", "ring_size"],
            ),
            idempotency_key_reused=KEY_REUSED,
        ),
    },
)
def create_change(
    body: ChangeCreate, service: ServiceDep, caller: BotCaller, response: Response
) -> ChangeCreated:
    record, created = service.create_change(body, caller)
    response.headers[REPLAY_HEADER] = "false" if created else "true"
    return record
