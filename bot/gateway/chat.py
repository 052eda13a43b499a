"""One widget connection: hello, then messages, feedback and "start over".

The protocol is in docs/widget-protocol.md. Every shopper message is stored before it
is acknowledged and before Rasa sees it; it stays `pending` until Rasa's replies are
stored, so a Rasa outage never loses it (it is sent again on the next message or
reconnect). Messages of one conversation reach Rasa one at a time, in order.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect

from bot.gateway.dbthread import DbThread
from bot.gateway.hub import Hub, send
from bot.gateway.metrics import GatewayMetrics
from bot.gateway.rasa_client import RasaClient, RasaUnavailable
from bot.gateway.ratelimit import RateLimiter
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

RENEWED_NOTICE = {
    "expired": "Your previous chat expired, so we started a new one.",
    "bad_signature": "We couldn't restore your previous chat, so we started a new one.",
    "malformed": "We couldn't restore your previous chat, so we started a new one.",
}


class ProtocolError(ValueError):
    """A frame the widget should never send; the message is for the shopper."""


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
        self.session_limits = RateLimiter(
            settings.gateway_session_rate, settings.gateway_session_burst
        )
        self.ip_limits = RateLimiter(settings.gateway_ip_rate, settings.gateway_ip_burst)
        # Typing indicators are best effort: beyond this they are dropped without a word.
        self.typing_limits = RateLimiter(2.0, 4)
        self.allowed_origins = {o.rstrip("/") for o in settings.gateway_allowed_origins}
        self._refused_origin = Throttled(log)

    # --- connection -------------------------------------------------------------------
    async def serve(self, ws: WebSocket) -> None:
        origin = (ws.headers.get("origin") or "").rstrip("/")
        if origin not in self.allowed_origins:
            self.metrics.rejected.labels("origin").inc()
            self._refused_origin.warning("refused a widget connection from origin %r", clip(origin))
            await ws.close(code=CLOSE_ORIGIN)
            return
        await ws.accept()
        self.metrics.connections.inc()
        session_id: str | None = None
        try:
            session_id = await self._hello(ws)
            if session_id is None:
                return
            await self._loop(ws, session_id)
        except WebSocketDisconnect:
            pass
        finally:
            self.metrics.connections.dec()
            if session_id is not None:
                self.hub.leave(session_id, ws)

    async def _hello(self, ws: WebSocket) -> str | None:
        try:
            raw = await asyncio.wait_for(ws.receive_text(), HELLO_TIMEOUT_SECONDS)
            frame = json.loads(raw)
            if not isinstance(frame, dict) or frame.get("type") != "hello":
                raise ValueError
        except (TimeoutError, ValueError):
            await send(ws, error("bad_request", "The chat could not start; please reload."))
            await ws.close(code=CLOSE_PROTOCOL)
            return None
        token, notice = frame.get("token"), None
        session = None
        if token:
            try:
                session = self.signer.verify(str(token))
            except InvalidToken as exc:
                notice = RENEWED_NOTICE[exc.reason]
        if session is None:
            token, session = self.signer.issue()
        conversation = await self.db(self.store.open_session, session.session_id)
        history = await self.db(self.store.history, conversation.id)
        handoff = await self.db(self.desk.queue.state, conversation.id)
        self.hub.join(session.session_id, ws)
        await send(
            ws,
            {
                "type": "session",
                "token": token,
                "session_id": session.session_id,
                "renewed": notice is not None,
                "notice": notice,
                "history": [m.wire() for m in history],
                "handoff": handoff.widget(),
                "limits": {"max_message_bytes": self.settings.gateway_max_message_bytes},
            },
        )
        # Messages kept while the assistant was down are answered now.
        if any(m.status == "pending" for m in history):
            await self._answer_pending(session.session_id, conversation)
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
            frame = json.loads(raw)
            if not isinstance(frame, dict):
                raise ProtocolError("Sorry, the chat sent something we didn't understand.")
            kind = frame.get("type")
            if kind == "message":
                await self._message(ws, session_id, frame)
            elif kind == "feedback":
                await self._feedback(ws, session_id, frame)
            elif kind == "restart":
                await self._restart(session_id)
            elif kind == "ping":
                await send(ws, {"type": "pong"})
            elif kind == "typing":
                await self._typing(session_id, frame)
            elif kind == "contact":
                await self._contact(ws, session_id, frame)
            else:
                raise ProtocolError("Sorry, the chat sent something we didn't understand.")
            return str(kind)
        except (ValueError, ProtocolError) as exc:
            message = (
                str(exc)
                if isinstance(exc, ProtocolError)
                else "Sorry, the chat sent something we didn't understand."
            )
            await self._refuse(ws, "bad_request", message, id=_client_id_of(raw))
            return None

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
        if not isinstance(text, str) or not text.strip():
            raise ProtocolError("Type a message first.")
        payload = frame.get("payload")
        if payload is not None and not isinstance(payload, str):
            raise ProtocolError("Sorry, that button could not be sent; please type your answer.")

        ip = ws.client.host if ws.client else "unknown"
        wait = max(self.session_limits.retry_after(session_id), self.ip_limits.retry_after(ip))
        if wait > 0:
            await self._refuse(
                ws,
                "rate_limited",
                f"You're sending messages faster than we can answer; yours goes out in "
                f"{max(1, round(wait))} s.",
                id=client_id,
                retry_after=round(wait, 1),
            )
            return
        self.session_limits.take(session_id)
        self.ip_limits.take(ip)

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
        could set slots)."""
        if payload is not None and (
            payload in ALWAYS_ALLOWED_PAYLOADS
            or payload in self.store.offered_payloads(conversation.id)
        ):
            return payload
        return text.lstrip("/ ") or text

    async def _answer_pending(
        self, session_id: str, conversation: Conversation, only: Message | None = None
    ) -> None:
        """Answer the conversation's waiting messages in order (or just `only`, when
        nothing older waits)."""
        async with self.hub.lock(conversation.id):
            # Read again under the lock: an agent may have claimed it meanwhile (the claim
            # took the lock and handed the waiting messages to the agent).
            current = await self.db(self.store.conversation, conversation.id)
            if current is None:
                return
            if current.state == "claimed":
                # Stored as pending just before the claim (possible with several database
                # threads): the agent has it now, and Rasa must never see it.
                await self.db(self.store.pending_to_agent, conversation.id)
                return
            pending = await self.db(self.store.pending, conversation.id)
            if only is not None:
                pending = [m for m in pending if m.id == only.id]
            for message in pending:
                if not await self._answer(session_id, current, message):
                    return

    async def _answer(self, session_id: str, conversation: Conversation, message: Message) -> bool:
        started = time.perf_counter()
        await self.hub.broadcast(session_id, {"type": "typing", "on": True})
        try:
            await self.desk.ensure_resumed(conversation)
            replies = await self.rasa.send(
                message.conversation_id, message.payload or message.text or ""
            )
        except RasaUnavailable as exc:
            log.warning("message %s kept for later: %s", message.id, exc)
            self.metrics.rasa_errors.inc()
            await self.hub.broadcast(session_id, {"type": "typing", "on": False})
            await self.hub.broadcast(
                session_id,
                error(
                    "assistant_unavailable",
                    "Our assistant can't answer right now. Your message is saved and will be "
                    "answered as soon as it's back. For anything urgent, write to "
                    f"{self.settings.support_email}.",
                    id=message.client_id,
                ),
            )
            return False
        stored = await self.db(self.store.answer, message.id, replies)
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

    async def _feedback(self, ws: WebSocket, session_id: str, frame: dict[str, Any]) -> None:
        message_id, value = frame.get("message_id"), frame.get("value")
        if not isinstance(message_id, int) or value not in ("up", "down"):
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

    async def _restart(self, session_id: str) -> None:
        old = await self.db(self.store.current, session_id)
        await self.db(self.store.restart, session_id)
        await self.hub.broadcast(session_id, {"type": "reset"})
        await self.desk.shopper_restarted(old)

    async def _typing(self, session_id: str, frame: dict[str, Any]) -> None:
        """The shopper is typing: shown to an agent who has the conversation open."""
        if not isinstance(frame.get("on"), bool):
            raise ProtocolError("Sorry, the chat sent something we didn't understand.")
        if self.typing_limits.retry_after(session_id) > 0:
            return
        self.typing_limits.take(session_id)
        conversation = await self.db(self.store.current, session_id)
        if conversation.state == "claimed":
            await self.desk.shopper_typing(conversation.id, frame["on"])

    async def _contact(self, ws: WebSocket, session_id: str, frame: dict[str, Any]) -> None:
        """A shopper waiting for a person leaves an e-mail address for the reply."""
        email = frame.get("email")
        if not isinstance(email, str):
            raise ProtocolError("Please type your e-mail address.")
        wait = self.session_limits.retry_after(session_id)
        if wait > 0:
            await self._refuse(
                ws,
                "rate_limited",
                f"Please wait {max(1, round(wait))} s before trying again.",
                retry_after=round(wait, 1),
            )
            return
        self.session_limits.take(session_id)
        conversation = await self.db(self.store.current, session_id)
        try:
            await self.desk.leave_contact(conversation.id, email)
        except HandoffError as exc:
            await self._refuse(ws, "bad_request", exc.message, field="email")
            return
        await self.hub.broadcast(session_id, {"type": "contact_saved", "email": email.strip()})


def _client_id_of(raw: str) -> str | None:
    """The id of a refused message, so the widget can mark the right bubble."""
    match = re.search(r'"id"\s*:\s*"([A-Za-z0-9_-]{1,64})"', raw[:4096])
    return match.group(1) if match else None
