"""Request and response bodies of the order backend's HTTP API (pydantic 2)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, StringConstraints, model_validator

OrderNumberText = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=32),
    Field(description='As the shopper typed it: "KNT-1001", "knt1001", "#1001" or "1001".'),
]
EmailText = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=3, max_length=254),
    Field(description="The e-mail address on the order; compared trimmed and case-insensitively."),
]
IdempotencyKey = Annotated[
    str,
    StringConstraints(min_length=8, max_length=128, pattern=r"^[\x21-\x7e]+$"),
    Field(
        description=(
            "Chosen by the client, one per intended request (e.g. a UUID). Sending the same "
            "key and body again returns the same record; the same key with another body "
            "is refused (409 idempotency_key_reused)."
        )
    ),
]
ItemId = Annotated[int, Field(ge=1, le=2_147_483_647, description="`items[].id` of the order.")]

_OWNER_EXAMPLE: dict[str, JsonValue] = {"order_number": "KNT-1001", "email": "ava@example.com"}


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OwnerProof(Request):
    """Order number plus the e-mail address on the order: proof that it is the shopper's."""

    model_config = ConfigDict(json_schema_extra={"examples": [_OWNER_EXAMPLE]})

    order_number: OrderNumberText
    email: EmailText


class ReturnCreate(OwnerProof):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "order_number": "KNT-1002",
                    "email": "ben@example.com",
                    "item_id": 2,
                    "kind": "exchange",
                    "reason": "The ring is a little tight.",
                    "exchange_size": "7.5",
                    "idempotency_key": "3f6c1a52-5b0e-4c1e-9a54-1d2f0c8b7e61",
                }
            ]
        }
    )

    item_id: ItemId
    kind: Literal["return", "exchange"]
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1000)]
    exchange_size: Annotated[
        str | None,
        StringConstraints(strip_whitespace=True, max_length=16),
        Field(
            description='For an exchange of a ring: the ring size wanted (e.g. "7.5"); '
            "ignored for a return."
        ),
    ] = None
    idempotency_key: IdempotencyKey

    @model_validator(mode="after")
    def _exchange_size_only_for_exchanges(self) -> ReturnCreate:
        # A plain return has no size: a size sent anyway (e.g. a stale slot) is ignored.
        if self.kind == "return" or not self.exchange_size:
            self.exchange_size = None
        return self


class ChangeCreate(OwnerProof):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    **_OWNER_EXAMPLE,
                    "item_id": 1,
                    "attribute": "metal",
                    "new_value": "rose gold",
                    "idempotency_key": "b0a7e5d4-77d8-4d52-8d2e-7e0f2f6f9a10",
                }
            ]
        }
    )

    item_id: ItemId
    attribute: Annotated[
        str,
        StringConstraints(strip_whitespace=True, min_length=1, max_length=32),
        Field(description="gemstone, metal or ring_size."),
    ]
    new_value: Annotated[
        str,
        StringConstraints(strip_whitespace=True, min_length=1, max_length=64),
        Field(description='A catalogue value (case and spacing do not matter; "7.0" = "7").'),
    ]
    idempotency_key: IdempotencyKey


class CancelCreate(OwnerProof):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {**_OWNER_EXAMPLE, "idempotency_key": "9d1c2b8e-0f4a-4e7b-b1f3-5a6c7d8e9f00"}
            ]
        }
    )

    idempotency_key: IdempotencyKey


# --- responses -------------------------------------------------------------------------


class Health(BaseModel):
    status: Literal["ok"] = "ok"


class Verification(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"verified": True, "order_number": "KNT-1001"}, {"verified": False}]
        }
    )

    verified: bool
    order_number: str | None = Field(None, description="Only when verified.")


class ItemView(BaseModel):
    id: int
    product: str
    gemstone: str | None
    metal: str
    ring_size: str | None


class PaymentView(BaseModel):
    method: Literal["card", "bnpl", "in_house"]
    provider: str | None = Field(description="The buy-now-pay-later provider, e.g. Klarna.")
    parts_total: int | None = Field(description="In-house finance: number of parts (3).")
    parts_paid: int | None


class ShipmentView(BaseModel):
    carrier: str
    tracking_number: str
    shipped_at: datetime = Field(
        description="The shipping confirmation: the return window starts here."
    )
    delivered_at: datetime | None


class CraftingEta(BaseModel):
    earliest: date
    latest: date


class OpenReturn(BaseModel):
    rma_number: str
    item_id: int
    kind: Literal["return", "exchange"]
    status: str
    exchange_size: str | None
    created_at: datetime


class ChangeView(BaseModel):
    request_number: str
    item_id: int
    attribute: str
    old_value: str | None
    new_value: str
    status: str
    created_at: datetime


class PossibilityView(BaseModel):
    possible: bool
    reason: str | None = Field(description="The rule's machine-readable reason when not.")
    message: str | None = Field(description="The rule's own explanation when not.")
    until: date | None = Field(description="Last day it stays possible, where a date decides.")


class OrderView(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "order_number": "KNT-1001",
                    "status": "in_production",
                    "placed_at": "2026-11-21T12:00:00Z",
                    "items": [
                        {
                            "id": 1,
                            "product": "Sapphire Halo Engagement Ring",
                            "gemstone": "sapphire",
                            "metal": "white gold",
                            "ring_size": "6",
                        }
                    ],
                    "payment": {
                        "method": "card",
                        "provider": None,
                        "parts_total": None,
                        "parts_paid": None,
                    },
                    "shipment": None,
                    "change_used": False,
                    "change_request": None,
                    "crafting_eta": {"earliest": "2026-12-12", "latest": "2026-12-26"},
                    "return_window_ends": None,
                    "open_returns": [],
                    "cancellable": True,
                    "changeable": True,
                    "returnable": False,
                    "return_window_days": 30,
                    "possible": {
                        "cancel": {
                            "possible": True,
                            "reason": None,
                            "message": None,
                            "until": None,
                        },
                        "change": {
                            "possible": True,
                            "reason": None,
                            "message": None,
                            "until": None,
                        },
                        "return": {
                            "possible": False,
                            "reason": "not_shipped",
                            "message": "This order has not shipped yet. While it is in "
                            "production it can be changed or cancelled instead.",
                            "until": None,
                        },
                    },
                }
            ]
        }
    )

    order_number: str
    status: Literal["awaiting_payment", "in_production", "shipped", "delivered", "cancelled"]
    placed_at: datetime
    items: list[ItemView]
    payment: PaymentView | None
    shipment: ShipmentView | None
    change_used: bool
    change_request: ChangeView | None = Field(description="The order's one change, once requested.")
    crafting_eta: CraftingEta | None = Field(
        description="The store's crafting weeks from the order date while not shipped; null "
        "while in-house finance is less than half paid."
    )
    return_window_ends: date | None = Field(
        description="Shipping confirmation + the return window (last day included)."
    )
    open_returns: list[OpenReturn]
    cancellable: bool
    changeable: bool
    returnable: bool
    return_window_days: int = Field(
        description="Returns and exchanges: days after the shipping confirmation."
    )
    possible: dict[Literal["cancel", "change", "return"], PossibilityView] = Field(
        description="Cancel, change and return now: whether the rules allow it, and if not "
        "the rule's machine-readable reason and its own explanation."
    )


class StaffOrderView(OrderView):
    """An order as the store's staff see it: the same view as the shopper's (it says for
    cancel, change and return whether the rules allow it now and why not)."""


class OrderNumberOnly(Request):
    model_config = ConfigDict(json_schema_extra={"examples": [{"order_number": "KNT-1001"}]})

    order_number: OrderNumberText


class ReturnCreated(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "rma_number": "RMA-7KQ2M9XD",
                    "order_number": "KNT-1002",
                    "item_id": 2,
                    "kind": "return",
                    "status": "open",
                    "exchange_size": None,
                    "created_at": "2026-11-26T14:00:00Z",
                    "label_within_business_days": "1-2",
                    "refund_within_days": 14,
                }
            ]
        }
    )

    rma_number: str
    order_number: str
    item_id: int
    kind: Literal["return", "exchange"]
    status: str
    exchange_size: str | None
    created_at: datetime
    label_within_business_days: str = Field(
        description="An insured return label is e-mailed within this many business days."
    )
    refund_within_days: int | None = Field(
        description="Returns: refunded within this many days after the item is received and "
        "inspected. Null for exchanges."
    )


class ChangeCreated(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "request_number": "CHG-4HW8Z2PA",
                    "order_number": "KNT-1001",
                    "item_id": 1,
                    "attribute": "metal",
                    "old_value": "white gold",
                    "new_value": "rose gold",
                    "status": "requested",
                    "created_at": "2026-11-26T14:00:00Z",
                }
            ]
        }
    )

    request_number: str
    order_number: str
    item_id: int
    attribute: str
    old_value: str | None
    new_value: str
    status: str
    created_at: datetime


class Cancelled(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "cancellation_number": "CXL-9TR3C6VB",
                    "order_number": "KNT-1001",
                    "status": "cancelled",
                    "created_at": "2026-11-26T14:00:00Z",
                }
            ]
        }
    )

    cancellation_number: str
    order_number: str
    status: Literal["cancelled"] = "cancelled"
    created_at: datetime


class SeedReport(BaseModel):
    seeded: bool = Field(description="False when the database already had orders.")
    orders: list[str] = Field(description="The order numbers created.")
    message: str


# --- errors (documentation of the bodies the handlers send) -----------------------------


class Problem(BaseModel):
    """`detail` of a 404, 409, 429 or 503: a machine reason, a sentence, sometimes more
    fields."""

    model_config = ConfigDict(extra="allow")

    reason: str = Field(examples=["change_already_used"])
    message: str = Field(examples=["This order's one allowed change has already been used."])


class ProblemBody(BaseModel):
    detail: Problem


class ErrorText(BaseModel):
    """`detail` as one sentence: a body that could not be read, or one too large."""

    detail: str


class Unauthorized(BaseModel):
    detail: Literal["missing or invalid bearer token"] = "missing or invalid bearer token"


def problem_example(reason: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"detail": {"reason": reason, "message": message, **extra}}
