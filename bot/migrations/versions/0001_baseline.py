"""Baseline: the tables the gateway and the action server made before migrations.

Until this revision the gateway created the transcript tables and the action server the
unanswered-question log at start-up (`create_all`). A database made that way has them
already, so each is created only where it is missing; then the database is stamped and
later revisions apply as usual.

Revision ID: 0001
Revises:
Create Date: 2026-11-30
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


def upgrade() -> None:
    existing = set(sa.inspect(op.get_bind()).get_table_names())
    if "chat_sessions" not in existing:
        op.create_table(
            "chat_sessions",
            sa.Column("id", sa.String(64), primary_key=True),
            _when("created_at"),
            _when("last_seen_at"),
            sa.Column("conversation_id", sa.String(64), nullable=False),
        )
    if "chat_conversations" not in existing:
        op.create_table(
            "chat_conversations",
            sa.Column("id", sa.String(64), primary_key=True),
            sa.Column(
                "session_id", sa.String(64), sa.ForeignKey("chat_sessions.id"), nullable=False
            ),
            _when("created_at"),
            _when("ended_at", nullable=True),
            sa.Column("handoff_reason", sa.String(64), nullable=True),
            _when("handoff_at", nullable=True),
        )
    if "chat_messages" not in existing:
        op.create_table(
            "chat_messages",
            sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
            sa.Column("session_id", sa.String(64), nullable=False),
            sa.Column(
                "conversation_id",
                sa.String(64),
                sa.ForeignKey("chat_conversations.id"),
                nullable=False,
            ),
            sa.Column("role", sa.String(16), nullable=False),
            sa.Column("client_id", sa.String(64), nullable=True),
            sa.Column("text", sa.Text(), nullable=True),
            sa.Column("payload", sa.Text(), nullable=True),
            sa.Column("buttons", sa.JSON(), nullable=True),
            sa.Column("custom", sa.JSON(), nullable=True),
            sa.Column("status", sa.String(16), nullable=True),
            sa.Column("feedback", sa.String(8), nullable=True),
            _when("feedback_at", nullable=True),
            _when("created_at"),
            sa.UniqueConstraint("session_id", "client_id", name="uq_chat_messages_client_id"),
        )
        op.create_index("ix_chat_messages_conversation", "chat_messages", ["conversation_id", "id"])
    if "unanswered_questions" not in existing:
        op.create_table(
            "unanswered_questions",
            sa.Column("id", sa.Integer(), primary_key=True),
            _when("created_at"),
            sa.Column("sender_id", sa.String(128), nullable=False),
            sa.Column("question", sa.Text(), nullable=False),
            sa.Column("intent", sa.String(64), nullable=True),
            sa.Column("closest_faq_id", sa.String(64), nullable=True),
            sa.Column("closest_score", sa.Float(), nullable=True),
        )


def downgrade() -> None:
    for table in ("unanswered_questions", "chat_messages", "chat_conversations", "chat_sessions"):
        op.drop_table(table)
