"""The order backend's vocabulary: statuses, kinds, the facts the rules read, refusals."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class ActorKind(StrEnum):
    """Who acted, by the token they hold (written to every audit row)."""

    BOT = "bot"  # the action server: ORDERS_API_TOKEN
    AGENT = "agent"  # the staff console (through the gateway): ORDERS_STAFF_TOKEN
    ADMIN = "admin"  # the demo seed (`bot orders seed`, /v1/admin/seed)


@dataclass(frozen=True)
class Caller:
    """Who asks: named in the audit log (`kind`, `actor`); the shopper's client as the
    action server passes it on (`client_ip`, `session`), for counting failed ownership
    checks; and `deadline`, the `time.monotonic()` by which a write must have committed."""

    kind: ActorKind
    actor: str
    client_ip: str | None = None
    session: str | None = None
    deadline: float | None = None


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


def key_reused() -> Refused:
    """A create whose idempotency key was already used for a different request."""
    return Refused(
        "idempotency_key_reused",
        "This idempotency key was already used for a different request; use a new key.",
    )


class NotFound(Exception):
    """No order matches the number and e-mail given (never says which part was wrong)."""

    reason = "not_found"
    message = "No order matches these details."

    def detail(self) -> dict[str, Any]:
        return {"reason": self.reason, "message": self.message}


class VerificationLocked(Exception):
    """Too many failed ownership checks for this e-mail address, order or client: HTTP 429.
    The check was not evaluated, so even the right pair gets this answer."""

    reason = "verification_locked"

    def __init__(self, message: str, locked: tuple[str, ...]) -> None:
        super().__init__(message)
        self.message = message
        self.locked = locked  # which counts are over the limit: "email", "order", "ip", ...

    def detail(self) -> dict[str, Any]:
        # Deliberately not `locked`: the answer must not say which part was guessed.
        return {"reason": self.reason, "message": self.message}


class WriteDeadlineExceeded(Exception):
    """A write could not commit within ORDERS_WRITE_DEADLINE_SECONDS and was rolled back:
    HTTP 503. The client has not given up yet, so it can trust that nothing was written."""

    reason = "write_deadline_exceeded"
    message = (
        "The order system could not save this in time, so nothing was saved. "
        "Try again in a moment with the same idempotency key."
    )

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
