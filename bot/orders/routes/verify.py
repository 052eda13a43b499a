from __future__ import annotations

from fastapi import APIRouter

from bot.orders.deps import BotCaller, ServiceDep
from bot.orders.routes.docs import LOCKED_RESPONSE
from bot.orders.schemas import OwnerProof, Verification

router = APIRouter(tags=["orders"])


@router.post(
    "/verify",
    summary="Check that an order number and an e-mail address belong together",
    description=(
        "The order number is normalised (`knt1001`, `1001`, `#1001` -> `KNT-1001`); the "
        "e-mail is compared trimmed and case-insensitively. A mismatch answers only "
        '`{"verified": false}`: never which part was wrong. A mismatch counts as a failed '
        "check (see 429)."
    ),
    response_model=Verification,
    response_model_exclude_none=True,
    responses=LOCKED_RESPONSE,
)
def verify(body: OwnerProof, service: ServiceDep, caller: BotCaller) -> Verification:
    number = service.verify(body, caller)
    return (
        Verification(verified=True, order_number=number) if number else Verification(verified=False)
    )
