"""Shopper sessions, conversations and their messages, in the app database.

A session belongs to one browser (its signed token); a session has one current
conversation, whose id is the Rasa sender id. "Start over" ends the conversation and
opens a new one: nothing is deleted, so staff can still read what was said.
Methods are synchronous (SQLAlchemy Core); the gateway calls them in a worker thread.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Connection,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    Update,
    false,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.exc import IntegrityError

from bot.db import app_metadata, get_engine, migrate_app_db
from bot.staff import tables as _staff_tables  # noqa: F401  (the staff_users foreign keys)
from bot.timeutil import as_utc, utc_now

metadata = app_metadata

chat_sessions = Table(
    "chat_sessions",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("last_seen_at", DateTime(timezone=True), nullable=False),
    Column("conversation_id", String(64), nullable=False),
)

chat_conversations = Table(
    "chat_conversations",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("session_id", String(64), ForeignKey("chat_sessions.id"), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("ended_at", DateTime(timezone=True), nullable=True),
    # The latest hand-off's reason and time (bot/staff/tables.py has every hand-off).
    Column("handoff_reason", String(64), nullable=True),
    Column("handoff_at", DateTime(timezone=True), nullable=True),
    # bot (Rasa answers) | waiting (handed off, in the staff queue; Rasa still answers)
    # | claimed (one agent answers; Rasa paused and never sent the shopper's messages)
    # | closed (an agent closed it; the next shopper message goes to Rasa again)
    Column("state", String(16), nullable=False, server_default="bot", index=True),
    Column("assigned_to", Integer, ForeignKey("staff_users.id"), nullable=True),
    Column("contact_email", String(254), nullable=True),  # left by the shopper for a reply
    # Rasa was told to pause this sender and has not yet been told to resume.
    Column("rasa_paused", Boolean, nullable=False, server_default=false()),
)

chat_messages = Table(
    "chat_messages",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("session_id", String(64), nullable=False),
    Column("conversation_id", String(64), ForeignKey("chat_conversations.id"), nullable=False),
    Column("role", String(16), nullable=False),  # shopper | bot | agent | system
    Column("client_id", String(64), nullable=True),
    Column("text", Text, nullable=True),
    Column("payload", Text, nullable=True),  # what was sent to Rasa instead of the text
    Column("buttons", JSON, nullable=True),
    Column("custom", JSON, nullable=True),
    # shopper: pending (for Rasa) | answered | failed (Rasa could not answer it; the shopper
    # was told) | agent (for the agent; never sent to Rasa) | dropped (still waiting when
    # the shopper started over: kept, never sent)
    Column("status", String(16), nullable=True),
    Column("feedback", String(8), nullable=True),  # bot: up | down
    Column("feedback_at", DateTime(timezone=True), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False, index=True),
    # agent messages: who wrote it, and whether the reply used a suggestion
    Column("author_id", Integer, ForeignKey("staff_users.id"), nullable=True),
    Column("author_name", String(64), nullable=True),  # the first name the shopper sees
    Column("suggestion_use", String(16), nullable=True),  # unchanged | edited | none
    Column("suggestion_source", String(64), nullable=True),  # faq id, or "order"
    # A resent message (same client id) is stored once.
    UniqueConstraint("session_id", "client_id", name="uq_chat_messages_client_id"),
    Index("ix_chat_messages_conversation", "conversation_id", "id"),
    # Messages waiting for Rasa (migration 0003): the retry loop reads them every second.
    Index(
        "ix_chat_messages_pending",
        "conversation_id",
        sqlite_where=text("status = 'pending'"),
        postgresql_where=text("status = 'pending'"),
    ),
)


def new_conversation_id() -> str:
    return f"web-{secrets.token_urlsafe(12)}"


def utc_iso(moment: datetime) -> str:
    return as_utc(moment).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Conversation:
    id: str
    session_id: str
    handoff_reason: str | None
    state: str = "bot"  # bot | waiting | claimed | closed (see chat_conversations.state)
    rasa_paused: bool = False


def _conversation(row: Any) -> Conversation:
    return Conversation(
        row.id, row.session_id, row.handoff_reason, row.state or "bot", bool(row.rasa_paused)
    )


@dataclass(frozen=True)
class Message:
    id: int
    conversation_id: str
    role: str
    text: str | None
    payload: str | None
    buttons: list[dict[str, str]]
    custom: dict[str, Any] | None
    client_id: str | None
    status: str | None
    feedback: str | None
    created_at: datetime
    author_id: int | None = None
    author_name: str | None = None
    suggestion_use: str | None = None
    suggestion_source: str | None = None

    def wire(self) -> dict[str, Any]:
        """The message as the widget receives it (protocol: docs/widget-protocol.md)."""
        frame = {
            "id": self.id,
            "role": self.role,
            "text": self.text,
            "buttons": self.buttons,
            "custom": self.custom,
            "ts": utc_iso(self.created_at),
            "client_id": self.client_id,
            "feedback": self.feedback,
        }
        if self.role == "agent":
            frame["author"] = self.author_name
        return frame

    def staff_wire(self) -> dict[str, Any]:
        """The message as the staff console receives it: also its delivery status and,
        for an agent's reply, who wrote it and whether it used a suggestion."""
        return self.wire() | {
            "status": self.status,
            "author": self.author_name,
            "author_id": self.author_id,
            "suggestion_use": self.suggestion_use,
            "suggestion_source": self.suggestion_source,
        }


def pending_to_agent(conversation_id: str) -> Update:
    """The statement that gives the conversation's messages still waiting for Rasa to the
    agent who has it: Rasa never sees them."""
    return (
        update(chat_messages)
        .where(
            chat_messages.c.conversation_id == conversation_id,
            chat_messages.c.status == "pending",
        )
        .values(status="agent")
    )


def _by_client_id(conn: Connection, session_id: str, client_id: str) -> Message | None:
    """The session's message with this client id (a client id is stored once per session)."""
    row = conn.execute(
        select(chat_messages).where(
            chat_messages.c.session_id == session_id, chat_messages.c.client_id == client_id
        )
    ).first()
    return _message(row) if row else None


def _message(row: Any) -> Message:
    return Message(
        id=row.id,
        conversation_id=row.conversation_id,
        role=row.role,
        text=row.text,
        payload=row.payload,
        buttons=list(row.buttons or []),
        custom=row.custom,
        client_id=row.client_id,
        status=row.status,
        feedback=row.feedback,
        created_at=row.created_at,
        author_id=row.author_id,
        author_name=row.author_name,
        suggestion_use=row.suggestion_use,
        suggestion_source=row.suggestion_source,
    )


class TranscriptStore:
    def __init__(self, database_url: str) -> None:
        migrate_app_db(database_url)
        self._engine = get_engine(database_url)

    def ping(self) -> None:
        with self._engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    def open_session(self, session_id: str) -> Conversation:
        """The session's current conversation, creating both on first sight."""
        now = utc_now()
        with self._engine.begin() as conn:
            row = conn.execute(
                select(chat_sessions.c.conversation_id).where(chat_sessions.c.id == session_id)
            ).first()
            if row is None:
                conversation_id = new_conversation_id()
                try:
                    with conn.begin_nested():
                        conn.execute(
                            insert(chat_sessions).values(
                                id=session_id,
                                created_at=now,
                                last_seen_at=now,
                                conversation_id=conversation_id,
                            )
                        )
                        conn.execute(
                            insert(chat_conversations).values(
                                id=conversation_id, session_id=session_id, created_at=now
                            )
                        )
                except IntegrityError:  # another tab created it first
                    return self.open_session(session_id)
            else:
                conversation_id = row.conversation_id
                conn.execute(
                    update(chat_sessions)
                    .where(chat_sessions.c.id == session_id)
                    .values(last_seen_at=now)
                )
            conv = conn.execute(
                select(chat_conversations).where(chat_conversations.c.id == conversation_id)
            ).one()
        return _conversation(conv)

    def current(self, session_id: str) -> Conversation:
        """The session's current conversation (read only; the session must exist)."""
        with self._engine.connect() as conn:
            row = conn.execute(
                select(chat_conversations)
                .join(chat_sessions, chat_sessions.c.conversation_id == chat_conversations.c.id)
                .where(chat_sessions.c.id == session_id)
            ).one()
        return _conversation(row)

    def restart(self, session_id: str) -> Conversation:
        """End the current conversation and open a new one (the old one is kept)."""
        now = utc_now()
        conversation_id = new_conversation_id()
        with self._engine.begin() as conn:
            old = conn.execute(
                select(chat_sessions.c.conversation_id).where(chat_sessions.c.id == session_id)
            ).scalar_one()
            conn.execute(
                update(chat_conversations)
                .where(chat_conversations.c.id == old)
                .values(ended_at=now)
            )
            # The shopper started over: what still waited for Rasa is kept, never sent.
            conn.execute(
                update(chat_messages)
                .where(chat_messages.c.conversation_id == old, chat_messages.c.status == "pending")
                .values(status="dropped")
            )
            conn.execute(
                insert(chat_conversations).values(
                    id=conversation_id, session_id=session_id, created_at=now
                )
            )
            conn.execute(
                update(chat_sessions)
                .where(chat_sessions.c.id == session_id)
                .values(conversation_id=conversation_id, last_seen_at=now)
            )
        return Conversation(conversation_id, session_id, None)

    def history(self, conversation_id: str) -> list[Message]:
        """Every message of the conversation, oldest first."""
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(chat_messages)
                .where(chat_messages.c.conversation_id == conversation_id)
                .order_by(chat_messages.c.id)
            ).all()
        return [_message(r) for r in rows]

    def after(self, conversation_id: str, message_id: int) -> list[Message]:
        """The conversation's messages newer than `message_id`, oldest first."""
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(chat_messages)
                .where(
                    chat_messages.c.conversation_id == conversation_id,
                    chat_messages.c.id > message_id,
                )
                .order_by(chat_messages.c.id)
            ).all()
        return [_message(r) for r in rows]

    def recent(
        self, conversation_id: str, limit: int, before: int | None = None
    ) -> tuple[list[Message], bool]:
        """The conversation's last `limit` messages (older than message id `before`, if
        given), oldest first, and whether older ones remain."""
        query = select(chat_messages).where(chat_messages.c.conversation_id == conversation_id)
        if before is not None:
            query = query.where(chat_messages.c.id < before)
        with self._engine.connect() as conn:
            rows = conn.execute(query.order_by(chat_messages.c.id.desc()).limit(limit + 1)).all()
        return [_message(r) for r in reversed(rows[:limit])], len(rows) > limit

    def waiting_conversations(self) -> list[tuple[str, str]]:
        """(session id, conversation id) of every open conversation with a message still
        waiting for Rasa: answered when Rasa is back, even if the shopper left."""
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(chat_messages.c.session_id, chat_messages.c.conversation_id)
                .join(
                    chat_conversations,
                    chat_conversations.c.id == chat_messages.c.conversation_id,
                )
                .where(chat_messages.c.status == "pending", chat_conversations.c.ended_at.is_(None))
                .distinct()
            ).all()
        return [(r.session_id, r.conversation_id) for r in rows]

    def add_shopper(
        self,
        conversation: Conversation,
        client_id: str,
        text: str,
        payload: str | None,
        status: str = "pending",
    ) -> tuple[Message, bool]:
        """Store a shopper message (`pending` for Rasa, or `agent` while an agent has the
        conversation); (the stored message, True) if it was already there."""
        with self._engine.begin() as conn:
            existing = _by_client_id(conn, conversation.session_id, client_id)
            if existing is not None:
                return existing, True
            try:
                with conn.begin_nested():
                    new_id = conn.execute(
                        insert(chat_messages).values(
                            session_id=conversation.session_id,
                            conversation_id=conversation.id,
                            role="shopper",
                            client_id=client_id,
                            text=text,
                            payload=payload,
                            status=status,
                            created_at=utc_now(),
                        )
                    ).inserted_primary_key[0]  # type: ignore[index]
            except IntegrityError:  # the same id from another tab, at the same moment
                existing = _by_client_id(conn, conversation.session_id, client_id)
                assert existing is not None
                return existing, True
            row = conn.execute(select(chat_messages).where(chat_messages.c.id == new_id)).one()
        return _message(row), False

    def conversation(self, conversation_id: str) -> Conversation | None:
        with self._engine.connect() as conn:
            row = conn.execute(
                select(chat_conversations).where(chat_conversations.c.id == conversation_id)
            ).first()
        return _conversation(row) if row else None

    def add_staff_message(
        self,
        conversation_id: str,
        role: str,
        text: str,
        *,
        client_id: str | None = None,
        author_id: int | None = None,
        author_name: str | None = None,
        suggestion_use: str | None = None,
        suggestion_source: str | None = None,
    ) -> tuple[Message, bool]:
        """Store an agent's reply (role `agent`) or a notice about the hand-off (role
        `system`); (the stored message, True) when that client id was stored already."""
        with self._engine.begin() as conn:
            session_id = conn.execute(
                select(chat_conversations.c.session_id).where(
                    chat_conversations.c.id == conversation_id
                )
            ).scalar_one()
            if client_id is not None:
                existing = _by_client_id(conn, session_id, client_id)
                if existing is not None:
                    return existing, True
            new_id = conn.execute(
                insert(chat_messages).values(
                    session_id=session_id,
                    conversation_id=conversation_id,
                    role=role,
                    client_id=client_id,
                    text=text,
                    author_id=author_id,
                    author_name=author_name,
                    suggestion_use=suggestion_use,
                    suggestion_source=suggestion_source,
                    created_at=utc_now(),
                )
            ).inserted_primary_key[0]  # type: ignore[index]
            row = conn.execute(select(chat_messages).where(chat_messages.c.id == new_id)).one()
        return _message(row), False

    def latest_shopper(self, conversation_id: str) -> Message | None:
        """The shopper's newest message in the conversation (what suggestions answer)."""
        with self._engine.connect() as conn:
            row = conn.execute(
                select(chat_messages)
                .where(
                    chat_messages.c.conversation_id == conversation_id,
                    chat_messages.c.role == "shopper",
                )
                .order_by(chat_messages.c.id.desc())
                .limit(1)
            ).first()
        return _message(row) if row else None

    def pending_to_agent(self, conversation_id: str) -> None:
        with self._engine.begin() as conn:
            conn.execute(pending_to_agent(conversation_id))

    def answer(
        self, shopper_message_id: int, replies: list[dict[str, Any]], status: str = "answered"
    ) -> list[Message]:
        """Store the replies to a shopper message and give it `status` (answered, or
        failed: Rasa could not answer it, and the replies say so), atomically. Nothing is
        stored (and [] returned) when the message no longer waits: the shopper started
        over while Rasa was answering it."""
        stored = []
        with self._engine.begin() as conn:
            taken = conn.execute(
                update(chat_messages)
                .where(
                    chat_messages.c.id == shopper_message_id,
                    chat_messages.c.status == "pending",
                )
                .values(status=status)
            ).rowcount
            if not taken:
                return []
            shopper = conn.execute(
                select(chat_messages).where(chat_messages.c.id == shopper_message_id)
            ).one()
            for reply in replies:
                new_id = conn.execute(
                    insert(chat_messages).values(
                        session_id=shopper.session_id,
                        conversation_id=shopper.conversation_id,
                        role="bot",
                        text=reply.get("text"),
                        buttons=reply.get("buttons") or None,
                        custom=reply.get("custom"),
                        created_at=utc_now(),
                    )
                ).inserted_primary_key[0]  # type: ignore[index]
                stored.append(new_id)
                handoff = (reply.get("custom") or {}).get("handoff")
                if isinstance(handoff, dict):
                    conn.execute(
                        update(chat_conversations)
                        .where(chat_conversations.c.id == shopper.conversation_id)
                        .values(
                            handoff_reason=str(handoff.get("reason") or ""), handoff_at=utc_now()
                        )
                    )
            rows = conn.execute(
                select(chat_messages).where(chat_messages.c.id.in_(stored)).order_by("id")
            ).all()
        return [_message(r) for r in rows]

    def pending(self, conversation_id: str) -> list[Message]:
        """Shopper messages not answered yet (the assistant was down), oldest first."""
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(chat_messages)
                .where(
                    chat_messages.c.conversation_id == conversation_id,
                    chat_messages.c.status == "pending",
                )
                .order_by(chat_messages.c.id)
            ).all()
        return [_message(r) for r in rows]

    def pending_before(self, conversation_id: str, message_id: int) -> bool:
        """Whether an older shopper message of the conversation is still unanswered."""
        with self._engine.connect() as conn:
            row = conn.execute(
                select(chat_messages.c.id)
                .where(
                    chat_messages.c.conversation_id == conversation_id,
                    chat_messages.c.status == "pending",
                    chat_messages.c.id < message_id,
                )
                .limit(1)
            ).first()
        return row is not None

    def offered_payloads(self, conversation_id: str, last: int = 20) -> set[str]:
        """Button payloads the bot offered lately in this conversation."""
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(chat_messages.c.buttons)
                .where(
                    chat_messages.c.conversation_id == conversation_id,
                    chat_messages.c.role == "bot",
                    chat_messages.c.buttons.is_not(None),
                )
                .order_by(chat_messages.c.id.desc())
                .limit(last)
            ).all()
        return {
            str(b.get("payload"))
            for r in rows
            for b in (r.buttons or [])
            if isinstance(b, dict) and b.get("payload")
        }

    def set_feedback(self, session_id: str, message_id: int, value: str) -> bool:
        """Thumbs up/down on one of this session's bot messages; False if there is none."""
        with self._engine.begin() as conn:
            result = conn.execute(
                update(chat_messages)
                .where(
                    chat_messages.c.id == message_id,
                    chat_messages.c.session_id == session_id,
                    chat_messages.c.role == "bot",
                )
                .values(feedback=value, feedback_at=utc_now())
            )
        return bool(result.rowcount)
