"""The order backend's first schema.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None


def _when(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def upgrade() -> None:
    op.create_table(
        "customers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("name", sa.String(120), nullable=True),
        _when("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_customers"),
        sa.UniqueConstraint("email", name="uq_customers_email"),
        sa.CheckConstraint("email = lower(email)", name="ck_customers_email_lower_case"),
    )
    op.create_table(
        "orders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_number", sa.String(16), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        _when("placed_at"),
        sa.PrimaryKeyConstraint("id", name="pk_orders"),
        sa.UniqueConstraint("order_number", name="uq_orders_order_number"),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name="fk_orders_customer_id_customers"
        ),
        sa.CheckConstraint(
            _one_of(
                "status",
                ("awaiting_payment", "in_production", "shipped", "delivered", "cancelled"),
            ),
            name="ck_orders_status",
        ),
    )
    op.create_index("ix_orders_customer_id", "orders", ["customer_id"])
    op.create_table(
        "items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("product", sa.String(200), nullable=False),
        sa.Column("gemstone", sa.String(32), nullable=True),
        sa.Column("metal", sa.String(32), nullable=False),
        sa.Column("ring_size", sa.String(8), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_items"),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], name="fk_items_order_id_orders"),
    )
    op.create_index("ix_items_order_id", "items", ["order_id"])
    op.create_table(
        "payments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("method", sa.String(16), nullable=False),
        sa.Column("provider", sa.String(64), nullable=True),
        sa.Column("parts_total", sa.Integer(), nullable=True),
        sa.Column("parts_paid", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_payments"),
        sa.UniqueConstraint("order_id", name="uq_payments_order_id"),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], name="fk_payments_order_id_orders"),
        sa.CheckConstraint(
            _one_of("method", ("card", "bnpl", "in_house")), name="ck_payments_method"
        ),
        sa.CheckConstraint(
            "parts_paid <= parts_total", name="ck_payments_parts_paid_at_most_total"
        ),
    )
    op.create_table(
        "shipments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("carrier", sa.String(64), nullable=False),
        sa.Column("tracking_number", sa.String(64), nullable=False),
        _when("shipped_at"),
        _when("delivered_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_shipments"),
        sa.UniqueConstraint("order_id", name="uq_shipments_order_id"),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], name="fk_shipments_order_id_orders"),
    )
    op.create_table(
        "return_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rma_number", sa.String(16), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("exchange_size", sa.String(8), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        _when("created_at"),
        sa.Column("idempotency_key", sa.String(128), nullable=False),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_return_requests"),
        sa.UniqueConstraint("rma_number", name="uq_return_requests_rma_number"),
        sa.UniqueConstraint("idempotency_key", name="uq_return_requests_idempotency_key"),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name="fk_return_requests_order_id_orders"
        ),
        sa.ForeignKeyConstraint(["item_id"], ["items.id"], name="fk_return_requests_item_id_items"),
        sa.CheckConstraint(_one_of("kind", ("return", "exchange")), name="ck_return_requests_kind"),
        sa.CheckConstraint(
            _one_of("status", ("open", "completed", "withdrawn")),
            name="ck_return_requests_status",
        ),
    )
    op.create_index("ix_return_requests_order_id", "return_requests", ["order_id"])
    op.create_index(
        "uq_return_requests_one_open_per_item",
        "return_requests",
        ["item_id"],
        unique=True,
        sqlite_where=sa.text("status = 'open'"),
        postgresql_where=sa.text("status = 'open'"),
    )
    op.create_table(
        "change_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_number", sa.String(16), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("attribute", sa.String(16), nullable=False),
        sa.Column("old_value", sa.String(32), nullable=True),
        sa.Column("new_value", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        _when("created_at"),
        sa.Column("idempotency_key", sa.String(128), nullable=False),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_change_requests"),
        sa.UniqueConstraint("request_number", name="uq_change_requests_request_number"),
        sa.UniqueConstraint("order_id", name="uq_change_requests_order_id"),
        sa.UniqueConstraint("idempotency_key", name="uq_change_requests_idempotency_key"),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name="fk_change_requests_order_id_orders"
        ),
        sa.ForeignKeyConstraint(["item_id"], ["items.id"], name="fk_change_requests_item_id_items"),
        sa.CheckConstraint(
            _one_of("attribute", ("gemstone", "metal", "ring_size")),
            name="ck_change_requests_attribute",
        ),
        sa.CheckConstraint(
            _one_of("status", ("requested", "applied")), name="ck_change_requests_status"
        ),
    )
    op.create_table(
        "cancellations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("cancellation_number", sa.String(16), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("previous_status", sa.String(32), nullable=False),
        _when("created_at"),
        sa.Column("idempotency_key", sa.String(128), nullable=False),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_cancellations"),
        sa.UniqueConstraint("cancellation_number", name="uq_cancellations_cancellation_number"),
        sa.UniqueConstraint("order_id", name="uq_cancellations_order_id"),
        sa.UniqueConstraint("idempotency_key", name="uq_cancellations_idempotency_key"),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name="fk_cancellations_order_id_orders"
        ),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        _when("created_at"),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("order_number", sa.String(16), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_log"),
    )
    op.create_index("ix_audit_log_order_number", "audit_log", ["order_number"])


def downgrade() -> None:
    op.drop_index("ix_audit_log_order_number", table_name="audit_log")
    op.drop_table("audit_log")
    op.drop_table("cancellations")
    op.drop_table("change_requests")
    op.drop_index("uq_return_requests_one_open_per_item", table_name="return_requests")
    op.drop_index("ix_return_requests_order_id", table_name="return_requests")
    op.drop_table("return_requests")
    op.drop_table("shipments")
    op.drop_table("payments")
    op.drop_index("ix_items_order_id", table_name="items")
    op.drop_table("items")
    op.drop_index("ix_orders_customer_id", table_name="orders")
    op.drop_table("orders")
    op.drop_table("customers")
