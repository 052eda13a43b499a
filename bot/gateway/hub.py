"""The shoppers' open widget connections, and one lock per conversation."""

from __future__ import annotations

import asyncio
import contextlib
import json
import weakref
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


# A socket that takes longer than this for one frame is a tab that stopped reading (or a
# client that reads on purpose slowly): it is closed, so that it holds up nobody (the
# relay delivers every gateway's frames one after another). It reconnects and resyncs.
SEND_TIMEOUT_SECONDS = 2.0
CLOSE_TRY_AGAIN = 1013
# Sockets closed for not reading: nothing more is sent to them (a close frame may be stuck
# behind the full buffer; the idle timeout then ends the connection).
_stalled: weakref.WeakSet[WebSocket] = weakref.WeakSet()


async def send(ws: WebSocket, frame: dict[str, Any]) -> None:
    """Send a frame; a tab that went away meanwhile is not an error, and one that does not
    take it within SEND_TIMEOUT_SECONDS is closed."""
    if ws.application_state != WebSocketState.CONNECTED or ws in _stalled:
        return
    # A socket closing meanwhile raises one of these, depending on where it went away.
    with contextlib.suppress(
        WebSocketDisconnect,
        RuntimeError,
        OSError,
        anyio.ClosedResourceError,
        anyio.BrokenResourceError,
    ):
        try:
            async with asyncio.timeout(SEND_TIMEOUT_SECONDS):
                await ws.send_text(json.dumps(frame, ensure_ascii=False))
        except TimeoutError:
            _stalled.add(ws)
            # Its buffer is full: a close frame may not get through either; if it does
            # not go out at once, the idle timeout ends the connection.
            with contextlib.suppress(Exception):
                async with asyncio.timeout(0.5):
                    await ws.close(code=CLOSE_TRY_AGAIN)


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
