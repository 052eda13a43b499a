"""The order actions with real rasa-sdk Tracker objects against the real order backend
(started on a free port with its own seeded SQLite database)."""

from __future__ import annotations

import asyncio
import sqlite3
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from actions.cancellation import ActionSubmitCancel, ValidateCancelForm
from actions.changes import ValidateChangeForm
from actions.confirm import ActionAskConfirm
from actions.faq import ActionAnswerFaq
from actions.order_status import ActionOrderStatus
from actions.returns import ActionSubmitReturn, ValidateReturnForm
from actions.verification import NOT_VERIFIED
from bot.orders.db import Database
from bot.orders.models import AuditEntry, Cancellation, Order
from bot.settings import Settings
from bot.shopper import process_wide
from bot.shopper.dates import long_date
from bot.shopper.order_backend import WRITE_CONFIRM_BUDGET_SECONDS
from bot.shopper.order_replies import verification_locked

from .actions_helpers import (
    Backend,
    actions_use,
    client,
    free_port,
    new_order,
    order_backend,
    run,
    tracker,
    verified,
)


@pytest.fixture(scope="module")
def backend(settings: Settings, tmp_path_factory) -> Iterator[Backend]:  # type: ignore[no-untyped-def]
    with order_backend(settings, tmp_path_factory.mktemp("orders")) as running:
        yield running


@pytest.fixture
def env(backend: Backend, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    with actions_use(backend.settings, monkeypatch) as settings:
        yield settings


async def test_right_details_verify_and_the_form_asks_to_confirm(env):
    slots, messages = await run(
        ValidateCancelForm(),
        tracker(
            "ava@example.com",
            just_set={"order_number": "KNT-1001", "email": " Ava@Example.com"},
            form="cancel_form",
        ),
    )
    assert slots["verified_order"] == "KNT-1001"
    assert slots["email"] == "ava@example.com"
    assert slots["order_facts"]["status"] == "in_production"
    assert slots.get("request_blocked") is None  # nothing stops a cancel: it asks to confirm
    assert messages == []


async def test_wrong_details_are_uniform_and_the_third_failure_blocks(env):
    slots, messages = await run(
        ValidateCancelForm(),
        tracker(
            "x@example.com",
            just_set={"order_number": "KNT-1001", "email": "x@example.com"},
            form="cancel_form",
        ),
    )
    assert [m["text"] for m in messages] == [NOT_VERIFIED]
    assert slots["order_number"] is None and slots["email"] is None
    assert slots["verify_failures"] == 1.0 and slots["requested_slot"] == "order_number"
    _, wrong_number = await run(
        ValidateCancelForm(),
        tracker(
            "ava@example.com",
            just_set={"order_number": "KNT-1077", "email": "ava@example.com"},
            form="cancel_form",
        ),
    )
    assert [m["text"] for m in wrong_number] == [NOT_VERIFIED]  # the same words
    slots, messages = await run(
        ValidateCancelForm(),
        tracker(
            "x@example.com",
            slots={"verify_failures": 2.0},
            just_set={"order_number": "KNT-1001", "email": "x@example.com"},
            form="cancel_form",
        ),
    )
    assert slots["request_blocked"] == "verification_failed"
    assert slots["requested_slot"] is None
    _, handoff = await run(
        ActionSubmitCancel(), tracker(slots={"request_blocked": "verification_failed"})
    )
    assert handoff[-1]["custom"] == {"handoff": {"reason": "verification_failed"}}


async def test_change_value_is_normalised_against_the_catalogue(env):
    base = {
        **verified("KNT-1001", "ava@example.com"),
        "order_item": "1",
        "change_attribute": "metal",
        "order_facts": {
            "order_number": "KNT-1001",
            "status": "in_production",
            "items": [{"id": 1, "product": "Ring", "metal": "white gold"}],
        },
    }
    slots, _ = await run(
        ValidateChangeForm(),
        tracker(
            "rosegold",
            slots=base | {"requested_slot": "change_value"},
            just_set={"change_value": "rosegold"},
            form="change_form",
        ),
    )
    assert slots["change_value"] == "rose gold"
    slots, messages = await run(
        ValidateChangeForm(),
        tracker(
            "silver",
            slots=base | {"requested_slot": "change_value"},
            just_set={"change_value": "silver"},
            form="change_form",
        ),
    )
    assert slots["change_value"] is None
    assert "isn't in our catalogue" in messages[0]["text"]
    assert "white gold, yellow gold, rose gold, platinum" in messages[0]["text"]


async def test_confirmation_summary_then_cancel_for_real(env):
    state = {**verified("KNT-1005", "eve@example.com"), "confirm": "yes"}
    _, asked = await run(ActionAskConfirm(), tracker(slots=state, form="cancel_form"))
    assert asked[0]["text"].startswith("To confirm: cancel order KNT-1005")
    slots, messages = await run(ActionSubmitCancel(), tracker(slots=state))
    assert "KNT-1005 is cancelled" in messages[0]["text"]
    assert slots["confirm"] is None and slots["request_blocked"] is None
    order = await process_wide.order_client().lookup("KNT-1005", "eve@example.com")
    assert order["status"] == "cancelled"


async def test_a_yes_that_names_another_order_confirms_nothing_for_it(env):
    # The summary of A is showing; "yes, cancel B instead" moves to B, whose summary the
    # shopper has not seen: nothing chosen for A, and not that "yes", carries over to B.
    a, email_a = new_order(env)
    b, email_b = new_order(env)
    shown = {
        **verified(a, email_a),
        "requested_slot": "confirm",
        "change_attribute": "metal",
        "change_value": "rose gold",
    }
    said = f"yes, cancel {b} instead"
    t = tracker(
        said,
        "inform",
        slots=shown,
        just_set={"order_number": b, "confirm": said},
        form="cancel_form",
    )
    moved, _ = await run(ValidateCancelForm(), t)
    assert moved["order_number"] == b and moved["confirm"] is None
    assert moved["verified_order"] is None and moved["email"] is None
    assert moved["change_attribute"] is None and moved["change_value"] is None
    now = {**shown, **moved}
    t = tracker(email_b, "inform", slots=now, just_set={"email": email_b}, form="cancel_form")
    proved, _ = await run(ValidateCancelForm(), t)
    assert proved["verified_order"] == b and {**now, **proved}["confirm"] is None
    # The same "yes" said again with A's own number is still A's yes.
    again = {"order_number": a, "confirm": "yes"}
    t = tracker(f"yes, {a}", "affirm", slots=shown, just_set=again, form="cancel_form")
    kept, _ = await run(ValidateCancelForm(), t)
    assert kept["confirm"] == "yes"


async def test_a_double_submitted_return_makes_one_record(env):
    facts = await process_wide.order_client().lookup("KNT-1002", "ben@example.com")
    state = {
        **verified("KNT-1002", "ben@example.com"),
        "order_facts": facts,
        "order_item": str(facts["items"][0]["id"]),
        "return_kind": "return",
        "return_reason": "too big",
        "confirm": "yes",
    }
    _, first = await run(ActionSubmitReturn(), tracker(slots=state, sender="double"))
    _, second = await run(ActionSubmitReturn(), tracker(slots=state, sender="double"))
    assert "RMA-" in first[0]["text"] and first[0]["text"] == second[0]["text"]
    order = await process_wide.order_client().lookup("KNT-1002", "ben@example.com")
    assert len(order["open_returns"]) == 1


async def test_backend_down_says_so_and_reports_nothing(env, monkeypatch):
    monkeypatch.setenv("ORDERS_URL", f"http://127.0.0.1:{free_port()}")  # nothing listens
    process_wide.reset()
    _, messages = await run(
        ActionOrderStatus(), tracker(slots=verified("KNT-1001", "ava@example.com"))
    )
    assert "can't reach our order system" in messages[0]["text"]
    assert messages[0]["buttons"][0]["payload"] == (
        '/human_handoff{"handoff_reason": "order_system_down"}'
    )
    _slots, messages = await run(
        ActionSubmitCancel(),
        tracker(slots={**verified("KNT-1001", "ava@example.com"), "confirm": "yes"}),
    )
    assert "nothing has been submitted" in messages[0]["text"]
    assert not any("cancelled" in (m.get("text") or "") for m in messages)


# --- guessing: the shopper's client is forwarded; a locked check is said plainly ----------


def texts(messages: list[dict[str, Any]]) -> str:
    return "\n".join(m.get("text") or "" for m in messages)


async def check(number: str, email: str, metadata: dict[str, str]) -> tuple[dict[str, Any], str]:
    """One ownership check through the cancel form, from a fresh conversation."""
    slots, messages = await run(
        ValidateCancelForm(),
        tracker(
            email,
            just_set={"order_number": number, "email": email},
            form="cancel_form",
            sender=f"guess-{uuid.uuid4().hex[:8]}",
            metadata=metadata,
        ),
    )
    return slots, texts(messages)


def wrong_pair() -> tuple[str, str]:
    return f"KNT-{uuid.uuid4().int % 900000 + 100000}", f"x-{uuid.uuid4().hex[:8]}@example.com"


async def test_the_shoppers_ip_and_session_reach_the_backend_and_are_counted(env):
    number, email = new_order(env)
    guesser = "203.0.113.77"
    limit = env.verify_failure_limit
    for _ in range(limit):  # other orders, other e-mails, fresh sessions: only the IP repeats
        slots, said = await check(*wrong_pair(), client(guesser))
        assert said == NOT_VERIFIED
    slots, said = await check(number, email, client(guesser))
    assert slots["request_blocked"] == "verification_locked" and slots["verified_order"] is None
    # The same right pair from another client is checked as usual.
    slots, said = await check(number, email, client())
    assert slots["verified_order"] == number and said == ""
    # And a session that keeps failing is counted across IP addresses.
    session = {"session": uuid.uuid4().hex}
    for _ in range(limit):
        await check(*wrong_pair(), client() | session)
    slots, _ = await check(number, email, client() | session)
    assert slots["request_blocked"] == "verification_locked"


async def test_guessing_an_email_locks_it_even_for_the_right_pair_and_says_so_plainly(env):
    number, email = new_order(env)
    for _ in range(env.verify_failure_limit + 3):  # each guess from a fresh client
        wrong_number, _ = wrong_pair()
        slots, said = await check(wrong_number, email, client())
        assert said == NOT_VERIFIED or slots["request_blocked"] == "verification_locked"
    slots, said = await check(number, email, client())
    # Refused without being checked, and nothing half-verified stays in the conversation.
    assert slots["request_blocked"] == "verification_locked"
    assert said == ""  # the request's action says it (below), never "wrong details"
    for slot in ("verified_order", "verified_email", "verified_at", "order_facts"):
        assert slots[slot] is None, slot
    assert slots["order_number"] is None and slots["email"] is None
    assert slots["requested_slot"] is None  # the form ends: no more guesses here
    slots, messages = await run(
        ActionSubmitCancel(), tracker(slots={"request_blocked": "verification_locked"})
    )
    assert texts(messages) == verification_locked(env.support_email)
    assert env.support_email in texts(messages) and NOT_VERIFIED not in texts(messages)
    assert messages[0]["buttons"] == [
        {
            "title": "Talk to a person",
            "payload": '/human_handoff{"handoff_reason": "verification_locked"}',
        }
    ]
    assert slots["request_blocked"] is None


async def test_an_order_locked_after_verification_is_forgotten_not_shown(env):
    number, email = new_order(env)
    state = verified(number, email)
    _, shown = await run(ActionOrderStatus(), tracker(slots=state, metadata=client()))
    assert number in texts(shown)
    for _ in range(env.verify_failure_limit + 1):  # someone else guesses at this order
        await check(number, wrong_pair()[1], client())
    slots, messages = await run(ActionOrderStatus(), tracker(slots=state, metadata=client()))
    assert texts(messages) == verification_locked(env.support_email)
    assert slots["verified_order"] is None and slots["order_facts"] is None


async def test_the_audit_log_names_the_bot_and_the_conversation(env, backend):
    number, email = new_order(env)
    state = {**verified(number, email), "confirm": "yes"}
    _, messages = await run(ActionSubmitCancel(), tracker(slots=state, sender="conv-audit-1"))
    assert "is cancelled" in texts(messages)
    rows = audit_rows(backend, number)
    cancelled = [(r.actor, r.actor_kind) for r in rows if r.action.endswith("cancelled")]
    assert cancelled == [("actions:conv-audit-1", "bot")]


def audit_rows(backend: Backend, number: str) -> list[AuditEntry]:
    db = Database(backend.settings.orders_database_url)
    try:
        with db.read() as session:
            query = select(AuditEntry).where(AuditEntry.order_number == number)
            return list(session.scalars(query.order_by(AuditEntry.id)))
    finally:
        db.dispose()


def cancellations(backend: Backend, number: str) -> int:
    db = Database(backend.settings.orders_database_url)
    try:
        with db.read() as session:
            query = (
                select(Cancellation).join(Cancellation.order).where(Order.order_number == number)
            )
            return len(list(session.scalars(query)))
    finally:
        db.dispose()


# --- honest writes: never "not submitted" when it may have been --------------------------


async def test_a_write_that_cannot_be_confirmed_is_said_so_and_never_doubled(env, backend):
    number, email = new_order(env)
    state = {**verified(number, email), "confirm": "yes"}
    started = time.monotonic()
    with backend.paused():  # the request arrives, and the backend says nothing
        _, messages = await run(ActionSubmitCancel(), tracker(slots=state, sender="paused-1"))
    took = time.monotonic() - started
    said = texts(messages)
    assert "can't tell whether it went through" in said and "don't submit it again" in said
    assert "nothing has been submitted" not in said and "Done" not in said
    assert messages[-1]["custom"] == {"handoff": {"reason": "write_unconfirmed"}}
    assert took < WRITE_CONFIRM_BUDGET_SECONDS + 1
    # The backend wakes up: asked again (by a person, or the shopper anyway), it answers
    # with the one cancellation the lost requests made.
    _, again = await run(ActionSubmitCancel(), tracker(slots=state, sender="paused-1"))
    assert f"order {number} is cancelled" in texts(again)
    assert cancellations(backend, number) == 1


async def test_a_lost_answer_is_asked_again_and_the_write_is_reported_done(env, backend):
    number, email = new_order(env)
    state = {**verified(number, email), "confirm": "yes"}
    backend.pause()
    try:
        submit = asyncio.create_task(
            run(ActionSubmitCancel(), tracker(slots=state, sender="paused-2"))
        )
        # The first attempt times out (3 s); the backend wakes before the next one.
        await asyncio.sleep(env.orders_timeout_seconds + 0.2)
    finally:
        backend.resume()
    _, messages = await submit
    assert f"order {number} is cancelled (reference CXL-" in texts(messages)
    assert cancellations(backend, number) == 1


async def test_a_write_the_backend_rolled_back_is_not_submitted(env, backend):
    number, email = new_order(env)
    state = {**verified(number, email), "confirm": "yes"}
    # Another process holds SQLite's write lock: the backend gives up at its own deadline
    # (2 s, before our 3 s timeout) and says it rolled back.
    path = backend.settings.orders_database_url.removeprefix("sqlite:///")
    blocker = sqlite3.connect(path, isolation_level=None)
    try:
        blocker.execute("BEGIN IMMEDIATE")
        _, messages = await run(ActionSubmitCancel(), tracker(slots=state, sender="locked-db"))
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert "nothing has been submitted" in texts(messages)
    assert cancellations(backend, number) == 0
    order = await process_wide.order_client().lookup(number, email)
    assert order["status"] == "in_production"


async def test_a_stale_verification_is_asked_again_without_nonsense(env):
    stale = {**verified("KNT-1001", "ava@example.com"), "verified_at": time.time() - 3600}
    slots, messages = await run(
        ValidateCancelForm(),
        tracker("cancel my order", "cancel_order", slots=stale, form="cancel_form"),
    )
    assert slots["verified_order"] is None and slots["order_number"] is None
    assert slots["requested_slot"] == "order_number"
    assert messages == []  # no "that doesn't look like an order number" for a slot we cleared


# --- a submit whose outcome was lost (the action server died in it) ---------------------


async def test_a_new_request_forgets_the_previous_ones_yes_and_asks_to_confirm_again(env):
    """A "yes" left behind by a submit that never finished must not submit the next
    request unasked: at the form's start (Rasa sends every filled slot as a candidate)
    the previous request's slots are cleared and "confirm" is asked."""
    number, email = new_order(env)
    left = {
        **verified(number, email),
        "confirm": "yes",
        "change_attribute": "metal",
        "change_value": "rose gold",
        "request_blocked": "backend_down",
    }
    slots, messages = await run(
        ValidateCancelForm(),
        tracker(
            "please cancel my order",
            "cancel_order",
            slots=left,
            just_set={"order_number": number, "email": email, "confirm": "yes"},
        ),
    )
    assert messages == []
    # Cleared, so the form asks for it (Rasa asks the first required slot that is empty).
    for slot in ("confirm", "change_attribute", "change_value", "request_blocked"):
        assert slots[slot] is None, slot
    assert slots["order_facts"]["order_number"] == number  # the verified order stays
    # Inside the form, the shopper's own "yes" is the answer, as before.
    slots, _ = await run(
        ValidateCancelForm(),
        tracker(
            "yes",
            "affirm",
            slots={**verified(number, email), "requested_slot": "confirm"},
            just_set={"confirm": "yes"},
            form="cancel_form",
        ),
    )
    assert slots["confirm"] == "yes"


def after_form(t: Any, form: str) -> Any:
    """`t` with the events of `form` having run and ended before its latest message."""
    t.events[:0] = [
        {"event": "active_loop", "name": form},
        {"event": "active_loop", "name": None},
    ]
    return t


async def test_yes_again_after_a_lost_submit_tells_the_request_that_was_stored(env, backend):
    number, email = new_order(env)
    state = {**verified(number, email), "confirm": "yes"}
    # The submit wrote the cancellation, but its answer and events never reached Rasa.
    _, lost = await run(ActionSubmitCancel(), tracker(slots=state, sender="lost-1"))
    reference = texts(lost).partition("(reference ")[2].rstrip(").")
    assert reference.startswith("CXL-")
    # The gateway sends the "yes" again: no form runs, the slots still say "yes".
    slots, messages = await run(
        ActionAnswerFaq(),
        after_form(tracker("yes", "affirm", slots=state, sender="lost-1"), "cancel_form"),
    )
    assert f"order {number} is cancelled (reference {reference})" in texts(messages)
    assert slots["confirm"] is None
    assert cancellations(backend, number) == 1
    # Once told, a "yes" is just a "yes".
    _, messages = await run(
        ActionAnswerFaq(),
        after_form(tracker("yes", "affirm", slots=verified(number, email)), "cancel_form"),
    )
    assert [m.get("response") for m in messages] == ["utter_how_can_i_help"]


async def test_yes_again_after_a_submit_that_never_reached_the_backend_makes_it_once(env, backend):
    number, email = new_order(env)
    state = {**verified(number, email), "confirm": "yes"}
    t = after_form(tracker("yes", "affirm", slots=state, sender="lost-2"), "cancel_form")
    _, messages = await run(ActionAnswerFaq(), t)
    assert f"order {number} is cancelled (reference CXL-" in texts(messages)
    assert cancellations(backend, number) == 1


async def test_the_bots_replies_follow_a_rule_changed_in_the_backend(
    settings: Settings, tmp_path, monkeypatch: pytest.MonkeyPatch
):
    """The return window is a setting of the backend (30 days by default): set to 45, the
    real backend decides with 45 and the real actions say 45, with no code change."""
    with (
        order_backend(settings, tmp_path, orders_return_window_days=45) as backend,
        actions_use(backend.settings, monkeypatch),
    ):
        # KNT-1003 shipped 45 days ago: outside a 30-day window, on the last day of this one.
        slots, messages = await run(
            ValidateReturnForm(),
            tracker(
                "cara@example.com",
                just_set={"order_number": "KNT-1003", "email": "cara@example.com"},
                form="return_form",
            ),
        )
        assert slots["verified_order"] == "KNT-1003" and messages == []
        assert slots.get("request_blocked") is None  # the 45-day window is still open
        facts = slots["order_facts"]
        assert facts["return_window_days"] == 45 and facts["returnable"] is True
        _, status = await run(
            ActionOrderStatus(), tracker(slots=verified("KNT-1003", "cara@example.com"))
        )
        ends = long_date(facts["return_window_ends"])
        assert f"You can return or exchange it until {ends}." in status[0]["text"]

        # An order still in production: the backend says why not, the bot words its window.
        slots, _ = await run(
            ValidateReturnForm(),
            tracker(
                "ava@example.com",
                just_set={"order_number": "KNT-1001", "email": "ava@example.com"},
                form="return_form",
            ),
        )
        assert slots["request_blocked"] == "not_shipped"
        _, explained = await run(ActionSubmitReturn(), tracker(slots=slots))
        assert "within 45 days from the shipping-confirmation date" in explained[0]["text"]
        assert "30" not in explained[0]["text"]
