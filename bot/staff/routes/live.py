"""`/staff/ws`: the console's live events (queue, messages, typing, agents online).

The handshake needs a live staff session cookie and an allowed Origin (a page on another
site cannot ride an agent's cookie into the socket). A refused socket is accepted and then
closed with 4401 (log in) or 4403 (origin): closed before accepting, a browser would see
only a failed handshake (1006) and could not tell the agent to log in again. Events out:
`ready`, `queue`, `message`, `typing`, `agents`, `pong`. Frames in: `watch` (the
conversation on screen), `typing` (the agent's), `ping`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from bot.gateway.hub import send
from bot.gateway.ratelimit import RateLimiter
from bot.logthrottle import Throttled, clip
from bot.staff.accounts import StaffUser
from bot.staff.console import StaffConsole
from bot.staff.deps import COOKIE, origin_allowed
from bot.staff.queue import HandoffError

log = logging.getLogger(__name__)
router = APIRouter()

CLOSE_LOGIN = 4401
CLOSE_ORIGIN = 4403
CLOSE_IDLE = 4408
MAX_FRAME_BYTES = 4096
# The console sends a ping every 25 s; a socket silent for much longer is gone.
IDLE_SECONDS = 120.0
# The session is checked again this often, so an expired session or a disabled account
# ends the socket even when the console sends nothing (logout closes it at once).
RECHECK_SECONDS = 15.0
_refused = Throttled(log)
# A console sends a frame on a keystroke at most (typing) and a ping: beyond this they are
# dropped, so one socket cannot keep the database thread busy.
_frames = RateLimiter(rate=10.0, burst=20)


@router.websocket("/staff/ws")
async def staff_socket(ws: WebSocket) -> None:
    console: StaffConsole = ws.app.state.staff
    await ws.accept()
    if not origin_allowed(console, ws.headers.get("origin")):
        _refused.warning("refused a staff socket from origin %r", clip(ws.headers.get("origin")))
        await ws.close(code=CLOSE_ORIGIN)
        return
    token = ws.cookies.get(COOKIE) or ""
    session = await console.db(console.accounts.session, token) if token else None
    if session is None:
        await ws.close(code=CLOSE_LOGIN)
        return
    agent = session.user
    staff = console.desk.staff
    staff.join(agent.id, ws, token)
    await send(ws, {"type": "ready", "agent": agent.public(), "agents_online": staff.online()})
    await staff.to_all({"type": "agents", "online": staff.online()})
    try:
        await _loop(ws, console, token, agent)
    except WebSocketDisconnect:
        pass
    finally:
        staff.leave(agent.id, ws)
        await staff.to_all({"type": "agents", "online": staff.online()})


async def _loop(ws: WebSocket, console: StaffConsole, token: str, agent: StaffUser) -> None:
    loop = asyncio.get_running_loop()
    last_frame = checked = loop.time()
    key = f"ws-{id(ws)}"
    while True:
        now = loop.time()
        wait = min(last_frame + IDLE_SECONDS, checked + RECHECK_SECONDS) - now
        try:
            event = await asyncio.wait_for(ws.receive(), max(0.0, wait))
        except TimeoutError:
            event = None
        now = loop.time()
        if now - checked >= RECHECK_SECONDS:
            checked = now
            if await console.db(console.accounts.session, token) is None:
                await ws.close(code=CLOSE_LOGIN)
                return
        if event is None:
            if now - last_frame >= IDLE_SECONDS:
                await ws.close(code=CLOSE_IDLE)
                return
            continue
        if event["type"] == "websocket.disconnect":
            return
        last_frame = now
        if _frames.retry_after(key) > 0:
            continue
        _frames.take(key)
        await _frame(ws, console, agent, event.get("text") or "")


async def _frame(ws: WebSocket, console: StaffConsole, agent: StaffUser, raw: str) -> None:
    if len(raw) > MAX_FRAME_BYTES:
        return
    try:
        frame: Any = json.loads(raw)
    except ValueError:
        return
    if not isinstance(frame, dict):
        return
    kind = frame.get("type")
    conversation_id = frame.get("conversation_id")
    if conversation_id is not None and (
        not isinstance(conversation_id, str) or len(conversation_id) > 64
    ):
        return
    if kind == "ping":
        await send(ws, {"type": "pong"})
    elif kind == "watch":
        console.desk.staff.watch(ws, conversation_id)
    elif kind == "typing" and conversation_id and isinstance(frame.get("on"), bool):
        # No such conversation: nothing to show anyone.
        with contextlib.suppress(HandoffError):
            await console.desk.agent_typing(conversation_id, agent, frame["on"])
