"""One widget connection: hello, then messages, feedback and "start over".

The protocol is in docs/widget-protocol.md. Every shopper message is stored before it
is acknowledged and before Rasa sees it; it stays `pending` until Rasa's replies are
stored, so a Rasa outage never loses it (it is sent again when Rasa is back: on the next
message, on reconnect, or by the gateway's retry loop). A message Rasa takes but answers
with an error or with nothing is tried `gateway_reply_attempts` times, then marked
`failed`: the shopper is told and offered a person, and the conversation goes on.
Messages of one conversation reach Rasa one at a time, in order.

Every frame a client sends gets an answer or a `bad_request`/`rate_limited` error; none
closes the socket (except a missing hello, a flood of connections, or idleness).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
import time
import unicodedata
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect

from bot.gateway.connections import ConnectionCap
from bot.gateway.dbthread import DbThread
from bot.gateway.hub import Hub, send
from bot.gateway.metrics import GatewayMetrics
from bot.gateway.rasa_client import RasaClient, RasaFailed, RasaTimedOut, RasaUnavailable
from bot.gateway.ratelimit import Buckets, RateLimiter
from bot.gateway.redis_client import UNAVAILABLE
from bot.gateway.tokens import InvalidToken, TokenSigner
from bot.gateway.transcripts import Conversation, Message, TranscriptStore
from bot.logthrottle import Throttled, clip
from bot.settings import Settings
from bot.staff.desk import HandoffDesk
from bot.staff.queue import HandoffError

log = logging.getLogger(__name__)

CLIENT_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
# The widget's own "Talk to a person" button may always be pressed.
ALWAYS_ALLOWED_PAYLOADS = frozenset({"/human_handoff"})
HELLO_TIMEOUT_SECONDS = 10.0
CLOSE_IDLE = 4408
CLOSE_PROTOCOL = 4400
CLOSE_ORIGIN = 4403
CLOSE_TOO_MANY = 4429
# Database ids fit in 63 bits; anything else a client sends as an id is a bad request.
MAX_ID = 2**63 - 1
RETRY_PAUSE_SECONDS = 0.5  # between tries of a message Rasa failed to answer
MESSAGE_MARKER = "knt_message_id"  # the gateway's message id, in Rasa's metadata
UNDERSTOOD = "Sorry, the chat sent something we didn't understand."
# The button a failed message offers (the hand-off reason tells the staff why).
FAILED_HANDOFF_PAYLOAD = '/human_handoff{"handoff_reason":"assistant_error"}'

RENEWED_NOTICE = {
    "expired": "Your previous chat expired, so we started a new one.",
    "bad_signature": "We couldn't restore your previous chat, so we started a new one.",
    "malformed": "We couldn't restore your previous chat, so we started a new one.",
}


class ProtocolError(ValueError):
    """A frame the widget should never send; the message is for the shopper."""


def parse_frame(raw: str) -> dict[str, Any]:
    """A frame as a JSON object, or ProtocolError for anything else (invalid JSON, a
    nesting deep enough to exhaust the parser, a top level that is not an object)."""
    try:
        frame = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise ProtocolError(UNDERSTOOD) from exc
    if not isinstance(frame, dict):
        raise ProtocolError(UNDERSTOOD)
    return frame


def storable(text: str) -> str:
    """`text` as every database can store it: a lone surrogate (JSON allows "\\ud83d"
    alone) becomes "?" and NUL characters go (PostgreSQL refuses both)."""
    return text.encode("utf-8", "replace").decode("utf-8").replace("\x00", "")


def as_id(value: object) -> int | None:
    """A database id a client sent, or None when it is not one (bool, float, string,
    or an integer no database column holds)."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_ID:
        return None
    return value


# Leading characters that would let typed text start with "/" once Rasa strips it:
# whitespace, slashes, and invisible format characters (zero-width space, BOM, ...).
def _strip_command(text: str) -> str:
    i = 0
    while i < len(text) and (
        text[i] == "/" or text[i].isspace() or unicodedata.category(text[i]) == "Cf"
    ):
        i += 1
    return text[i:]


def error(code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"type": "error", "code": code, "message": message, "id": None} | extra


class ChatService:
    """What the gateway does with widget connections; one per app."""

    def __init__(
        self,
        settings: Settings,
        store: TranscriptStore,
        rasa: RasaClient,
        metrics: GatewayMetrics,
        hub: Hub,
        db: DbThread,
        desk: HandoffDesk,
        buckets: Buckets | None = None,
        connections: ConnectionCap | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.rasa = rasa
        self.metrics = metrics
        self.hub = hub
        self.db = db
        self.desk = desk
        self.signer = TokenSigner(
            settings.gateway_secret.get_secret_value(), settings.gateway_session_ttl_seconds
        )
        # Counted in Redis when several gateways share it (`buckets`), else here.
        self.buckets = buckets or Buckets()
        self.session_limits = RateLimiter(
            settings.gateway_session_rate, settings.gateway_session_burst, name="session"
        )
        self.ip_limits = RateLimiter(settings.gateway_ip_rate, settings.gateway_ip_burst, name="ip")
        # Typing indicators are best effort: beyond this they are dropped without a word.
        self.typing_limits = RateLimiter(2.0, 4, name="typing")
        # Every other frame (feedback, restart, contact, ping, history) of one session.
        self.frame_limits = RateLimiter(5.0, 20, name="frame")
        # New connections (each one's hello reads the database) of one IP address.
        self.hello_limits = RateLimiter(2.0, 30, name="hello")
        self.allowed_origins = {o.rstrip("/") for o in settings.gateway_allowed_origins}
        self._refused_origin = Throttled(log)
        self._refused_flood = Throttled(log)
        self._retry_waits = Throttled(log)
        # Open connections per client IP (on every gateway, with Redis).
        self.connections = connections or ConnectionCap(settings.gateway_max_connections_per_ip)
        # The client of each session with an open connection, for the actions' guessing
        # limits (a message answered later by the retry loop has no socket at hand).
        self._client_ip: dict[str, str] = {}

    # --- connection -------------------------------------------------------------------
    async def serve(self, ws: WebSocket) -> None:
        origin = (ws.headers.get("origin") or "").rstrip("/")
        if origin not in self.allowed_origins:
            self.metrics.rejected.labels("origin").inc()
            self._refused_origin.warning("refused a widget connection from origin %r", clip(origin))
            await ws.close(code=CLOSE_ORIGIN)
            return
        ip = client_ip(ws)
        ticket = await self.connections.open(ip)
        if ticket is None or await self.buckets.take((self.hello_limits, ip)) > 0:
            if ticket is not None:
                await self.connections.close(ip, ticket)
            # Accepted only to say why: the widget shows it instead of reconnecting at once.
            self.metrics.rejected.labels("connections").inc()
            self._refused_flood.warning("refused a widget connection: too many from %s", ip)
            await ws.accept()
            await send(
                ws,
                error(
                    "too_many_connections",
                    "Too many chats are open from your network; close a few tabs and "
                    "try again in a minute.",
                ),
            )
            await ws.close(code=CLOSE_TOO_MANY)
            return
        await ws.accept()
        self.metrics.connections.inc()
        session_id: str | None = None
        try:
            session_id = await self._hello(ws, ip)
            if session_id is None:
                return
            # Messages kept while the assistant was down are answered now.
            try:
                conversation = await self.db(self.store.current, session_id)
                await self._answer_pending(session_id, conversation)
            except Exception:
                # They stay pending (the retry loop tries again); the chat goes on.
                log.exception("answering the waiting messages of a reconnected chat failed")
                await send(ws, {"type": "typing", "on": False})
            await self._loop(ws, session_id)
        except WebSocketDisconnect:
            pass
        finally:
            self.metrics.connections.dec()
            await self.connections.close(ip, ticket)
            if session_id is not None:
                self.hub.leave(session_id, ws)
                if not self.hub.online(session_id):
                    self._client_ip.pop(session_id, None)

    async def _hello(self, ws: WebSocket, ip: str) -> str | None:
        try:
            message = await asyncio.wait_for(ws.receive(), HELLO_TIMEOUT_SECONDS)
            if message["type"] == "websocket.disconnect":
                return None
            raw = message.get("text")
            if raw is None or len(raw) > self.settings.gateway_max_message_bytes:
                raise ProtocolError(UNDERSTOOD)
            frame = parse_frame(raw)
            if frame.get("type") != "hello":
                raise ProtocolError(UNDERSTOOD)
        except (TimeoutError, ProtocolError):
            await send(ws, error("bad_request", "The chat could not start; please reload."))
            await ws.close(code=CLOSE_PROTOCOL)
            return None
        token, notice = frame.get("token"), None
        session = None
        if token:  # any invalid token (of any type) starts a new session
            try:
                session = self.signer.verify(token)
            except InvalidToken as exc:
                notice = RENEWED_NOTICE[exc.reason]
        if session is None:
            token, session = self.signer.issue()
        conversation = await self.db(self.store.open_session, session.session_id)
        history, more = await self.db(
            self.store.recent, conversation.id, self.settings.gateway_history_messages
        )
        handoff = await self.db(self.desk.queue.state, conversation.id)
        await send(
            ws,
            {
                "type": "session",
                "token": token,
                "session_id": session.session_id,
                "renewed": notice is not None,
                "notice": notice,
                "history": [m.wire() for m in history],
                "more_history": more,
                "handoff": handoff.widget(),
                "limits": {"max_message_bytes": self.settings.gateway_max_message_bytes},
            },
        )
        # Joined only now, so no live frame comes before the session frame (which makes
        # the widget start afresh); what was stored meanwhile is sent next (a message that
        # is also broadcast arrives twice, and the widget keeps one: by id).
        self.hub.join(session.session_id, ws)
        self._client_ip[session.session_id] = ip
        try:
            newest = history[-1].id if history else 0
            for stored in await self.db(self.store.after, conversation.id, newest):
                await send(ws, {"type": "message", "message": stored.wire()})
            # A claim or hand-back in between was broadcast before this socket joined.
            now = (await self.db(self.desk.queue.state, conversation.id)).widget()
            if now != handoff.widget():
                await send(ws, {"type": "handoff_state", "handoff": now})
        except BaseException:
            self.hub.leave(session.session_id, ws)
            raise
        return session.session_id

    async def _loop(self, ws: WebSocket, session_id: str) -> None:
        idle = self.settings.gateway_idle_seconds
        last_message = time.monotonic()
        while True:
            try:
                event = await asyncio.wait_for(
                    ws.receive(), max(0.0, last_message + idle - time.monotonic())
                )
            except TimeoutError:
                await send(ws, {"type": "idle"})
                await ws.close(code=CLOSE_IDLE)
                return
            if event["type"] == "websocket.disconnect":
                return
            raw = event.get("text")
            if raw is None and event.get("bytes") is not None:
                raw = event["bytes"].decode("utf-8", errors="replace")
            if raw is None:
                continue
            kind = await self._frame(ws, session_id, raw)
            if kind in ("message", "restart"):
                last_message = time.monotonic()

    async def _frame(self, ws: WebSocket, session_id: str, raw: str) -> str | None:
        limit = self.settings.gateway_max_message_bytes
        if len(raw.encode("utf-8")) > limit:
            await self._refuse(
                ws,
                "too_large",
                f"That message is too long (the limit is about {limit} characters). "
                "Please shorten it or split it in two.",
                id=_client_id_of(raw),
            )
            return None
        try:
            frame = parse_frame(raw)
            kind = frame.get("type")
            if kind == "message":
                await self._message(ws, session_id, frame)
                return "message"
            if kind == "typing":
                await self._typing(session_id, frame)
                return "typing"
            handler = {
                "feedback": self._feedback,
                "restart": self._restart,
                "ping": self._ping,
                "contact": self._contact,
                "history": self._history,
            }.get(kind if isinstance(kind, str) else "")
            if handler is None:
                raise ProtocolError(UNDERSTOOD)
            if await self._over_limit(ws, self.frame_limits, session_id):
                return None
            await handler(ws, session_id, frame)
            return str(kind)
        except ProtocolError as exc:
            await self._refuse(ws, "bad_request", str(exc), id=_client_id_of(raw))
            return None
        except (WebSocketDisconnect, asyncio.CancelledError):
            raise
        except Exception:
            # A bug or a database hiccup on one frame must not end the shopper's chat:
            # what they sent before is stored, and the next frame is served as usual.
            log.exception("a %s frame failed", clip(str(_frame_type(raw))))
            self.metrics.rejected.labels("server_error").inc()
            await send(
                ws,
                error(
                    "server_error",
                    "Sorry, something went wrong on our side; please try again.",
                    id=_client_id_of(raw),
                ),
            )
            return None

    async def _ping(self, ws: WebSocket, _session_id: str, _frame: dict[str, Any]) -> None:
        await send(ws, {"type": "pong"})

    async def _history(self, ws: WebSocket, session_id: str, frame: dict[str, Any]) -> None:
        """Older messages of the conversation, before message id `before`."""
        before = as_id(frame.get("before"))
        if before is None:
            raise ProtocolError("Sorry, older messages could not be loaded.")
        conversation = await self.db(self.store.current, session_id)
        messages, more = await self.db(
            self.store.recent, conversation.id, self.settings.gateway_history_messages, before
        )
        await send(
            ws,
            {
                "type": "history",
                "before": before,
                "messages": [m.wire() for m in messages],
                "more_history": more,
            },
        )

    async def _over_limit(self, ws: WebSocket, limits: RateLimiter, key: str) -> bool:
        """Take one from `key`'s bucket; if it is empty, say so and when to try again."""
        wait = await self.buckets.take((limits, key))
        if wait <= 0:
            return False
        await self._refuse(
            ws,
            "rate_limited",
            f"Please wait {max(1, round(wait))} s before trying again.",
            retry_after=max(0.1, round(wait, 1)),
        )
        return True

    async def _refuse(self, ws: WebSocket, code: str, message: str, **extra: Any) -> None:
        """Tell the shopper why a frame was not taken (and count it)."""
        self.metrics.rejected.labels(code).inc()
        await send(ws, error(code, message, **extra))

    # --- frames -----------------------------------------------------------------------
    async def _message(self, ws: WebSocket, session_id: str, frame: dict[str, Any]) -> None:
        client_id = frame.get("id")
        if not isinstance(client_id, str) or not CLIENT_ID.match(client_id):
            raise ProtocolError("Sorry, that message could not be sent; please reload the page.")
        text = frame.get("text")
        if not isinstance(text, str) or not storable(text).strip():
            raise ProtocolError("Type a message first.")
        text = storable(text)
        payload = frame.get("payload")
        if payload is not None and not isinstance(payload, str):
            raise ProtocolError("Sorry, that button could not be sent; please type your answer.")
        payload = storable(payload) if payload is not None else None

        ip = client_ip(ws)
        wait = await self.buckets.take((self.session_limits, session_id), (self.ip_limits, ip))
        if wait > 0:
            await self._refuse(
                ws,
                "rate_limited",
                f"You're sending messages faster than we can answer; yours goes out in "
                f"{max(1, round(wait))} s.",
                id=client_id,
                retry_after=max(0.1, round(wait, 1)),
            )
            return

        conversation, message, duplicate, queue = await self.db(
            self._accept, session_id, client_id, text.strip(), payload
        )
        await send(ws, {"type": "ack", "id": client_id, "duplicate": duplicate})
        if duplicate:
            self.metrics.duplicates.inc()
            return
        self.metrics.messages.labels("shopper").inc()
        await self.hub.broadcast(session_id, {"type": "message", "message": message.wire()})
        await self.desk.published(conversation.id, [message])
        await self.desk.queue_touched(conversation)
        if message.status == "agent":
            return  # an agent has this conversation: Rasa never sees it
        await self._answer_pending(session_id, conversation, only=None if queue else message)

    def _accept(
        self, session_id: str, client_id: str, text: str, payload: str | None
    ) -> tuple[Conversation, Message, bool, bool]:
        """Store a shopper message (in the database thread): the conversation, the stored
        message, whether it was a duplicate, and whether older messages wait before it.
        While an agent has the conversation the message is theirs, never Rasa's."""
        conversation = self.store.current(session_id)
        message, duplicate = self.store.add_shopper(
            conversation,
            client_id,
            text,
            self._rasa_text(conversation, text, payload),
            status="agent" if conversation.state == "claimed" else "pending",
        )
        queue = not duplicate and self.store.pending_before(conversation.id, message.id)
        return conversation, message, duplicate, queue

    def _rasa_text(self, conversation: Conversation, text: str, payload: str | None) -> str:
        """What Rasa gets: a button's payload only if the bot offered that button here;
        typed text never reaches Rasa as a command (`/intent{...}` would skip the NLU and
        could set slots, `/restart` would end the conversation in silence): what could
        make it start with "/" is cut off, and text that was nothing else is "" (answered
        by the gateway, never sent)."""
        if payload is not None and (
            payload in ALWAYS_ALLOWED_PAYLOADS
            or payload in self.store.offered_payloads(conversation.id)
        ):
            return payload
        return _strip_command(text)

    async def _answer_pending(
        self,
        session_id: str,
        conversation: Conversation,
        only: Message | None = None,
        tell_unavailable: bool = True,
        shared_lock: bool = False,
    ) -> bool:
        """Answer the conversation's waiting messages in order (or just `only`, when
        nothing older waits); False if Rasa could not be reached (they wait on).
        `tell_unavailable`: say so to the shopper (not on every round of the retry loop).
        `shared_lock`: only under the lock of every gateway (see ConversationLocks)."""
        async with self.hub.lock(conversation.id, shared=shared_lock):
            # Read again under the lock: an agent may have claimed it meanwhile (the claim
            # took the lock and handed the waiting messages to the agent).
            current = await self.db(self.store.conversation, conversation.id)
            if current is None:
                return True
            if current.state == "claimed":
                # Stored as pending just before the claim (possible with several database
                # threads): the agent has it now, and Rasa must never see it.
                await self.db(self.store.pending_to_agent, conversation.id)
                return True
            pending = await self.db(self.store.pending, conversation.id)
            if only is not None:
                pending = [m for m in pending if m.id == only.id]
            for message in pending:
                if not await self._answer(session_id, current, message, tell_unavailable):
                    return False
            return True

    async def answer_waiting(self) -> None:
        """The retry loop's round: answer every conversation whose messages wait for Rasa
        (it was unreachable), once it is reachable again, whether or not the shopper is
        still connected (they see the answers when they come back)."""
        waiting = await self.db(self.store.waiting_conversations)
        # Both must answer: Rasa answers [] while the action server is down, and each
        # try would add a turn to Rasa's tracker.
        if not waiting or not await self.rasa.reachable():
            return
        if not await self.rasa.actions_reachable():
            return
        for session_id, conversation_id in waiting:
            conversation = await self.db(self.store.conversation, conversation_id)
            # Every gateway's loop finds the same messages (and the gateway the shopper is
            # on may be answering one right now): the lock all gateways take lets one ask
            # Rasa, and the others then find nothing waiting. Without Redis at hand
            # the round waits for it (UNAVAILABLE) rather than risk asking twice.
            try:
                answered = conversation is None or await self._answer_pending(
                    session_id, conversation, tell_unavailable=False, shared_lock=True
                )
            except UNAVAILABLE as exc:
                self._retry_waits.warning("messages waiting for Rasa wait for Redis too: %s", exc)
                return
            if not answered:
                return  # unreachable again: the next round tries

    async def _answer(
        self,
        session_id: str,
        conversation: Conversation,
        message: Message,
        tell_unavailable: bool = True,
    ) -> bool:
        started = time.perf_counter()
        # Older rows may lack the payload; typed text is never a command (see _rasa_text).
        text = message.payload
        if text is None:
            text = _strip_command(message.text or "")
        await self.hub.broadcast(session_id, {"type": "typing", "on": True})
        status = "answered"
        try:
            if text:
                await self.desk.ensure_resumed(conversation)
                replies = await self._ask_rasa(session_id, message, text)
            else:  # only slashes and spaces: nothing Rasa could understand
                replies = [{"text": "I didn't catch that. Could you type your question in words?"}]
        except RasaUnavailable as exc:
            log.warning("message %s kept for later: %s", message.id, exc)
            self.metrics.rasa_errors.inc()
            await self.hub.broadcast(session_id, {"type": "typing", "on": False})
            if tell_unavailable:
                await self.hub.broadcast(
                    session_id,
                    error(
                        "assistant_unavailable",
                        "Our assistant can't answer right now. Your message is saved and will "
                        "be answered as soon as it's back. For anything urgent, write to "
                        f"{self.settings.support_email}.",
                        id=message.client_id,
                    ),
                )
            return False
        except RasaFailed as exc:
            log.error("message %s failed: %s", message.id, exc)
            self.metrics.failed.inc()
            replies, status = [self._failed_reply(isinstance(exc, RasaTimedOut))], "failed"
        stored = await self.db(self.store.answer, message.id, replies, status)
        handoff_reason = None
        for bot_message in stored:
            self.metrics.messages.labels("bot").inc()
            await self.hub.broadcast(session_id, {"type": "message", "message": bot_message.wire()})
            custom = bot_message.custom or {}
            if "fallback" in custom:
                self.metrics.fallbacks.inc()
            handoff = custom.get("handoff")
            if isinstance(handoff, dict):
                handoff_reason = str(handoff.get("reason") or "unknown")[:64]
                self.metrics.handoffs.labels(handoff_reason).inc()
                await self.hub.broadcast(session_id, {"type": "handoff", "reason": handoff_reason})
        await self.desk.published(message.conversation_id, stored)
        if handoff_reason is not None:
            await self.desk.handed_off(message.conversation_id, handoff_reason)
        else:
            await self.desk.queue_touched(conversation)
        # "Typing" ends once the whole reply is out: the widget (and the load bench) can
        # take it as the end of the turn.
        await self.hub.broadcast(session_id, {"type": "typing", "on": False})
        self.metrics.reply_seconds.observe(time.perf_counter() - started)
        return True

    @property
    def _attempts(self) -> int:
        return max(1, self.settings.gateway_reply_attempts)

    async def _ask_rasa(self, session_id: str, message: Message, text: str) -> list[dict[str, Any]]:
        """Rasa's replies, trying again (a bounded number of times) when it fails to answer.
        The metadata lets the actions limit ownership guesses per client (not per chat)."""
        metadata: dict[str, Any] = {
            "session": hashlib.sha256(session_id.encode()).hexdigest()[:32],
            # Finds this message's turn in Rasa's tracker after a timeout.
            MESSAGE_MARKER: message.id,
        }
        ip = self._client_ip.get(session_id)
        if ip is not None and ip != "unknown":  # never one bucket shared by many shoppers
            metadata["client_ip"] = ip
        for attempt in range(1, self._attempts + 1):
            try:
                return await self.rasa.send(message.conversation_id, text, metadata)
            except RasaTimedOut:
                # Rasa may still be running the turn (an action's write, say): never send it
                # again unless Rasa's tracker shows it never took the message.
                state, replies = await self.rasa.turn_replies(
                    message.conversation_id,
                    MESSAGE_MARKER,
                    message.id,
                    self.settings.gateway_rasa_timeout_seconds,
                )
                if state == "finished" and replies:
                    return replies
                if state == "unfinished" or attempt == self._attempts:
                    raise
                log.warning("message %s, try %d: Rasa timed out (%s)", message.id, attempt, state)
            except RasaFailed as exc:
                if attempt == self._attempts:
                    raise
                log.warning("message %s, try %d: %s; trying again", message.id, attempt, exc)
                await asyncio.sleep(RETRY_PAUSE_SECONDS)
        raise AssertionError("unreachable")

    def _failed_reply(self, timed_out: bool) -> dict[str, Any]:
        """What the shopper sees for a message Rasa could not answer: said plainly, with a
        person offered (the button's payload is allowed: it is offered here). After a
        timeout the turn may still have done something: nothing is claimed either way."""
        text = (
            "Sorry, that is taking us far too long and I can't give you an answer. If you had "
            "confirmed a request, please don't send it again: a person from our team can "
            "check whether it went through."
            if timed_out
            else "Sorry, something went wrong on our side and I couldn't answer that message. "
            "You can try saying it another way, or talk to a person from our team."
        )
        return {
            "text": text,
            "buttons": [{"title": "Talk to a person", "payload": FAILED_HANDOFF_PAYLOAD}],
            "custom": {"failed": True},
        }

    async def _feedback(self, ws: WebSocket, session_id: str, frame: dict[str, Any]) -> None:
        message_id, value = as_id(frame.get("message_id")), frame.get("value")
        if message_id is None or value not in ("up", "down"):
            raise ProtocolError("Sorry, that rating could not be saved.")
        if not await self.db(self.store.set_feedback, session_id, message_id, value):
            await send(
                ws,
                error("not_found", "That answer is no longer in this chat.", message_id=message_id),
            )
            return
        await self.hub.broadcast(
            session_id, {"type": "feedback_saved", "message_id": message_id, "value": value}
        )

    async def _restart(self, _ws: WebSocket, session_id: str, _frame: dict[str, Any]) -> None:
        old = await self.db(self.store.current, session_id)
        await self.db(self.store.restart, session_id)
        await self.hub.broadcast(session_id, {"type": "reset"})
        await self.desk.shopper_restarted(old)

    async def _typing(self, session_id: str, frame: dict[str, Any]) -> None:
        """The shopper is typing: shown to an agent who has the conversation open."""
        if not isinstance(frame.get("on"), bool):
            raise ProtocolError(UNDERSTOOD)
        if await self.buckets.take((self.typing_limits, session_id)) > 0:
            return
        conversation = await self.db(self.store.current, session_id)
        if conversation.state == "claimed":
            await self.desk.shopper_typing(conversation.id, frame["on"])

    async def _contact(self, ws: WebSocket, session_id: str, frame: dict[str, Any]) -> None:
        """A shopper waiting for a person leaves an e-mail address for the reply."""
        email = frame.get("email")
        if not isinstance(email, str):
            raise ProtocolError("Please type your e-mail address.")
        # A stored address notifies the team: as scarce as messages.
        if await self._over_limit(ws, self.session_limits, session_id):
            return
        conversation = await self.db(self.store.current, session_id)
        try:
            await self.desk.leave_contact(conversation.id, email)
        except HandoffError as exc:
            await self._refuse(ws, "bad_request", exc.message, field="email")
            return
        await self.hub.broadcast(session_id, {"type": "contact_saved", "email": email.strip()})


def client_ip(ws: WebSocket) -> str:
    return ws.client.host if ws.client else "unknown"


def _frame_type(raw: str) -> str | None:
    match = re.search(r'"type"\s*:\s*"([a-z_]{1,20})"', raw[:4096])
    return match.group(1) if match else None


def _client_id_of(raw: str) -> str | None:
    """The id of a refused message, so the widget can mark the right bubble."""
    match = re.search(r'"id"\s*:\s*"([A-Za-z0-9_-]{1,64})"', raw[:4096])
    return match.group(1) if match else None
