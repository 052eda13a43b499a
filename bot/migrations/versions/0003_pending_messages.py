"""An index of the shopper messages still waiting for Rasa.

The gateway's retry loop looks for them every second; the partial index keeps that one
small lookup however long the transcripts grow.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None

PENDING = sa.text("status = 'pending'")


def upgrade() -> None:
    op.create_index(
        "ix_chat_messages_pending",
        "chat_messages",
        ["conversation_id"],
        sqlite_where=PENDING,
        postgresql_where=PENDING,
    )


def downgrade() -> None:
    op.drop_index("ix_chat_messages_pending", table_name="chat_messages")
