"""The shoppers' open widget connections, and one lock per conversation."""

from __future__ import annotations

import contextlib
import json
from collections import defaultdict
from contextlib import AbstractAsyncContextManager
from typing import Any

import anyio
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from bot.gateway.locks import ConversationLocks
from bot.gateway.relay import Relay

# Closes sockets so clients reconnect and load what they missed (neither the widget nor
# the console treats it as final).
CLOSE_RESYNC = 1012


async def send(ws: WebSocket, frame: dict[str, Any]) -> None:
    """Send a frame; a tab that went away meanwhile is not an error."""
    if ws.application_state != WebSocketState.CONNECTED:
        return
    # A socket closing meanwhile raises one of these, depending on where it went away.
    with contextlib.suppress(
        WebSocketDisconnect,
        RuntimeError,
        OSError,
        anyio.ClosedResourceError,
        anyio.BrokenResourceError,
    ):
        await ws.send_text(json.dumps(frame, ensure_ascii=False))


async def close(ws: WebSocket, code: int) -> None:
    with contextlib.suppress(RuntimeError, OSError):
        await ws.close(code=code)


class Hub:
    """The open connections of each session (a shopper may have several tabs, on several
    gateways when `relay` joins them), and the lock that keeps one conversation's turns in
    order (Rasa replies, claims, hand-backs)."""

    def __init__(self, locks: ConversationLocks | None = None, relay: Relay | None = None) -> None:
        self._sockets: dict[str, set[WebSocket]] = defaultdict(set)
        self.locks = locks or ConversationLocks()
        self.relay = relay
        if relay is not None:
            relay.on("session", self.deliver)
            relay.on_resync(self.close_all)

    def join(self, session_id: str, ws: WebSocket) -> None:
        self._sockets[session_id].add(ws)

    def leave(self, session_id: str, ws: WebSocket) -> None:
        sockets = self._sockets.get(session_id)
        if sockets is not None:
            sockets.discard(ws)
            if not sockets:
                del self._sockets[session_id]

    def lock(
        self, conversation_id: str, *, shared: bool = False
    ) -> AbstractAsyncContextManager[None]:
        return self.locks.hold(conversation_id, shared=shared)

    def online(self, session_id: str) -> bool:
        """Whether the session has a socket on this gateway."""
        return bool(self._sockets.get(session_id))

    async def deliver(self, session_id: str, frame: dict[str, Any]) -> None:
        """To this gateway's sockets of the session."""
        for ws in list(self._sockets.get(session_id, ())):
            await send(ws, frame)

    async def broadcast(self, session_id: str, frame: dict[str, Any]) -> None:
        """To every socket of the session, on every gateway."""
        await self.deliver(session_id, frame)
        if self.relay is not None:
            await self.relay.publish("session", session_id, frame)

    async def close_all(self) -> None:
        for sockets in list(self._sockets.values()):
            for ws in list(sockets):
                await close(ws, CLOSE_RESYNC)
