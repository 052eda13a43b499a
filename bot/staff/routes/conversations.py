"""The hand-off queue, live conversations, and claiming, replying, handing back, closing."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from bot.staff.accounts import StaffUser
from bot.staff.console import StaffConsole
from bot.staff.deps import ConsoleDep, StaffDep, WriterDep
from bot.staff.queue import HandoffError, HandoffState

router = APIRouter(prefix="/api/staff", tags=["staff"])

ConversationId = Annotated[str, Path(max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]


class Reply(BaseModel):
    model_config = ConfigDict(extra="forbid")

    client_id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
    text: Annotated[str, Field(min_length=1, max_length=4000)]
    # The suggestion the agent started from, as it was put into the reply box (None when
    # the reply was typed from scratch): the server decides unchanged or edited.
    suggestion: Annotated[str | None, Field(max_length=20000)] = None
    suggestion_source: Annotated[str | None, Field(max_length=64)] = None


def refused(exc: HandoffError) -> JSONResponse:
    return JSONResponse(
        status_code=exc.status,
        content={"detail": {"code": exc.code, "message": exc.message, **exc.detail}},
    )


async def summaries(console: StaffConsole, states: list[HandoffState]) -> list[dict[str, Any]]:
    last = await console.db(console.desk.queue.last_messages, [s.conversation_id for s in states])
    return [s.staff() | {"last_message": last.get(s.conversation_id)} for s in states]


@router.get("/queue")
async def queue(_: StaffDep, console: ConsoleDep) -> Any:
    """Every conversation handed off and not yet handed back or closed, oldest first."""
    states = await console.db(console.desk.queue.queue)
    return {
        "conversations": await summaries(console, states),
        "agents_online": console.desk.staff.online(),
        "claim_timeout_seconds": console.settings.staff_claim_timeout_seconds,
    }


@router.get("/live")
async def live(_: StaffDep, console: ConsoleDep) -> Any:
    """Conversations with the bot that had a message in the last 30 minutes."""
    states = await console.db(console.desk.queue.live)
    return {"conversations": await summaries(console, states)}


@router.get("/conversations/{conversation_id}")
async def conversation(conversation_id: ConversationId, _: StaffDep, console: ConsoleDep) -> Any:
    """The transcript, the hand-off state, and the order the shopper verified (if any)."""
    try:
        state = await console.db(console.desk.queue.state, conversation_id)
    except HandoffError as exc:
        return refused(exc)
    messages = await console.db(console.desk.transcripts.history, conversation_id)
    number = await console.verified_order(conversation_id)
    (summary,) = await summaries(console, [state])
    return {
        "conversation": summary,
        "messages": [m.staff_wire() for m in messages],
        "verified_order": number,
    }


async def _act(console: StaffConsole, conversation_id: str, agent: StaffUser, how: str) -> Any:
    try:
        if how == "claim":
            state = await console.desk.claim(conversation_id, agent)
        else:
            state = await console.desk.end(conversation_id, agent, how)
    except HandoffError as exc:
        return refused(exc)
    (summary,) = await summaries(console, [state])
    return {"conversation": summary}


@router.post("/conversations/{conversation_id}/claim")
async def claim(conversation_id: ConversationId, session: WriterDep, console: ConsoleDep) -> Any:
    """Take the conversation (from the queue, or from the bot): only one agent has it."""
    return await _act(console, conversation_id, session.user, "claim")


@router.post("/conversations/{conversation_id}/release")
async def release(conversation_id: ConversationId, session: WriterDep, console: ConsoleDep) -> Any:
    """Hand back to the bot: Rasa answers the shopper's next message."""
    return await _act(console, conversation_id, session.user, "handed_back")


@router.post("/conversations/{conversation_id}/close")
async def close(conversation_id: ConversationId, session: WriterDep, console: ConsoleDep) -> Any:
    """Close: done with this conversation (the bot answers if the shopper writes again)."""
    return await _act(console, conversation_id, session.user, "closed")


@router.post("/conversations/{conversation_id}/messages", status_code=status.HTTP_201_CREATED)
async def reply(
    conversation_id: ConversationId, body: Reply, session: WriterDep, console: ConsoleDep
) -> Any:
    """Send a reply to the shopper (shown in the widget with the agent's first name)."""
    try:
        message, duplicate = await console.desk.reply(
            conversation_id,
            session.user,
            body.client_id,
            body.text,
            body.suggestion,
            body.suggestion_source,
        )
    except HandoffError as exc:
        return refused(exc)
    content = {"message": message.staff_wire(), "duplicate": duplicate}
    return JSONResponse(status_code=200 if duplicate else 201, content=content)
