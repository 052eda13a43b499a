from __future__ import annotations

from fastapi import APIRouter

from bot.orders.deps import ServiceDep
from bot.orders.routes.docs import NOT_FOUND_RESPONSE
from bot.orders.schemas import OrderNumberOnly, OrderView, OwnerProof, StaffOrderView

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
    responses=NOT_FOUND_RESPONSE,
)
def lookup(body: OwnerProof, service: ServiceDep) -> OrderView:
    return service.lookup(body)


@router.post(
    "/orders/describe",
    summary="An order by its number alone, for the store's support staff",
    description=(
        "For the staff console (an agent answering an e-mail that names an order): no "
        "e-mail proof, so this route must never be reachable by shoppers; the gateway calls "
        "it only for logged-in staff. Adds, for cancel, change and return, whether the "
        "store's rules allow it now (`possible`), the rule's reason and message when not, "
        "and the last day a return stays possible."
    ),
    response_model=StaffOrderView,
    responses=NOT_FOUND_RESPONSE,
)
def describe(body: OrderNumberOnly, service: ServiceDep) -> StaffOrderView:
    return service.describe(body)
