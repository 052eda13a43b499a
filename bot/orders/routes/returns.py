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
from bot.orders.schemas import ReturnCreate, ReturnCreated, problem_example

router = APIRouter(tags=["returns"])


@router.post(
    "/orders/returns",
    summary="Start a return or an exchange of one item",
    description=(
        "Allowed once the order has shipped, until 30 days after the shipping confirmation "
        "(day 30 included), with one open return per item. An exchange of a ring needs "
        "`exchange_size`. The answer carries the RMA number; an insured label follows within "
        "1-2 business days, a refund within 14 days after the item is received and inspected."
    ),
    status_code=status.HTTP_201_CREATED,
    response_model=ReturnCreated,
    responses={
        201: {"description": "Created (or replayed: see the header).", "headers": REPLAY_HEADERS},
        **NOT_FOUND_RESPONSE,
        **LOCKED_RESPONSE,
        **refusals(
            "The store's rules refuse it; `reason` says which rule.",
            outside_return_window=problem_example(
                "outside_return_window",
                "Returns and exchanges are possible within 30 days of the shipping "
                "confirmation; for this order that was until 2026-10-27.",
                window_ended_on="2026-10-27",
            ),
            not_shipped=problem_example(
                "not_shipped",
                "This order has not shipped yet. While it is in production it can be "
                "changed or cancelled instead.",
                status="in_production",
            ),
            return_already_open=problem_example(
                "return_already_open",
                "A return for this item is already open (RMA-7KQ2M9XD).",
                rma_number="RMA-7KQ2M9XD",
            ),
            exchange_size_required=problem_example(
                "exchange_size_required",
                "An exchange of a ring needs the ring size to exchange it for.",
                allowed=["3", "3.5", "4"],
            ),
            idempotency_key_reused=KEY_REUSED,
        ),
    },
)
def create_return(
    body: ReturnCreate, service: ServiceDep, caller: BotCaller, response: Response
) -> ReturnCreated:
    record, created = service.create_return(body, caller)
    response.headers[REPLAY_HEADER] = "false" if created else "true"
    return record
