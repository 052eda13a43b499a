"""Rows -> the API's response bodies."""

from __future__ import annotations

from datetime import datetime

from bot.orders import rules
from bot.orders.domain import ReturnKind, ReturnStatus
from bot.orders.models import Cancellation, ChangeRequest, Order, ReturnRequest
from bot.orders.repository import facts_of
from bot.orders.schemas import (
    Cancelled,
    ChangeCreated,
    ChangeView,
    CraftingEta,
    ItemView,
    OpenReturn,
    OrderView,
    PaymentView,
    PossibilityView,
    ReturnCreated,
    ShipmentView,
    StaffOrderView,
)


def order_view(order: Order, now: datetime, policy: rules.Policy = rules.POLICY) -> OrderView:
    facts = facts_of(order)
    eta = rules.crafting_eta(facts, policy)
    payment, shipment, change = order.payment, order.shipment, order.change_request
    return OrderView(
        order_number=order.order_number,
        status=facts.status.value,
        placed_at=order.placed_at,
        items=[
            ItemView(
                id=i.id,
                product=i.product,
                gemstone=i.gemstone,
                metal=i.metal,
                ring_size=i.ring_size,
            )
            for i in order.items
        ],
        payment=PaymentView(
            method=facts.payment_method.value,
            provider=payment.provider,
            parts_total=payment.parts_total,
            parts_paid=payment.parts_paid,
        )
        if payment
        else None,
        shipment=ShipmentView(
            carrier=shipment.carrier,
            tracking_number=shipment.tracking_number,
            shipped_at=shipment.shipped_at,
            delivered_at=shipment.delivered_at,
        )
        if shipment
        else None,
        change_used=facts.change_used,
        change_request=ChangeView(
            request_number=change.request_number,
            item_id=change.item_id,
            attribute=change.attribute,
            old_value=change.old_value,
            new_value=change.new_value,
            status=change.status,
            created_at=change.created_at,
        )
        if change
        else None,
        crafting_eta=CraftingEta(earliest=eta[0], latest=eta[1]) if eta else None,
        return_window_ends=(
            rules.return_window_ends(shipment.shipped_at, policy) if shipment else None
        ),
        open_returns=[
            OpenReturn(
                rma_number=r.rma_number,
                item_id=r.item_id,
                kind=ReturnKind(r.kind).value,
                status=r.status,
                exchange_size=r.exchange_size,
                created_at=r.created_at,
            )
            for r in order.return_requests
            if r.status == ReturnStatus.OPEN
        ],
        cancellable=rules.is_cancellable(facts),
        changeable=rules.is_changeable(facts),
        returnable=rules.is_returnable(facts, now, policy),
        return_window_days=policy.return_window_days,
        possible={
            name: PossibilityView(
                possible=p.possible, reason=p.reason, message=p.message, until=p.until
            )
            for name, p in rules.possibilities(facts, now, policy).items()
        },
    )


def staff_order_view(
    order: Order, now: datetime, policy: rules.Policy = rules.POLICY
) -> StaffOrderView:
    return StaffOrderView(**order_view(order, now, policy).model_dump())


def return_created(record: ReturnRequest, policy: rules.Policy = rules.POLICY) -> ReturnCreated:
    kind = ReturnKind(record.kind)
    return ReturnCreated(
        rma_number=record.rma_number,
        order_number=record.order.order_number,
        item_id=record.item_id,
        kind=kind.value,
        status=record.status,
        exchange_size=record.exchange_size,
        created_at=record.created_at,
        label_within_business_days=policy.label_within_business_days,
        refund_within_days=policy.refund_within_days if kind is ReturnKind.RETURN else None,
    )


def change_created(record: ChangeRequest) -> ChangeCreated:
    return ChangeCreated(
        request_number=record.request_number,
        order_number=record.order.order_number,
        item_id=record.item_id,
        attribute=record.attribute,
        old_value=record.old_value,
        new_value=record.new_value,
        status=record.status,
        created_at=record.created_at,
    )


def cancelled(record: Cancellation) -> Cancelled:
    return Cancelled(
        cancellation_number=record.cancellation_number,
        order_number=record.order.order_number,
        created_at=record.created_at,
    )
