"""The live hand-off: the staff's open consoles, and what happens when the bot hands a
conversation off, an agent claims it, replies, hands it back or closes it.

Who answers a shopper is the conversation's state in the database (bot/staff/queue.py).
While an agent has it, the gateway never sends the shopper's messages to Rasa; on top of
that Rasa is told to `pause` the conversation (its own event, through its HTTP API), so
even a message that reached Rasa some other way would get no bot reply. Handing back
sends `resume`; if Rasa cannot be reached then, the conversation stays marked as paused
and is resumed before its next message goes to Rasa. Claims, hand-backs and the bot's
turns of one conversation take the same lock, so none of them interleave.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import re
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar

from starlette.websockets import WebSocket

from bot.gateway.hub import CLOSE_RESYNC, Hub, close, send
from bot.gateway.rasa_client import RasaClient, RasaUnavailable
from bot.gateway.relay import Relay
from bot.gateway.transcripts import Conversation, Message, TranscriptStore
from bot.settings import Settings
from bot.staff.accounts import StaffUser
from bot.staff.queue import HandoffError, HandoffState, HandoffStore

log = logging.getLogger(__name__)
T = TypeVar("T")


class Db(Protocol):
    """Runs a synchronous store call in the gateway's database thread(s)."""

    def __call__(self, fn: Callable[..., T], *args: Any) -> Awaitable[T]: ...


EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,189}\.[^@\s.]{2,63}$")
MAX_REPLY_CHARS = 4000


def _digest(session_token: str) -> str:
    return hashlib.sha256(session_token.encode()).hexdigest()


PRESENCE_SECONDS = 3.0  # each gateway tells the others which agents it has this often
PRESENCE_EXPIRES = 10.0  # and forgets a silent gateway's agents after this long


class StaffHub:
    """Open console connections: which agents are online, who watches which conversation.
    With a `relay`, frames reach the consoles on every gateway, and the gateways tell each
    other which agents they have (a dead gateway's agents are forgotten when it falls
    silent)."""

    def __init__(self, relay: Relay | None = None) -> None:
        self._agents: dict[int, set[WebSocket]] = defaultdict(set)
        self._watching: dict[WebSocket, str] = {}
        self._sessions: dict[WebSocket, str] = {}  # socket -> its session cookie's token
        self._remote: dict[str, tuple[frozenset[int], float]] = {}  # gateway -> agents
        self._presence_changed = asyncio.Event()
        self.relay = relay
        if relay is not None:
            relay.on("staff_all", lambda _key, frame: self._to_all_here(frame))
            relay.on("staff_watchers", self._to_watchers_here)
            relay.on("staff_logout", lambda digest, _frame: self._close_session_here(digest))
            relay.on("agents", self._presence)
            relay.on_resync(self.close_all)

    def join(self, agent_id: int, ws: WebSocket, session_token: str) -> None:
        self._agents[agent_id].add(ws)
        self._sessions[ws] = session_token
        self._presence_changed.set()

    async def close_session(self, session_token: str, code: int = 4401) -> None:
        """Close the sockets opened with this session (it was logged out), everywhere."""
        digest = _digest(session_token)
        await self._close_session_here(digest, code)
        if self.relay is not None:  # its digest only: the token never leaves this process
            await self.relay.publish("staff_logout", digest, {})

    async def _close_session_here(self, digest: str, code: int = 4401) -> None:
        for ws, token in list(self._sessions.items()):
            if hmac.compare_digest(_digest(token), digest):
                await close(ws, code)

    def leave(self, agent_id: int, ws: WebSocket) -> None:
        self._watching.pop(ws, None)
        self._sessions.pop(ws, None)
        sockets = self._agents.get(agent_id)
        if sockets is not None:
            sockets.discard(ws)
            if not sockets:
                del self._agents[agent_id]
                self._presence_changed.set()

    def watch(self, ws: WebSocket, conversation_id: str | None) -> None:
        if conversation_id is None:
            self._watching.pop(ws, None)
        else:
            self._watching[ws] = conversation_id

    def online(self) -> int:
        """How many agents have the console open (on any gateway)."""
        now = time.monotonic()
        agents = set(self._agents)
        for ids, expires in self._remote.values():
            if expires > now:
                agents |= ids
        return len(agents)

    async def to_all(self, frame: dict[str, Any]) -> None:
        await self._to_all_here(frame)
        if self.relay is not None:
            await self.relay.publish("staff_all", "", frame)

    async def _to_all_here(self, frame: dict[str, Any]) -> None:
        for sockets in list(self._agents.values()):
            for ws in list(sockets):
                await send(ws, frame)

    async def to_watchers(self, conversation_id: str, frame: dict[str, Any]) -> None:
        await self._to_watchers_here(conversation_id, frame)
        if self.relay is not None:
            await self.relay.publish("staff_watchers", conversation_id, frame)

    async def _to_watchers_here(self, conversation_id: str, frame: dict[str, Any]) -> None:
        for ws, watched in list(self._watching.items()):
            if watched == conversation_id:
                await send(ws, frame)

    async def close_all(self) -> None:
        for ws in list(self._sessions):
            await close(ws, CLOSE_RESYNC)

    async def _presence(self, gateway_id: str, frame: dict[str, Any]) -> None:
        if gateway_id not in self._remote:
            self._presence_changed.set()  # a gateway new to us: tell it ours at once
        ids = frozenset(int(i) for i in frame.get("agents", ()))
        now = time.monotonic()
        # Gateways come and go (each start is a new id): forget the silent ones.
        for silent in [g for g, (_, expires) in self._remote.items() if expires <= now]:
            del self._remote[silent]
        self._remote[gateway_id] = (ids, now + PRESENCE_EXPIRES)

    async def announce(self) -> None:
        """Tell the other gateways which agents are here (a background task), at once
        when that changes and every PRESENCE_SECONDS anyway."""
        if self.relay is None:
            return
        while True:
            self._presence_changed.clear()
            await self.relay.publish(
                "agents", self.relay.gateway_id, {"agents": list(self._agents)}
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._presence_changed.wait(), PRESENCE_SECONDS)


class HandoffDesk:
    def __init__(
        self,
        settings: Settings,
        transcripts: TranscriptStore,
        queue: HandoffStore,
        rasa: RasaClient,
        shoppers: Hub,
        db: Db,
    ) -> None:
        self.settings = settings
        self.transcripts = transcripts
        self.queue = queue
        self.rasa = rasa
        self.shoppers = shoppers
        self.db = db
        self.staff = StaffHub(shoppers.relay)
        self._typing_seen: dict[tuple[str, int], float] = {}

    # --- what the shopper sees ----------------------------------------------------------
    async def _tell_shopper(self, state: HandoffState, text: str | None = None) -> None:
        """Store a notice (if any) and send it and the new hand-off state to the widget."""
        if state.ended:
            return  # the shopper started a new conversation: this one is not on screen
        if text:
            notice, _ = await self.db(
                self.transcripts.add_staff_message, state.conversation_id, "system", text
            )
            await self.shoppers.broadcast(
                state.session_id, {"type": "message", "message": notice.wire()}
            )
            await self.published(state.conversation_id, [notice])
        await self.shoppers.broadcast(
            state.session_id, {"type": "handoff_state", "handoff": state.widget()}
        )

    async def _queue_changed(self, state: HandoffState) -> None:
        """Every console updates its queue entry for this conversation."""
        if not self.staff.online():
            return  # no console open: nothing to read for nobody
        last = await self.db(self.queue.last_messages, [state.conversation_id])
        await self.staff.to_all(
            {
                "type": "queue",
                "conversation": state.staff() | {"last_message": last.get(state.conversation_id)},
                "agents_online": self.staff.online(),
            }
        )

    def unavailable_text(self) -> str:
        return (
            "Nobody from our team is free to reply right now, sorry. You stay in our queue "
            "and a person will answer here as soon as one is free; meanwhile I can still "
            "answer questions. Leave your e-mail address below if you'd like the answer by "
            f"e-mail, or write to {self.settings.support_email}."
        )

    # --- called by the widget's side (bot/gateway/chat.py) -------------------------------
    async def published(self, conversation_id: str, messages: list[Message]) -> None:
        """Messages just stored in a conversation (anyone's): to the consoles watching it."""
        for message in messages:
            await self.staff.to_watchers(
                conversation_id,
                {
                    "type": "message",
                    "conversation_id": conversation_id,
                    "message": message.staff_wire(),
                },
            )

    async def queue_touched(self, conversation: Conversation) -> None:
        """A message in a handed-off conversation: the queue's preview changes."""
        if conversation.state in ("waiting", "claimed") and self.staff.online():
            await self._queue_changed(await self.db(self.queue.state, conversation.id))

    async def handed_off(self, conversation_id: str, reason: str) -> None:
        """The bot handed off (its reply carried `{"handoff": {"reason": ...}}`)."""
        state, started = await self.db(self.queue.start, conversation_id, reason)
        if not started:
            return  # already in the queue or with an agent
        log.info("conversation %s handed off (%s)", conversation_id, reason)
        if self.staff.online():
            await self._queue_changed(state)
            await self._tell_shopper(state)
        elif not await self._tell_unavailable(conversation_id):
            await self._tell_shopper(state)

    async def ensure_resumed(self, conversation: Conversation) -> None:
        """Before a message goes to Rasa: a conversation handed back while Rasa was
        unreachable is resumed first (RasaUnavailable keeps the message pending)."""
        if conversation.rasa_paused:
            await self.rasa.resume(conversation.id)
            await self.db(self.queue.set_rasa_paused, conversation.id, False)

    async def shopper_typing(self, conversation_id: str, on: bool) -> None:
        await self.staff.to_watchers(
            conversation_id,
            {"type": "typing", "conversation_id": conversation_id, "on": on, "who": "shopper"},
        )

    async def leave_contact(self, conversation_id: str, email: str) -> HandoffState:
        """A waiting shopper's e-mail address for a reply (HandoffError if not waiting)."""
        email = email.strip()
        if len(email) > 254 or not EMAIL.match(email):
            raise HandoffError("That doesn't look like an e-mail address; please check it.")
        state = await self.db(self.queue.set_contact, conversation_id, email)
        await self._tell_shopper(
            state, f"Thanks! If nobody can answer here, we'll reply to {email}."
        )
        await self._queue_changed(state)
        return state

    async def shopper_restarted(self, old: Conversation) -> None:
        """ "Start over" while handed off: the old conversation stays in the queue (the
        agent sees that the shopper left and may still reply by e-mail)."""
        if old.state not in ("waiting", "claimed"):
            return
        notice, _ = await self.db(
            self.transcripts.add_staff_message,
            old.id,
            "system",
            "The shopper started a new conversation and no longer sees this one.",
        )
        await self.published(old.id, [notice])
        await self._queue_changed(await self.db(self.queue.state, old.id))

    # --- called by the staff API --------------------------------------------------------
    async def claim(self, conversation_id: str, agent: StaffUser) -> HandoffState:
        async with self.shoppers.lock(conversation_id):
            before = await self.db(self.queue.state, conversation_id)
            state = await self.db(self.queue.claim, conversation_id, agent)
            if before.state == "claimed":
                return state  # this agent had it already
            try:
                await self.rasa.pause(conversation_id)
                await self.db(self.queue.set_rasa_paused, conversation_id, True)
            except RasaUnavailable as exc:
                # Safe all the same: nothing is sent to Rasa while an agent has it.
                log.warning("could not pause Rasa for %s: %s", conversation_id, exc)
            state = await self.db(self.queue.state, conversation_id)
        log.info("conversation %s claimed by agent %s", conversation_id, agent.id)
        await self._tell_shopper(
            state, f"{agent.first_name} from our team has joined the conversation."
        )
        await self._queue_changed(state)
        return state

    async def end(self, conversation_id: str, agent: StaffUser, outcome: str) -> HandoffState:
        """Hand back to the bot or close; either way Rasa answers the next message."""
        async with self.shoppers.lock(conversation_id):
            before = await self.db(self.queue.state, conversation_id)
            state = await self.db(self.queue.end, conversation_id, agent, outcome)
            if state.rasa_paused:
                try:
                    await self.rasa.resume(conversation_id)
                    await self.db(self.queue.set_rasa_paused, conversation_id, False)
                    state = await self.db(self.queue.state, conversation_id)
                except RasaUnavailable as exc:
                    log.warning("could not resume Rasa for %s yet: %s", conversation_id, exc)
        log.info("conversation %s %s by agent %s", conversation_id, outcome, agent.id)
        # Who ended it, for the shopper: the agent they talked to, or (never claimed) the team.
        who = agent.first_name if before.state == "claimed" else "Our team"
        if outcome == "handed_back":
            text = (
                f"{who} handed you back to our assistant. Ask me anything, or press "
                "\u201cTalk to a person\u201d to reach the team again."
            )
        else:
            text = f"{who} closed this conversation. If you need anything else, just write here."
        await self._tell_shopper(state, text)
        await self._queue_changed(state)
        return state

    async def reply(
        self,
        conversation_id: str,
        agent: StaffUser,
        client_id: str,
        text: str,
        suggestion: str | None,
        suggestion_source: str | None,
    ) -> tuple[Message, bool]:
        """An agent's message to the shopper; only the agent who has the conversation.
        Whether it used a suggestion is recorded: unchanged, edited, or none."""
        text = text.strip()
        if not text:
            raise HandoffError("Type a reply first.", status=400, code="empty_reply")
        if len(text) > MAX_REPLY_CHARS:
            raise HandoffError(f"Replies are limited to {MAX_REPLY_CHARS} characters.")
        state = await self.db(self.queue.state, conversation_id)
        if state.state != "claimed" or state.agent_id != agent.id:
            raise HandoffError("Claim this conversation before you reply.")
        if state.ended:
            raise HandoffError(
                "The shopper has left this conversation (they started a new one); reply by "
                "e-mail if they left an address."
            )
        source = (suggestion_source or "")[:64] or None  # the column's width
        if suggestion is None:
            use = "none"
        elif " ".join(suggestion.split()) == " ".join(text.split()):
            use = "unchanged"
        else:
            use = "edited"
        message, duplicate = await self.db(
            lambda: self.transcripts.add_staff_message(
                conversation_id,
                "agent",
                text,
                # Agents' ids live apart from the shopper's (":" is never in theirs).
                client_id=f"agent:{client_id}",
                author_id=agent.id,
                author_name=agent.first_name,
                suggestion_use=use,
                suggestion_source=source if suggestion else None,
            )
        )
        if duplicate:
            return message, True
        await self.db(self.queue.first_reply, conversation_id)
        await self.shoppers.broadcast(
            state.session_id, {"type": "message", "message": message.wire()}
        )
        await self.shoppers.broadcast(
            state.session_id,
            {"type": "typing", "on": False, "who": "agent", "name": agent.first_name},
        )
        await self.published(conversation_id, [message])
        await self._queue_changed(state)
        return message, False

    async def agent_typing(self, conversation_id: str, agent: StaffUser, on: bool) -> None:
        """Typing dots in the widget, only from the agent who has the conversation."""
        key = (conversation_id, agent.id)
        now = time.monotonic()
        if on and now - self._typing_seen.get(key, float("-inf")) < 1.0:
            return  # at most one "typing" a second per agent and conversation
        if on:
            self._typing_seen[key] = now
        elif self._typing_seen.pop(key, None) is None:
            return  # "stopped typing" without having started: nothing to tell
        state = await self.db(self.queue.state, conversation_id)
        if state.state != "claimed" or state.agent_id != agent.id or state.ended:
            return
        await self.shoppers.broadcast(
            state.session_id,
            {"type": "typing", "on": on, "who": "agent", "name": agent.first_name},
        )

    # --- background -----------------------------------------------------------------------
    async def _tell_unavailable(self, conversation_id: str) -> bool:
        """Tell the shopper nobody is free (once per hand-off); False if told already."""
        if not await self.db(self.queue.mark_unavailable, conversation_id):
            return False
        state = await self.db(self.queue.state, conversation_id)
        await self._tell_shopper(state, self.unavailable_text())
        await self._queue_changed(state)
        return True

    async def tell_overdue(self) -> int:
        """Tell each shopper whose hand-off nobody claimed in time; how many were told."""
        overdue = await self.db(self.queue.overdue, self.settings.staff_claim_timeout_seconds)
        return sum([await self._tell_unavailable(s.conversation_id) for s in overdue])

    @property
    def overdue_check_seconds(self) -> float:
        """How often to look for hand-offs nobody claimed in time."""
        return max(0.2, min(5.0, self.settings.staff_claim_timeout_seconds / 4))


__all__ = ["EMAIL", "HandoffDesk", "StaffHub"]
