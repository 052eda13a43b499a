from __future__ import annotations

from fastapi import APIRouter

from bot.orders.deps import BotCaller, ServiceDep
from bot.orders.routes.docs import LOCKED_RESPONSE, NOT_FOUND_RESPONSE
from bot.orders.schemas import OrderView, OwnerProof

router = APIRouter(tags=["orders"])


@router.post(
    "/orders/lookup",
    summary="An order's status, items, payment, shipment and what can still be done",
    description=(
        "Needs the order number and the e-mail on the order (a POST, so neither ends up in "
        "access logs). `crafting_eta` is 3-5 weeks from the order date while not shipped "
        "(null while in-house finance is less than half paid); `return_window_ends` is the "
        "shipping confirmation + 30 days; `cancellable`, `changeable` and `returnable` "
        "apply the store's rules as of now."
    ),
    response_model=OrderView,
    responses={**NOT_FOUND_RESPONSE, **LOCKED_RESPONSE},
)
def lookup(body: OwnerProof, service: ServiceDep, caller: BotCaller) -> OrderView:
    return service.lookup(body, caller)
