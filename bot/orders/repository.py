"""Queries of the order database, and the facts the rules read from its rows."""

from __future__ import annotations

import hashlib
import json
import secrets
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from bot.orders import normalize
from bot.orders.domain import (
    Caller,
    ItemFacts,
    OrderFacts,
    OrderStatus,
    PaymentMethod,
    ReturnStatus,
)
from bot.orders.models import (
    AuditEntry,
    Cancellation,
    ChangeRequest,
    Customer,
    Order,
    ReturnRequest,
)

Keyed = TypeVar("Keyed", ReturnRequest, ChangeRequest, Cancellation)

# Unambiguous when read aloud or typed from an e-mail: no 0/O, 1/I/L.
_NUMBER_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"


def new_number(prefix: str) -> str:
    """ "RMA-7KQ2M9XD": a prefix and 8 random characters (a clash is retried by the caller)."""
    return f"{prefix}-{''.join(secrets.choice(_NUMBER_ALPHABET) for _ in range(8))}"


def fingerprint(operation: str, fields: dict[str, Any]) -> str:
    """Hash of a request's normalised body: tells a replay from a reused idempotency key."""
    payload = json.dumps({"op": operation, **fields}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def owned_order(
    session: Session, order_number: str, email: str, *, for_update: bool = False
) -> Order | None:
    """The order with this number whose customer has this e-mail, with everything the view
    and the rules need; `for_update` locks the order's row until commit (PostgreSQL)."""
    return _order(session, order_number, email, for_update=for_update)


def order_by_number(session: Session, order_number: str) -> Order | None:
    """The order with this number, whoever it belongs to (for the store's staff only)."""
    return _order(session, order_number, None)


def _order(
    session: Session, order_number: str, email: str | None, *, for_update: bool = False
) -> Order | None:
    number = normalize.order_number(order_number)
    if number is None:
        return None
    query = select(Order).where(Order.order_number == number)
    if email is not None:
        query = query.join(Order.customer).where(Customer.email == normalize.email(email))
    query = query.options(
        selectinload(Order.items),
        selectinload(Order.payment),
        selectinload(Order.shipment),
        selectinload(Order.return_requests),
        selectinload(Order.change_request),
    )
    if for_update:
        query = query.with_for_update(of=Order)
    return session.scalars(query).one_or_none()


def by_idempotency_key(session: Session, model: type[Keyed], key: str) -> Keyed | None:
    return session.scalars(select(model).where(model.idempotency_key == key)).one_or_none()


def audit(
    session: Session,
    *,
    when: datetime,
    action: str,
    order_number: str | None,
    caller: Caller,
    details: dict[str, Any],
) -> None:
    session.add(
        AuditEntry(
            created_at=when,
            action=action,
            order_number=order_number,
            actor=caller.actor,
            actor_kind=caller.kind.value,
            details=details,
        )
    )


def facts_of(order: Order) -> OrderFacts:
    open_rma = {
        r.item_id: r.rma_number for r in order.return_requests if r.status == ReturnStatus.OPEN
    }
    payment = order.payment
    return OrderFacts(
        order_number=order.order_number,
        status=OrderStatus(order.status),
        placed_at=order.placed_at,
        items=tuple(
            ItemFacts(
                id=i.id,
                gemstone=i.gemstone,
                metal=i.metal,
                ring_size=i.ring_size,
                open_rma_number=open_rma.get(i.id),
            )
            for i in order.items
        ),
        payment_method=PaymentMethod(payment.method) if payment else PaymentMethod.CARD,
        parts_total=payment.parts_total if payment else None,
        parts_paid=payment.parts_paid if payment else None,
        shipped_at=order.shipment.shipped_at if order.shipment else None,
        change_used=order.change_request is not None,
    )
