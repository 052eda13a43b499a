"""Failed ownership checks are counted (guessing gains nothing); audit rows say who acted.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None

FAILURE_KEYS = ("email_key", "order_key", "ip_key", "session_key")


def upgrade() -> None:
    op.add_column("audit_log", sa.Column("actor_kind", sa.String(16), nullable=True))
    # Rows written before this revision: the staff console's looks were the agents', the
    # seed's rows the admin's, and every other write came with the action server's token.
    op.execute(
        "UPDATE audit_log SET actor_kind = CASE "
        "WHEN action = 'staff_view' THEN 'agent' "
        "WHEN action = 'order.seeded' THEN 'admin' "
        "ELSE 'bot' END"
    )
    with op.batch_alter_table("audit_log") as batch:
        batch.alter_column("actor_kind", existing_type=sa.String(16), nullable=False)
        batch.create_check_constraint(
            op.f("ck_audit_log_actor_kind"), "actor_kind IN ('bot', 'agent', 'admin')"
        )

    op.create_table(
        "verification_failures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("failed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("email_key", sa.String(64), nullable=False),
        sa.Column("order_key", sa.String(64), nullable=True),
        sa.Column("ip_key", sa.String(64), nullable=True),
        sa.Column("session_key", sa.String(64), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_verification_failures"),
    )
    op.create_index("ix_verification_failures_failed_at", "verification_failures", ["failed_at"])
    for column in FAILURE_KEYS:
        op.create_index(f"ix_verification_failures_{column}", "verification_failures", [column])


def downgrade() -> None:
    for column in FAILURE_KEYS:
        op.drop_index(f"ix_verification_failures_{column}", table_name="verification_failures")
    op.drop_index("ix_verification_failures_failed_at", table_name="verification_failures")
    op.drop_table("verification_failures")
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_constraint(op.f("ck_audit_log_actor_kind"), type_="check")
        batch.drop_column("actor_kind")
