"""The order backend's vocabulary: statuses, kinds, the facts the rules read, refusals."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class OrderStatus(StrEnum):
    AWAITING_PAYMENT = "awaiting_payment"
    IN_PRODUCTION = "in_production"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"


class PaymentMethod(StrEnum):
    CARD = "card"
    BNPL = "bnpl"
    IN_HOUSE = "in_house"


class ReturnKind(StrEnum):
    RETURN = "return"
    EXCHANGE = "exchange"


class ReturnStatus(StrEnum):
    OPEN = "open"
    COMPLETED = "completed"
    WITHDRAWN = "withdrawn"


class ChangeAttribute(StrEnum):
    GEMSTONE = "gemstone"
    METAL = "metal"
    RING_SIZE = "ring_size"


class ChangeStatus(StrEnum):
    REQUESTED = "requested"
    APPLIED = "applied"


BEFORE_SHIPPING = frozenset({OrderStatus.AWAITING_PAYMENT, OrderStatus.IN_PRODUCTION})
AFTER_SHIPPING = frozenset({OrderStatus.SHIPPED, OrderStatus.DELIVERED})


@dataclass(frozen=True)
class ItemFacts:
    id: int
    gemstone: str | None
    metal: str | None
    ring_size: str | None
    open_rma_number: str | None = None  # the item's open return, if any

    def value_of(self, attribute: ChangeAttribute) -> str | None:
        return {
            ChangeAttribute.GEMSTONE: self.gemstone,
            ChangeAttribute.METAL: self.metal,
            ChangeAttribute.RING_SIZE: self.ring_size,
        }[attribute]


@dataclass(frozen=True)
class OrderFacts:
    """What the rules need to know about an order, without a database or HTTP."""

    order_number: str
    status: OrderStatus
    placed_at: datetime
    items: tuple[ItemFacts, ...]
    payment_method: PaymentMethod = PaymentMethod.CARD
    parts_total: int | None = None
    parts_paid: int | None = None
    shipped_at: datetime | None = None
    change_used: bool = False

    def item(self, item_id: int) -> ItemFacts | None:
        return next((i for i in self.items if i.id == item_id), None)


class Refused(Exception):
    """The store's rules refuse the request: HTTP 409 with a machine reason and a sentence."""

    def __init__(self, reason: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.extra = extra

    def detail(self) -> dict[str, Any]:
        return {"reason": self.reason, "message": self.message, **self.extra}


class NotFound(Exception):
    """No order matches the number and e-mail given (never says which part was wrong)."""

    reason = "not_found"
    message = "No order matches these details."

    def detail(self) -> dict[str, Any]:
        return {"reason": self.reason, "message": self.message}


@dataclass(frozen=True)
class ChangePlan:
    item_id: int
    attribute: ChangeAttribute
    old_value: str | None
    new_value: str


@dataclass(frozen=True)
class ReturnPlan:
    item_id: int
    kind: ReturnKind
    exchange_size: str | None = field(default=None)
