"""The shoppers' open widget connections, and one lock per conversation."""

from __future__ import annotations

import asyncio
import contextlib
import json
import weakref
from collections import defaultdict
from typing import Any

import anyio
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState


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


class Hub:
    """The open connections of each session (a shopper may have several tabs), and the
    lock that keeps one conversation's turns in order (Rasa replies, claims, hand-backs)."""

    def __init__(self) -> None:
        self._sockets: dict[str, set[WebSocket]] = defaultdict(set)
        # One lock per conversation, dropped when nobody holds it.
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    def join(self, session_id: str, ws: WebSocket) -> None:
        self._sockets[session_id].add(ws)

    def leave(self, session_id: str, ws: WebSocket) -> None:
        sockets = self._sockets.get(session_id)
        if sockets is not None:
            sockets.discard(ws)
            if not sockets:
                del self._sockets[session_id]

    def lock(self, conversation_id: str) -> asyncio.Lock:
        lock = self._locks.get(conversation_id)
        if lock is None:
            lock = self._locks[conversation_id] = asyncio.Lock()
        return lock

    def online(self, session_id: str) -> bool:
        return bool(self._sockets.get(session_id))

    async def broadcast(self, session_id: str, frame: dict[str, Any]) -> None:
        for ws in list(self._sockets.get(session_id, ())):
            await send(ws, frame)
