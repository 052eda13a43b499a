"""The order backend's tables (SQLAlchemy 2 ORM). Migrations: `migrations/versions/`.

Two rules are also enforced by the database, so they hold under concurrent requests:
one change per order (`change_requests.order_id` is unique) and one open return per item
(a partial unique index on `return_requests.item_id WHERE status = 'open'`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    CheckConstraint,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    MetaData,
    String,
    Text,
    TypeDecorator,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_name)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC in and out, also on SQLite (which stores no offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: the order backend stores aware UTC datetimes")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime()}


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


ORDER_STATUSES = ("awaiting_payment", "in_production", "shipped", "delivered", "cancelled")
PAYMENT_METHODS = ("card", "bnpl", "in_house")
RETURN_KINDS = ("return", "exchange")
RETURN_STATUSES = ("open", "completed", "withdrawn")
CHANGE_ATTRIBUTES = ("gemstone", "metal", "ring_size")
CHANGE_STATUSES = ("requested", "applied")
ACTOR_KINDS = ("bot", "agent", "admin")


class Customer(Base):
    __tablename__ = "customers"
    __table_args__ = (CheckConstraint("email = lower(email)", name="email_lower_case"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str | None] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    orders: Mapped[list[Order]] = relationship(back_populates="customer")


class Order(Base):
    __tablename__ = "orders"
    __table_args__ = (CheckConstraint(_one_of("status", ORDER_STATUSES), name="status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_number: Mapped[str] = mapped_column(String(16), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    status: Mapped[str] = mapped_column(String(32))
    placed_at: Mapped[datetime]

    customer: Mapped[Customer] = relationship(back_populates="orders")
    items: Mapped[list[Item]] = relationship(back_populates="order", order_by="Item.id")
    payment: Mapped[Payment | None] = relationship(back_populates="order")
    shipment: Mapped[Shipment | None] = relationship(back_populates="order")
    return_requests: Mapped[list[ReturnRequest]] = relationship(
        back_populates="order", order_by="ReturnRequest.id"
    )
    change_request: Mapped[ChangeRequest | None] = relationship(back_populates="order")
    cancellation: Mapped[Cancellation | None] = relationship(back_populates="order")


class Item(Base):
    __tablename__ = "items"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    product: Mapped[str] = mapped_column(String(200))
    gemstone: Mapped[str | None] = mapped_column(String(32))
    metal: Mapped[str] = mapped_column(String(32))
    ring_size: Mapped[str | None] = mapped_column(String(8))

    order: Mapped[Order] = relationship(back_populates="items")


class Payment(Base):
    __tablename__ = "payments"
    __table_args__ = (
        CheckConstraint(_one_of("method", PAYMENT_METHODS), name="method"),
        CheckConstraint("parts_paid <= parts_total", name="parts_paid_at_most_total"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), unique=True)
    method: Mapped[str] = mapped_column(String(16))
    provider: Mapped[str | None] = mapped_column(String(64))
    parts_total: Mapped[int | None]
    parts_paid: Mapped[int | None]

    order: Mapped[Order] = relationship(back_populates="payment")


class Shipment(Base):
    __tablename__ = "shipments"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), unique=True)
    carrier: Mapped[str] = mapped_column(String(64))
    tracking_number: Mapped[str] = mapped_column(String(64))
    shipped_at: Mapped[datetime]  # the shipping-confirmation date: the return window starts here
    delivered_at: Mapped[datetime | None]

    order: Mapped[Order] = relationship(back_populates="shipment")


class ReturnRequest(Base):
    __tablename__ = "return_requests"
    __table_args__ = (
        CheckConstraint(_one_of("kind", RETURN_KINDS), name="kind"),
        CheckConstraint(_one_of("status", RETURN_STATUSES), name="status"),
        Index(
            "uq_return_requests_one_open_per_item",
            "item_id",
            unique=True,
            sqlite_where=text("status = 'open'"),
            postgresql_where=text("status = 'open'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    rma_number: Mapped[str] = mapped_column(String(16), unique=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"))
    kind: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text)
    exchange_size: Mapped[str | None] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]
    idempotency_key: Mapped[str] = mapped_column(String(128), unique=True)
    request_hash: Mapped[str] = mapped_column(String(64))

    order: Mapped[Order] = relationship(back_populates="return_requests")


class ChangeRequest(Base):
    __tablename__ = "change_requests"
    __table_args__ = (
        CheckConstraint(_one_of("attribute", CHANGE_ATTRIBUTES), name="attribute"),
        CheckConstraint(_one_of("status", CHANGE_STATUSES), name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    request_number: Mapped[str] = mapped_column(String(16), unique=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), unique=True)  # one per order
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"))
    attribute: Mapped[str] = mapped_column(String(16))
    old_value: Mapped[str | None] = mapped_column(String(32))
    new_value: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]
    idempotency_key: Mapped[str] = mapped_column(String(128), unique=True)
    request_hash: Mapped[str] = mapped_column(String(64))

    order: Mapped[Order] = relationship(back_populates="change_request")


class Cancellation(Base):
    __tablename__ = "cancellations"

    id: Mapped[int] = mapped_column(primary_key=True)
    cancellation_number: Mapped[str] = mapped_column(String(16), unique=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), unique=True)
    previous_status: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime]
    idempotency_key: Mapped[str] = mapped_column(String(128), unique=True)
    request_hash: Mapped[str] = mapped_column(String(64))

    order: Mapped[Order] = relationship(back_populates="cancellation")


class AuditEntry(Base):
    """One row per write, kept forever: who did what to which order, and when.

    `actor_kind` is who acted, by the token they hold: `bot` (the action server's
    ORDERS_API_TOKEN), `agent` (the staff console's ORDERS_STAFF_TOKEN) or `admin` (the
    demo seed); `actor` names them more precisely when the caller said (`X-Actor`).
    """

    __tablename__ = "audit_log"
    __table_args__ = (CheckConstraint(_one_of("actor_kind", ACTOR_KINDS), name="actor_kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime]
    action: Mapped[str] = mapped_column(String(64))
    order_number: Mapped[str | None] = mapped_column(String(16), index=True)
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
    actor: Mapped[str] = mapped_column(String(128))
    actor_kind: Mapped[str] = mapped_column(String(16))


class VerificationFailure(Base):
    """One failed ownership check (verify, lookup, or the check inside a return, change or
    cancel), counted per key within the window. Each key is a SHA-256 of the normalised
    value, so the addresses and numbers people typed are not kept here."""

    __tablename__ = "verification_failures"

    id: Mapped[int] = mapped_column(primary_key=True)
    failed_at: Mapped[datetime] = mapped_column(index=True)
    email_key: Mapped[str] = mapped_column(String(64), index=True)
    order_key: Mapped[str | None] = mapped_column(String(64), index=True)
    ip_key: Mapped[str | None] = mapped_column(String(64), index=True)
    session_key: Mapped[str | None] = mapped_column(String(64), index=True)
