"""Routes for the store's support staff (the gateway's console), behind their own token."""

from __future__ import annotations

from fastapi import APIRouter, BackgroundTasks

from bot.orders.deps import AgentCaller, ServiceDep
from bot.orders.routes.docs import NOT_FOUND_RESPONSE
from bot.orders.schemas import OrderNumberOnly, StaffOrderView

router = APIRouter(prefix="/staff", tags=["staff"])


@router.post(
    "/orders/describe",
    summary="An order by its number alone, for the store's support staff",
    description=(
        "For the staff console (an agent answering a shopper or an e-mail about an order): "
        "no e-mail proof, so it needs `ORDERS_STAFF_TOKEN`, which only the gateway holds "
        "(never the action server). Every call is written to the audit log with the "
        "`X-Actor` header (the agent). Adds, for cancel, change and return, whether the "
        "store's rules allow it now (`possible`), the rule's reason and message when not, "
        "and the last day a return stays possible."
    ),
    response_model=StaffOrderView,
    responses=NOT_FOUND_RESPONSE,
)
def describe(
    body: OrderNumberOnly, service: ServiceDep, caller: AgentCaller, background: BackgroundTasks
) -> StaffOrderView:
    view = service.describe(body)
    # Written right after the answer is sent: a commit costs the agent ~30 ms otherwise.
    background.add_task(service.audit_view, view.order_number, caller)
    return view
