"""The staff console: accounts, sessions, failed logins, hand-offs, agent messages.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def _when(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "staff_users",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("email", sa.String(254), nullable=False, unique=True),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        _when("created_at"),
        _when("last_login_at", nullable=True),
    )
    op.create_table(
        "staff_sessions",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("staff_id", sa.Integer(), sa.ForeignKey("staff_users.id"), nullable=False),
        sa.Column("csrf_token", sa.String(64), nullable=False),
        _when("created_at"),
        _when("last_seen_at"),
        _when("expires_at"),
    )
    op.create_index("ix_staff_sessions_staff_id", "staff_sessions", ["staff_id"])
    op.create_table(
        "staff_login_failures",
        sa.Column("email", sa.String(254), primary_key=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        _when("first_failed_at"),
        _when("locked_until", nullable=True),
    )
    op.create_table(
        "chat_handoffs",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "conversation_id",
            sa.String(64),
            sa.ForeignKey("chat_conversations.id"),
            nullable=False,
        ),
        sa.Column("reason", sa.String(64), nullable=False),
        _when("created_at"),
        _when("claimed_at", nullable=True),
        sa.Column("claimed_by", sa.Integer(), sa.ForeignKey("staff_users.id"), nullable=True),
        _when("first_reply_at", nullable=True),
        _when("unavailable_at", nullable=True),
        _when("ended_at", nullable=True),
        sa.Column("outcome", sa.String(16), nullable=True),
        sa.Column("ended_by", sa.Integer(), sa.ForeignKey("staff_users.id"), nullable=True),
    )
    op.create_index("ix_chat_handoffs_conversation_id", "chat_handoffs", ["conversation_id"])
    with op.batch_alter_table("chat_conversations") as batch:
        batch.add_column(sa.Column("state", sa.String(16), nullable=False, server_default="bot"))
        batch.add_column(
            sa.Column(
                "assigned_to",
                sa.Integer(),
                sa.ForeignKey("staff_users.id", name="fk_chat_conversations_assigned_to"),
                nullable=True,
            )
        )
        batch.add_column(sa.Column("contact_email", sa.String(254), nullable=True))
        batch.add_column(
            sa.Column("rasa_paused", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    op.create_index("ix_chat_conversations_state", "chat_conversations", ["state"])
    with op.batch_alter_table("chat_messages") as batch:
        batch.add_column(
            sa.Column(
                "author_id",
                sa.Integer(),
                sa.ForeignKey("staff_users.id", name="fk_chat_messages_author_id"),
                nullable=True,
            )
        )
        batch.add_column(sa.Column("author_name", sa.String(64), nullable=True))
        batch.add_column(sa.Column("suggestion_use", sa.String(16), nullable=True))
        batch.add_column(sa.Column("suggestion_source", sa.String(64), nullable=True))
    op.create_index("ix_chat_messages_created_at", "chat_messages", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_chat_messages_created_at", "chat_messages")
    with op.batch_alter_table("chat_messages") as batch:
        for column in ("suggestion_source", "suggestion_use", "author_name", "author_id"):
            batch.drop_column(column)
    op.drop_index("ix_chat_conversations_state", "chat_conversations")
    with op.batch_alter_table("chat_conversations") as batch:
        for column in ("rasa_paused", "contact_email", "assigned_to", "state"):
            batch.drop_column(column)
    for table in ("chat_handoffs", "staff_login_failures", "staff_sessions", "staff_users"):
        op.drop_table(table)
