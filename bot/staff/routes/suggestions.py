"""Suggested replies for a conversation's latest shopper message, and answers for a
pasted e-mail. Nothing here sends anything: the agent edits and presses send."""

from __future__ import annotations

import asyncio
import time
from typing import Annotated, Any

from fastapi import APIRouter, Response, status
from pydantic import BaseModel, ConfigDict, Field

from bot.staff.deps import ConsoleDep, StaffDep, WriterDep, problem
from bot.staff.routes.conversations import ConversationId

router = APIRouter(prefix="/api/staff", tags=["staff"])


class Email(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: Annotated[str, Field(min_length=1, max_length=50_000)]


def _faq(engine: Any, _nlp: Any, text: str) -> tuple[list[dict[str, Any]], bool]:
    from bot.staff import suggest

    found, confident = suggest.faq_suggestions(engine, text)
    return [s.to_json() for s in found], confident


@router.get("/conversations/{conversation_id}/suggestions")
async def for_conversation(
    conversation_id: ConversationId, session: StaffDep, console: ConsoleDep, response: Response
) -> Any:
    """The FAQ's top 3 for the shopper's latest message (score, matched question,
    section) and, when the shopper verified an order, the order as the backend sees it.
    `message_id` says which message they are for: the console drops them when a newer
    message has arrived meanwhile."""
    started = time.perf_counter()
    timings: dict[str, float] = {}

    async def search() -> tuple[Any, list[dict[str, Any]], bool]:
        latest = await console.db(console.desk.transcripts.latest_shopper, conversation_id)
        found: tuple[list[dict[str, Any]], bool] = ([], False)
        if latest is not None and latest.text:
            found = await console.nlp.run(_faq, latest.text)
        timings["faq"] = time.perf_counter() - started
        return latest, *found

    async def facts() -> dict[str, Any] | None:
        number = await console.verified_order(conversation_id)
        order = await console.order_facts(number, session.user)
        timings["order"] = time.perf_counter() - started
        return order

    # The two are independent: the FAQ runs in the NLP thread while Rasa and the order
    # backend answer.
    (latest, faq, confident), order = await asyncio.gather(search(), facts())
    timings["total"] = time.perf_counter() - started
    response.headers["Server-Timing"] = _timing(**timings)
    return {
        "conversation_id": conversation_id,
        "message_id": latest.id if latest else None,
        "text": latest.text if latest else None,
        "faq": faq,
        "confident": confident,
        "order": order,
    }


def _email(engine: Any, nlp: Any, text: str, agent_name: str) -> dict[str, Any]:
    from bot.staff import suggest

    result: dict[str, Any] = suggest.answer_email(engine, nlp, text, agent_name=agent_name)
    result["order_number"] = suggest.email_order_number(text)
    return result


@router.post("/suggest")
async def for_email(
    body: Email, session: WriterDep, console: ConsoleDep, response: Response
) -> Any:
    """The customer's questions in a pasted e-mail, up to 3 FAQ answers for each, the
    order's facts when it names one, and a draft reply to edit (same JSON as
    `bot suggest --json`)."""
    agent = session.user.id
    if agent in console.emails_in_progress:
        raise problem(
            "busy",
            "Still working on your previous e-mail; wait for it, then try again.",
            status.HTTP_429_TOO_MANY_REQUESTS,
        )
    started = time.perf_counter()
    console.emails_in_progress.add(agent)
    try:
        result = await console.nlp.run(_email, body.text, session.user.first_name)
    finally:
        console.emails_in_progress.discard(agent)
    analysed = time.perf_counter()
    number = result.pop("order_number")
    result["order"] = await console.order_facts(number, session.user)
    done = time.perf_counter()
    response.headers["Server-Timing"] = _timing(
        questions=analysed - started, order=done - analysed, total=done - started
    )
    return result


def _timing(**seconds: float) -> str:
    """A Server-Timing header (milliseconds): the benchmark reads the server's own times."""
    return ", ".join(f"{name};dur={s * 1000:.1f}" for name, s in seconds.items())
