"""Every custom action, run the way the action server runs it: real Tracker objects, the
real FAQ engine and a real (temporary SQLite) database."""

from __future__ import annotations

import inspect
import os
import pkgutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from rasa_sdk import Action, Tracker
from rasa_sdk.executor import ActionExecutor, CollectingDispatcher

import actions
from actions.faq import ActionAnswerFaq
from actions.handoff import ActionHandoff
from bot.faq.unanswered import UnansweredLog
from bot.settings import PROJECT_ROOT
from bot.shopper import process_wide

DOMAIN = yaml.safe_load((PROJECT_ROOT / "domain.yml").read_text())


@pytest.fixture
def db_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'app.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    process_wide.reset()
    yield url
    process_wide.reset()


def tracker(
    text: str = "",
    intent: str | None = None,
    slots: dict[str, Any] | None = None,
    active_loop: str | None = None,
    sender_id: str = "shopper-1",
    entities: list[dict[str, Any]] | None = None,
) -> Tracker:
    return Tracker(
        sender_id=sender_id,
        slots={
            "faq_misses": 0.0,
            "order_number": None,
            "email": None,
            "requested_slot": None,
            **(slots or {}),
        },
        latest_message={
            "text": text,
            "intent": {"name": intent, "confidence": 0.9},
            "entities": entities or [],
        },
        events=[],
        paused=False,
        followup_action=None,
        active_loop={"name": active_loop} if active_loop else {},
        latest_action_name="action_listen",
    )


async def run(action: Action, t: Tracker) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, t, DOMAIN)
    return events, dispatcher.messages


def test_every_domain_action_is_registered_exactly_once():
    executor = ActionExecutor()
    executor.register_package("actions")
    registered = set(executor.actions)
    custom = {a for a in DOMAIN["actions"] if a.startswith(("action_", "validate_"))}
    assert custom <= registered, custom - registered
    # Names must be unique across modules: rasa-sdk silently keeps only the last one.
    names = []
    for info in pkgutil.iter_modules(actions.__path__):
        module = __import__(f"actions.{info.name}", fromlist=["*"])
        for _, cls in inspect.getmembers(module, inspect.isclass):
            ours = issubclass(cls, Action) and cls.__module__ == module.__name__
            if ours and not inspect.isabstract(cls):
                names.append(cls().name())
    assert len(names) == len(set(names)), names
    assert set(names) == custom


async def test_policy_question_gets_the_store_answer_and_its_button(db_url):
    events, messages = await run(ActionAnswerFaq(), tracker("can I still cancel my order?", "faq"))
    answer = process_wide.faq_engine().corpus.get("returns_cancel_order")
    assert messages[0]["text"] == answer.answer
    assert messages[0]["buttons"] == [{"title": "Cancel my order", "payload": "/cancel_order"}]
    assert events == [{"event": "slot", "timestamp": None, "name": "faq_misses", "value": 0.0}]
    assert UnansweredLog(db_url).recent() == []


async def test_unknown_question_says_so_offers_a_person_and_is_recorded(db_url):
    t = tracker("do you sell gift cards?", "out_of_scope", sender_id="shopper-7")
    events, messages = await run(ActionAnswerFaq(), t)
    assert "don't know" in messages[0]["text"]
    assert "service@kntofficial.com" in messages[0]["text"]
    assert {
        "title": "Talk to a person",
        "payload": '/human_handoff{"handoff_reason": "faq_unanswered"}',
    } in messages[0]["buttons"]
    assert events[0]["name"] == "faq_misses" and events[0]["value"] == 1.0
    assert messages[-1]["custom"] == {"fallback": {"misses": 1}}
    logged = UnansweredLog(db_url).recent()
    assert [(u.sender_id, u.question, u.intent) for u in logged] == [
        ("shopper-7", "do you sell gift cards?", "out_of_scope")
    ]
    assert logged[0].closest_faq_id is not None


async def test_second_miss_in_a_row_offers_the_handoff(db_url):
    t = tracker("what is the meaning of life", "nlu_fallback", slots={"faq_misses": 1.0})
    events, messages = await run(ActionAnswerFaq(), t)
    assert "take over" in messages[0]["text"]
    payloads = [b["payload"] for b in messages[0]["buttons"]]
    assert payloads == ['/human_handoff{"handoff_reason": "faq_unanswered"}', "/deny"]
    assert events[0]["value"] == 2.0
    assert messages[-1]["custom"] == {"fallback": {"misses": 2}}
    assert len(UnansweredLog(db_url).recent()) == 1


async def test_a_broken_faq_becomes_an_apology_and_a_handoff(db_url, tmp_path, monkeypatch):
    monkeypatch.setenv("FAQ_CORPUS_DIR", str(tmp_path / "missing"))
    process_wide.reset()
    _events, messages = await run(ActionAnswerFaq(), tracker("klarna?", "faq"))
    assert messages[0]["text"] == "Sorry, I can't look that up right now."
    assert messages[-1]["custom"] == {"handoff": {"reason": "faq_error"}}
    assert not any("Traceback" in str(m) for m in messages)


async def test_handoff_tells_the_shopper_and_the_gateway(db_url):
    events, messages = await run(
        ActionHandoff(),
        tracker("a person please", "human_handoff", active_loop="order_lookup_form"),
    )
    assert "person from our team" in messages[0]["text"]
    assert messages[1]["custom"] == {"handoff": {"reason": "shopper_asked"}}
    assert {"event": "active_loop", "timestamp": None, "name": None} in events


@pytest.mark.parametrize(
    ("offered", "reason"),
    [
        ("faq_unanswered", "faq_unanswered"),
        ("order_system_down", "order_system_down"),
        ("verification_locked", "verification_locked"),
        ("made_up", "shopper_asked"),  # only the reasons the bot itself offers
        (["faq_unanswered"], "shopper_asked"),  # a typed payload can put anything there
    ],
)
async def test_the_button_the_bot_offered_says_why_it_hands_off(db_url, offered, reason):
    entity = {"entity": "handoff_reason", "value": offered}
    t = tracker("Talk to a person", "human_handoff", entities=[entity])
    _, messages = await run(ActionHandoff(), t)
    assert messages[1]["custom"] == {"handoff": {"reason": reason}}


async def test_handoff_after_faq_misses_says_why(db_url):
    _, messages = await run(ActionHandoff(), tracker("yes", "affirm", slots={"faq_misses": 2.0}))
    assert messages[1]["custom"] == {"handoff": {"reason": "faq_unanswered"}}


async def test_terse_message_with_nothing_asked_tries_the_faq_quietly(db_url):
    _, messages = await run(ActionAnswerFaq(), tracker("klarna?", "inform"))
    assert messages[0]["text"] == process_wide.faq_engine().corpus.get("payments_bnpl").answer
    for text, intent in [("yes", "affirm"), ("KNT-1001", "inform"), ("gift cards?", "inform")]:
        events, messages = await run(ActionAnswerFaq(), tracker(text, intent))
        assert [m["response"] for m in messages] == ["utter_how_can_i_help"], text
        assert events == []
    assert UnansweredLog(db_url).recent() == []  # none of them is a question we failed


async def test_a_whole_sentence_taken_as_inform_is_still_looked_up(db_url):
    t = tracker("I would like to know about the warranty on my ring", "inform")
    _, messages = await run(ActionAnswerFaq(), t)
    warranty = process_wide.faq_engine().corpus.get("orders_warranty_other_jewelry").answer
    assert messages[0]["text"] == warranty
    # A sentence that matches nothing is still not counted as a question we failed.
    events, messages = await run(ActionAnswerFaq(), tracker("my ring is in 18k gold", "inform"))
    assert [m["response"] for m in messages] == ["utter_how_can_i_help"] and events == []


async def test_unanswered_questions_are_listed_by_the_cli(db_url):
    await run(ActionAnswerFaq(), tracker("do you sell gift cards?", "out_of_scope"))
    out = subprocess.run(
        [sys.executable, "-m", "bot.cli", "faq", "unanswered"],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        check=True,
        env={**os.environ, "DATABASE_URL": db_url},
    )
    assert "'do you sell gift cards?'" in out.stdout
    assert "[out_of_scope]" in out.stdout


@pytest.mark.parametrize(
    ("said", "picked"),
    [("2", "42"), ("the second one", "42"), ("٢", "42"), ("ruby", "42"), ("3", None), ("٣", None)],
)
async def test_an_item_is_picked_by_its_number_or_a_word_never_by_a_digit_in_its_fields(
    said: str, picked: str | None
) -> None:
    from actions.changes import ValidateChangeForm

    # "3" is out of the list's range: it names no item, although the first item's id and
    # price hold a 3.
    items = [
        {"id": 13, "name": "Isla ring", "gemstone": "diamond", "price": 1300},
        {"id": 42, "name": "Aster studs", "gemstone": "ruby", "price": 950},
    ]
    t = tracker(said, "inform", slots={"order_facts": {"order_number": "KNT-1", "items": items}})
    dispatcher = CollectingDispatcher()
    result = await ValidateChangeForm().validate_order_item(said, dispatcher, t, DOMAIN)
    assert result == {"order_item": picked}
    assert bool(dispatcher.messages) == (picked is None)


def _offer_then(answer: str, intent: str) -> Tracker:
    t = tracker(answer, intent)
    t.events = [
        {"event": "user", "text": "can you engrave initials inside the band?"},
        {
            "event": "bot",
            "text": "Would you like a person from our team to take over?",
            "data": {"buttons": [{"title": "Talk to a person", "payload": "/human_handoff"}]},
        },
        {"event": "bot", "data": {"custom": {"fallback": {"misses": 2}}}},
        {"event": "user", "text": answer},
    ]
    return t


async def test_yes_to_the_offer_of_a_person_hands_off(db_url):
    _events, messages = await run(ActionAnswerFaq(), _offer_then("yeah", "affirm"))
    assert messages[-1]["custom"] == {"handoff": {"reason": "faq_unanswered"}}


async def test_yes_with_no_offer_before_it_hands_nothing_off(db_url):
    t = _offer_then("yeah", "affirm")
    t.events = [{"event": "user", "text": "hi"}, *t.events[1:2], {"event": "user", "text": "ok"}]
    t.events.append({"event": "user", "text": "yeah"})  # the offer was two messages ago
    _events, messages = await run(ActionAnswerFaq(), t)
    assert not any(m.get("custom") for m in messages)
