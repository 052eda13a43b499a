"""The gateway's transcript store on SQLite and on a throwaway PostgreSQL database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.gateway.transcripts import TranscriptStore

from .orders_helpers import BACKENDS, database_url


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TranscriptStore]:
    with database_url(request.param, tmp_path) as url:
        yield TranscriptStore(url)


def test_a_session_keeps_its_conversation_until_it_starts_over(store):
    first = store.open_session("s1")
    assert store.open_session("s1") == first == store.current("s1")
    assert store.open_session("s2").id != first.id
    shopper, _ = store.add_shopper(first, "m1", "hello", None)
    store.answer(shopper.id, [{"text": "Hi! How can I help?"}])

    fresh = store.restart("s1")
    assert fresh.id != first.id and store.current("s1") == fresh
    assert store.history(fresh.id) == []
    # Nothing is deleted: the old conversation is still there for staff.
    assert [m.text for m in store.history(first.id)] == ["hello", "Hi! How can I help?"]


def test_starting_over_drops_what_waits_and_a_late_answer_to_it_is_not_stored(store):
    conversation = store.open_session("s3")
    waiting, _ = store.add_shopper(conversation, "w1", "is it insured?", "is it insured?")
    assert store.waiting_conversations() == [("s3", conversation.id)]
    store.restart("s3")  # while Rasa was still answering it
    assert store.waiting_conversations() == []
    assert store.answer(waiting.id, [{"text": "Yes, fully insured."}]) == []
    assert [(m.text, m.status) for m in store.history(conversation.id)] == [
        ("is it insured?", "dropped")
    ]


def test_a_message_id_is_stored_once_per_session(store):
    conv = store.open_session("s1")
    first, duplicate = store.add_shopper(conv, "m1", "where is my order?", None)
    assert not duplicate and first.status == "pending" and first.role == "shopper"
    again, duplicate = store.add_shopper(conv, "m1", "where is my order?", None)
    assert duplicate and again.id == first.id
    # Another session may use the same client id.
    other, duplicate = store.add_shopper(store.open_session("s2"), "m1", "hi", None)
    assert not duplicate and other.id != first.id
    assert len(store.history(conv.id)) == 1


def test_replies_are_stored_with_buttons_and_custom_payloads_and_close_the_message(store):
    conv = store.open_session("s1")
    first, _ = store.add_shopper(conv, "m1", "can I cancel?", None)
    second, _ = store.add_shopper(conv, "m2", "a person please", "/human_handoff")
    assert [m.id for m in store.pending(conv.id)] == [first.id, second.id]
    assert store.pending_before(conv.id, second.id) and not store.pending_before(conv.id, first.id)

    replies = store.answer(
        first.id,
        [{"text": "Yes...", "buttons": [{"title": "Cancel my order", "payload": "/cancel_order"}]}],
    )
    assert replies[0].buttons == [{"title": "Cancel my order", "payload": "/cancel_order"}]
    assert store.offered_payloads(conv.id) == {"/cancel_order"}
    assert [m.id for m in store.pending(conv.id)] == [second.id]
    assert second.payload == "/human_handoff"

    store.answer(
        second.id,
        [
            {"text": "A person will take over."},
            {"custom": {"handoff": {"reason": "shopper_asked"}}},
        ],
    )
    assert store.pending(conv.id) == []
    assert store.current("s1").handoff_reason == "shopper_asked"
    wire = [m.wire() for m in store.history(conv.id)]
    assert [m["role"] for m in wire] == ["shopper", "shopper", "bot", "bot", "bot"]
    assert wire[-1]["custom"] == {"handoff": {"reason": "shopper_asked"}}
    assert all(m["ts"].endswith("Z") for m in wire)


def test_feedback_only_on_this_sessions_bot_messages(store):
    conv = store.open_session("s1")
    shopper, _ = store.add_shopper(conv, "m1", "do you ship abroad?", None)
    (answer,) = store.answer(shopper.id, [{"text": "We ship worldwide."}])
    assert store.set_feedback("s1", answer.id, "up")
    assert store.set_feedback("s1", answer.id, "down")  # a change of mind is kept
    assert not store.set_feedback("s2", answer.id, "up")  # not their message
    assert not store.set_feedback("s1", shopper.id, "up")  # not an answer
    assert store.history(conv.id)[-1].feedback == "down"
