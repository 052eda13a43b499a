"""The hand-off queue in the app database: who has which conversation, since when.

A conversation's `state` (chat_conversations) says who answers the shopper: `bot`,
`waiting` (handed off, in the queue; the bot still answers meanwhile), `claimed` (one
agent; Rasa is never sent the shopper's messages) or `closed` (an agent closed it; the
bot answers again). Each hand-off is a row of chat_handoffs with its reason and times,
which the insights read. State changes are single conditional UPDATEs, so two agents
claiming at the same moment cannot both win. Methods are synchronous; the gateway runs
them in its database thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, and_, func, insert, select, update

from bot.db import get_engine, migrate_app_db
from bot.gateway.transcripts import (
    chat_conversations,
    chat_messages,
    pending_to_agent,
    utc_iso,
)
from bot.staff.accounts import StaffUser, first_name
from bot.staff.tables import chat_handoffs, staff_users
from bot.timeutil import as_utc, utc_now

TAKEN_OVER = "agent_took_over"  # the reason of a hand-off an agent started themselves
OUTCOMES = ("handed_back", "closed")


class HandoffError(Exception):
    """A queue action that cannot be done; `message` is for the agent, `status` HTTP,
    `code` machine-readable."""

    status = 409
    code = "not_possible"

    def __init__(
        self, message: str, status: int | None = None, code: str | None = None, **detail: Any
    ) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail
        if status is not None:
            self.status = status
        if code is not None:
            self.code = code


class NoSuchConversation(HandoffError):
    status = 404
    code = "not_found"


class AlreadyClaimed(HandoffError):
    code = "already_claimed"


class NotYours(HandoffError):
    code = "not_yours"


def _aware(moment: datetime | None) -> datetime | None:
    return as_utc(moment) if moment is not None else None


@dataclass(frozen=True)
class HandoffState:
    """A conversation's hand-off as the widget and the console see it."""

    conversation_id: str
    session_id: str
    state: str
    ended: bool  # the shopper started a new conversation ("Start over")
    reason: str | None  # of the open hand-off (None in state bot)
    since: datetime | None  # when the open hand-off started
    claimed_at: datetime | None
    agent_id: int | None
    agent_name: str | None
    unavailable: bool  # the shopper was told nobody is free right now
    contact_email: str | None
    rasa_paused: bool
    handoff_id: int | None

    def widget(self) -> dict[str, Any] | None:
        """`session.handoff` / the `handoff_state` frame for the shopper; None = the bot."""
        if self.state == "bot":
            return None
        return {
            "state": self.state,
            "reason": self.reason,
            "agent": first_name(self.agent_name) if self.state == "claimed" else None,
            "unavailable": self.unavailable and self.state == "waiting",
            "contact_email": self.contact_email,
        }

    def staff(self, now: datetime | None = None) -> dict[str, Any]:
        now = now or utc_now()
        since = _aware(self.since)
        return {
            "conversation_id": self.conversation_id,
            "state": self.state,
            "ended": self.ended,
            "reason": self.reason,
            "since": utc_iso(since) if since else None,
            "waited_seconds": round((now - since).total_seconds()) if since else None,
            "claimed_at": utc_iso(self.claimed_at) if self.claimed_at else None,
            "agent": {"id": self.agent_id, "name": self.agent_name}
            if self.agent_id is not None
            else None,
            "unavailable": self.unavailable,
            "contact_email": self.contact_email,
        }


def _state(row: Row[Any]) -> HandoffState:
    return HandoffState(
        conversation_id=row.id,
        session_id=row.session_id,
        state=row.state or "bot",
        ended=row.ended_at is not None,
        reason=row.h_reason,
        since=_aware(row.h_created_at),
        claimed_at=_aware(row.h_claimed_at),
        agent_id=row.assigned_to,
        agent_name=row.agent_name,
        unavailable=row.h_unavailable_at is not None,
        contact_email=row.contact_email,
        rasa_paused=bool(row.rasa_paused),
        handoff_id=row.h_id,
    )


class HandoffStore:
    def __init__(self, database_url: str) -> None:
        migrate_app_db(database_url)
        self._engine = get_engine(database_url)

    def _query(self) -> Any:
        c, h = chat_conversations, chat_handoffs
        return (
            select(
                c.c.id,
                c.c.session_id,
                c.c.state,
                c.c.ended_at,
                c.c.assigned_to,
                c.c.contact_email,
                c.c.rasa_paused,
                c.c.created_at,
                staff_users.c.name.label("agent_name"),
                h.c.id.label("h_id"),
                h.c.reason.label("h_reason"),
                h.c.created_at.label("h_created_at"),
                h.c.claimed_at.label("h_claimed_at"),
                h.c.unavailable_at.label("h_unavailable_at"),
            )
            .select_from(c)
            .outerjoin(staff_users, staff_users.c.id == c.c.assigned_to)
            .outerjoin(h, and_(h.c.conversation_id == c.c.id, h.c.ended_at.is_(None)))
        )

    def state(self, conversation_id: str) -> HandoffState:
        with self._engine.connect() as conn:
            row = conn.execute(
                self._query().where(chat_conversations.c.id == conversation_id)
            ).first()
        if row is None:
            raise NoSuchConversation("There is no such conversation.")
        return _state(row)

    # --- state changes ----------------------------------------------------------------
    def start(
        self, conversation_id: str, reason: str, now: datetime | None = None
    ) -> tuple[HandoffState, bool]:
        """The bot handed the conversation off: into the queue, unless it is there already
        (then nothing changes). Returns the state and whether a hand-off started."""
        now = now or utc_now()
        with self._engine.begin() as conn:
            moved = conn.execute(
                update(chat_conversations)
                .where(
                    chat_conversations.c.id == conversation_id,
                    chat_conversations.c.state.in_(("bot", "closed")),
                )
                .values(state="waiting", assigned_to=None)
            ).rowcount
            if moved:
                conn.execute(
                    insert(chat_handoffs).values(
                        conversation_id=conversation_id, reason=reason[:64], created_at=now
                    )
                )
        return self.state(conversation_id), bool(moved)

    def claim(
        self, conversation_id: str, agent: StaffUser, now: datetime | None = None
    ) -> HandoffState:
        """One agent takes the conversation: from the queue, or straight from the bot (a
        take-over). Refused while another agent has it."""
        now = now or utc_now()
        with self._engine.begin() as conn:
            before = conn.execute(
                select(chat_conversations.c.state, chat_conversations.c.ended_at).where(
                    chat_conversations.c.id == conversation_id
                )
            ).first()
            if before is None:
                raise NoSuchConversation("There is no such conversation.")
            if before.ended_at is not None and before.state in ("bot", "closed"):
                raise HandoffError(
                    "The shopper has left this conversation (they started a new one)."
                )
            won = conn.execute(
                update(chat_conversations)
                .where(
                    chat_conversations.c.id == conversation_id,
                    chat_conversations.c.state.in_(("waiting", "bot", "closed")),
                )
                .values(state="claimed", assigned_to=agent.id)
            ).rowcount
            if won:
                if before.state == "waiting":
                    conn.execute(
                        update(chat_handoffs)
                        .where(
                            chat_handoffs.c.conversation_id == conversation_id,
                            chat_handoffs.c.ended_at.is_(None),
                        )
                        .values(claimed_at=now, claimed_by=agent.id)
                    )
                else:
                    conn.execute(
                        insert(chat_handoffs).values(
                            conversation_id=conversation_id,
                            reason=TAKEN_OVER,
                            created_at=now,
                            claimed_at=now,
                            claimed_by=agent.id,
                        )
                    )
                conn.execute(pending_to_agent(conversation_id))
        state = self.state(conversation_id)
        if state.agent_id != agent.id:
            holder = state.agent_name or "Another agent"
            raise AlreadyClaimed(
                f"{holder} already has this conversation.",
                agent={"id": state.agent_id, "name": state.agent_name},
            )
        return state

    def end(
        self,
        conversation_id: str,
        agent: StaffUser,
        outcome: str,
        now: datetime | None = None,
    ) -> HandoffState:
        """Hand the conversation back to the bot (`handed_back`) or close it (`closed`).
        A claimed conversation only by the agent who has it; a waiting one by anyone."""
        if outcome not in OUTCOMES:
            raise ValueError(outcome)
        now = now or utc_now()
        new_state = "bot" if outcome == "handed_back" else "closed"
        c = chat_conversations
        with self._engine.begin() as conn:
            done = conn.execute(
                update(c)
                .where(
                    c.c.id == conversation_id,
                    (c.c.state == "waiting")
                    | ((c.c.state == "claimed") & (c.c.assigned_to == agent.id)),
                )
                .values(state=new_state, assigned_to=None)
            ).rowcount
            if done:
                conn.execute(
                    update(chat_handoffs)
                    .where(
                        chat_handoffs.c.conversation_id == conversation_id,
                        chat_handoffs.c.ended_at.is_(None),
                    )
                    .values(ended_at=now, outcome=outcome, ended_by=agent.id)
                )
        state = self.state(conversation_id)
        if not done:
            if state.state == "claimed":
                raise NotYours(
                    f"{state.agent_name or 'Another agent'} has this conversation.",
                    agent={"id": state.agent_id, "name": state.agent_name},
                )
            raise HandoffError("This conversation is not handed off any more.")
        return state

    def set_rasa_paused(self, conversation_id: str, paused: bool) -> None:
        with self._engine.begin() as conn:
            conn.execute(
                update(chat_conversations)
                .where(chat_conversations.c.id == conversation_id)
                .values(rasa_paused=paused)
            )

    def set_contact(self, conversation_id: str, email: str) -> HandoffState:
        """The e-mail address a waiting shopper left for a reply."""
        with self._engine.begin() as conn:
            done = conn.execute(
                update(chat_conversations)
                .where(
                    chat_conversations.c.id == conversation_id,
                    chat_conversations.c.state.in_(("waiting", "claimed")),
                )
                .values(contact_email=email)
            ).rowcount
        if not done:
            raise HandoffError("This conversation is not waiting for a person.")
        return self.state(conversation_id)

    def first_reply(self, conversation_id: str, now: datetime | None = None) -> None:
        """Note the open hand-off's first agent reply (once)."""
        with self._engine.begin() as conn:
            conn.execute(
                update(chat_handoffs)
                .where(
                    chat_handoffs.c.conversation_id == conversation_id,
                    chat_handoffs.c.ended_at.is_(None),
                    chat_handoffs.c.first_reply_at.is_(None),
                )
                .values(first_reply_at=now or utc_now())
            )

    def mark_unavailable(self, conversation_id: str, now: datetime | None = None) -> bool:
        """Note that the shopper was told nobody is free; False if they were already."""
        with self._engine.begin() as conn:
            return bool(
                conn.execute(
                    update(chat_handoffs)
                    .where(
                        chat_handoffs.c.conversation_id == conversation_id,
                        chat_handoffs.c.ended_at.is_(None),
                        chat_handoffs.c.claimed_at.is_(None),
                        chat_handoffs.c.unavailable_at.is_(None),
                    )
                    .values(unavailable_at=now or utc_now())
                ).rowcount
            )

    # --- lists ------------------------------------------------------------------------
    def overdue(self, after_seconds: float, now: datetime | None = None) -> list[HandoffState]:
        """Waiting hand-offs nobody claimed for `after_seconds`, not yet told to the shopper."""
        cutoff = (now or utc_now()) - timedelta(seconds=after_seconds)
        with self._engine.connect() as conn:
            rows = conn.execute(
                self._query().where(
                    chat_conversations.c.state == "waiting",
                    chat_handoffs.c.created_at <= cutoff,
                    chat_handoffs.c.unavailable_at.is_(None),
                )
            ).all()
        return [_state(r) for r in rows]

    def queue(self) -> list[HandoffState]:
        """Every conversation handed off and not handed back or closed, oldest first."""
        with self._engine.connect() as conn:
            rows = conn.execute(
                self._query()
                .where(chat_conversations.c.state.in_(("waiting", "claimed")))
                .order_by(chat_handoffs.c.created_at)
            ).all()
        return [_state(r) for r in rows]

    def live(self, since_minutes: float = 30, limit: int = 100) -> list[HandoffState]:
        """Conversations with the bot that had a message lately, newest first (an agent
        may read any of them and take it over)."""
        cutoff = utc_now() - timedelta(minutes=since_minutes)
        latest = (
            select(
                chat_messages.c.conversation_id,
                func.max(chat_messages.c.created_at).label("last_at"),
            )
            .where(chat_messages.c.created_at >= cutoff)
            .group_by(chat_messages.c.conversation_id)
            .subquery()
        )
        with self._engine.connect() as conn:
            rows = conn.execute(
                self._query()
                .join(latest, latest.c.conversation_id == chat_conversations.c.id)
                .where(
                    chat_conversations.c.state.in_(("bot", "closed")),
                    chat_conversations.c.ended_at.is_(None),
                )
                .order_by(latest.c.last_at.desc())
                .limit(limit)
            ).all()
        return [_state(r) for r in rows]

    def last_messages(self, conversation_ids: list[str]) -> dict[str, dict[str, Any]]:
        """The newest message of each conversation (for the queue's previews)."""
        if not conversation_ids:
            return {}
        newest = (
            select(func.max(chat_messages.c.id))
            .where(
                chat_messages.c.conversation_id.in_(conversation_ids),
                chat_messages.c.text.is_not(None),
            )
            .group_by(chat_messages.c.conversation_id)
        )
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(
                    chat_messages.c.conversation_id,
                    chat_messages.c.role,
                    chat_messages.c.text,
                    chat_messages.c.created_at,
                ).where(chat_messages.c.id.in_(newest))
            ).all()
        return {
            r.conversation_id: {
                "role": r.role,
                "text": (r.text or "")[:200],
                "ts": utc_iso(r.created_at),
            }
            for r in rows
        }
