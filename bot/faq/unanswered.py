"""Questions the bot could not answer, kept so the store can grow its FAQ from them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import (
    Column,
    DateTime,
    Float,
    Integer,
    String,
    Table,
    Text,
    insert,
    select,
)

from bot.db import app_metadata, get_engine, migrate_app_db

unanswered = Table(
    "unanswered_questions",
    app_metadata,
    Column("id", Integer, primary_key=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("sender_id", String(128), nullable=False),
    Column("question", Text, nullable=False),
    Column("intent", String(64), nullable=True),
    Column("closest_faq_id", String(64), nullable=True),
    Column("closest_score", Float, nullable=True),
)


@dataclass(frozen=True)
class Unanswered:
    created_at: datetime
    sender_id: str
    question: str
    intent: str | None
    closest_faq_id: str | None
    closest_score: float | None


class UnansweredLog:
    def __init__(self, database_url: str) -> None:
        migrate_app_db(database_url)
        self._engine = get_engine(database_url)

    def record(
        self,
        sender_id: str,
        question: str,
        intent: str | None,
        closest_faq_id: str | None,
        closest_score: float | None,
    ) -> None:
        with self._engine.begin() as conn:
            conn.execute(
                insert(unanswered).values(
                    created_at=datetime.now(UTC),
                    sender_id=sender_id,
                    question=question,
                    intent=intent,
                    closest_faq_id=closest_faq_id,
                    closest_score=closest_score,
                )
            )

    def recent(self, limit: int = 50) -> list[Unanswered]:
        query = select(unanswered).order_by(unanswered.c.id.desc()).limit(limit)
        with self._engine.connect() as conn:
            return [
                Unanswered(
                    r.created_at,
                    r.sender_id,
                    r.question,
                    r.intent,
                    r.closest_faq_id,
                    r.closest_score,
                )
                for r in conn.execute(query)
            ]
