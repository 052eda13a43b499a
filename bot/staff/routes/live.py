"""`/staff/ws`: the console's live events (queue, messages, typing, agents online).

The handshake needs a live staff session cookie and an allowed Origin (a page on another
site cannot ride an agent's cookie into the socket); otherwise it is refused before it is
accepted. Events out: `ready`, `queue`, `message`, `typing`, `agents`, `pong`. Frames in:
`watch` (the conversation open on screen), `typing` (the agent's), `ping`.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from bot.gateway.hub import send
from bot.staff.accounts import StaffSession
from bot.staff.console import StaffConsole
from bot.staff.deps import COOKIE, origin_allowed

log = logging.getLogger(__name__)
router = APIRouter()

CLOSE_ORIGIN = 4403
CLOSE_LOGIN = 4401
MAX_FRAME_BYTES = 4096
# The console sends a ping every 25 s; a socket silent for much longer is gone.
IDLE_SECONDS = 120.0
# Sessions are checked again this often, so a logout or a disabled account ends the socket.
RECHECK_SECONDS = 60.0


@router.websocket("/staff/ws")
async def staff_socket(ws: WebSocket) -> None:
    console: StaffConsole = ws.app.state.staff
    if not origin_allowed(console, ws.headers.get("origin")):
        log.warning("refused a staff socket from origin %r", ws.headers.get("origin"))
        await ws.close(code=CLOSE_ORIGIN)
        return
    token = ws.cookies.get(COOKIE)
    session = await console.db(console.accounts.session, token) if token else None
    if session is None:
        await ws.close(code=CLOSE_LOGIN)
        return
    await ws.accept()
    agent = session.user
    desk = console.desk
    desk.staff.join(agent.id, ws)
    await send(
        ws,
        {
            "type": "ready",
            "agent": agent.public(),
            "agents_online": desk.staff.online(),
        },
    )
    await desk.staff.to_all({"type": "agents", "online": desk.staff.online()})
    try:
        await _loop(ws, console, session, token or "")
    except WebSocketDisconnect:
        pass
    finally:
        desk.staff.leave(agent.id, ws)
        await desk.staff.to_all({"type": "agents", "online": desk.staff.online()})


async def _loop(ws: WebSocket, console: StaffConsole, session: StaffSession, token: str) -> None:
    agent = session.user
    loop = asyncio.get_running_loop()
    checked = loop.time()
    while True:
        try:
            event = await asyncio.wait_for(ws.receive(), IDLE_SECONDS)
        except TimeoutError:
            await ws.close(code=4408)
            return
        if event["type"] == "websocket.disconnect":
            return
        if loop.time() - checked > RECHECK_SECONDS:
            checked = loop.time()
            if await console.db(console.accounts.session, token) is None:
                await ws.close(code=CLOSE_LOGIN)
                return
        raw = event.get("text") or ""
        if len(raw) > MAX_FRAME_BYTES:
            continue
        try:
            frame: Any = json.loads(raw)
        except ValueError:
            continue
        if not isinstance(frame, dict):
            continue
        kind = frame.get("type")
        conversation_id = frame.get("conversation_id")
        if conversation_id is not None and (
            not isinstance(conversation_id, str) or len(conversation_id) > 64
        ):
            continue
        if kind == "ping":
            await send(ws, {"type": "pong"})
        elif kind == "watch":
            console.desk.staff.watch(ws, conversation_id)
        elif kind == "typing" and conversation_id and isinstance(frame.get("on"), bool):
            await console.desk.agent_typing(conversation_id, agent, frame["on"])
