"""Suggested replies through the real gateway (FAQ engine, Rasa's tracker, the order
backend) and `bot suggest` through the real command line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from typing import Any

import pytest

from bot.gateway.transcripts import TranscriptStore
from bot.settings import PROJECT_ROOT
from bot.supervisor import free_port

from .staff_helpers import EMAIL, SHOP, Agent, add_agent, gateway, staff_settings

pytestmark = pytest.mark.slow


@pytest.fixture
def s(settings, tmp_path, live):  # type: ignore[no-untyped-def]
    return staff_settings(
        settings, tmp_path, rasa_url=live.settings.rasa_url, orders_url=live.settings.orders_url
    )


def say_and_wait(ws: Any, text: str) -> None:
    ws.send_json({"type": "message", "id": uuid.uuid4().hex, "text": text})
    while True:
        frame = ws.receive_json()
        if frame["type"] == "typing" and frame["on"] is False:
            return


def test_suggestions_answer_the_latest_message_with_the_verified_orders_facts(
    s: Any, changeable_order: tuple[str, str]
) -> None:
    number, email = changeable_order
    agent_user = add_agent(s)
    with gateway(s) as client:
        agent = Agent(client, agent_user)
        with client.websocket_connect("/ws", headers={"origin": SHOP}) as ws:
            ws.send_json({"type": "hello", "token": None})
            session = ws.receive_json()
            conversation_id = TranscriptStore(s.database_url).current(session["session_id"]).id
            say_and_wait(ws, "how long does shipping take?")
            before = agent.get(f"/api/staff/conversations/{conversation_id}/suggestions").json()
            assert before["order"] is None  # nothing verified yet
            say_and_wait(ws, f"what's the status of my order {number}")
            say_and_wait(ws, email)
            say_and_wait(ws, "could I still swap the diamond for a ruby?")
            r = agent.get(f"/api/staff/conversations/{conversation_id}/suggestions")
        assert r.status_code == 200
        assert "faq;dur=" in r.headers["server-timing"]
        body = r.json()
        latest = TranscriptStore(s.database_url).latest_shopper(conversation_id)
        assert latest is not None and body["message_id"] == latest.id
        assert body["message_id"] != before["message_id"]
        assert body["text"] == "could I still swap the diamond for a ruby?"
        assert len(body["faq"]) == 3
        assert "orders_change_item" in [f["faq_id"] for f in body["faq"]]
        assert {"faq_id", "question", "answer", "section", "score"} <= set(body["faq"][0])
        assert body["faq"][0]["score"] >= body["faq"][1]["score"] >= body["faq"][2]["score"]
        order = body["order"]
        assert order["order_number"] == number and order["status"] == "in_production"
        assert order["possible"]["change"]["possible"] is True
        assert order["possible"]["return"] == {
            "possible": False,
            "reason": "not_shipped",
            "message": order["possible"]["return"]["message"],
            "until": None,
        }
        assert order["crafting_eta"]["earliest"] < order["crafting_eta"]["latest"]


def test_a_pasted_email_gets_its_questions_the_orders_facts_and_a_draft(s):
    agent_user = add_agent(s, "Sophie Martin")
    with gateway(s) as client:
        agent = Agent(client, agent_user)
        assert client.post("/api/staff/suggest", json={"text": EMAIL}).status_code == 401
        r = agent.post("/api/staff/suggest", {"text": EMAIL})
    assert r.status_code == 200, r.text
    body = r.json()
    texts = [q["text"] for q in body["questions"]]
    assert len(texts) == 3, texts  # the quoted questions are not the customer's
    assert not any("order number" in t or "anything else" in t for t in texts)
    ids = [[x["faq_id"] for x in q["suggestions"]] for q in body["questions"]]
    assert any("payments_bnpl" in top for top in ids)
    assert all(len(top) <= 3 for top in ids)
    assert body["order"]["order_number"] == "KNT-1002"
    assert body["order"]["status"] == "delivered"
    draft = body["draft"]
    assert draft.startswith("Hello Dana,") and draft.rstrip().endswith("Sophie")
    assert "> " not in draft and "Could you send us your order number" not in draft


def test_the_order_system_down_is_said_not_guessed(settings, tmp_path, live):
    s = staff_settings(
        settings,
        tmp_path,
        rasa_url=live.settings.rasa_url,
        orders_url=f"http://127.0.0.1:{free_port()}",
    )
    with gateway(s) as client:
        agent = Agent(client, add_agent(s))
        body = agent.post("/api/staff/suggest", {"text": "Where is KNT-1001? thanks"}).json()
    assert body["order"] == {
        "order_number": "KNT-1001",
        "error": "The order system can't be reached right now.",
    }


def _suggest(stdin: str, s: Any, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", "suggest", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        env={**os.environ, "ORDERS_URL": s.orders_url, "HF_HUB_OFFLINE": "1"},
        timeout=300,
    )


def test_bot_suggest_json_prints_one_object_with_the_contract(s):
    done = _suggest(EMAIL, s, "--json", "--name", "Marc")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 1
    result = json.loads(lines[0])
    assert set(result) == {"questions", "order", "draft"}
    for question in result["questions"]:
        assert isinstance(question["text"], str) and question["text"]
        assert len(question["suggestions"]) <= 3
        for suggestion in question["suggestions"]:
            assert {"faq_id", "question", "answer", "score"} <= set(suggestion)
    assert result["order"]["order_number"] == "KNT-1002"
    assert result["draft"].rstrip().endswith("Marc")
    human = _suggest("Hello,\nis the ring insured when you ship it?\nBest, Al", s)
    assert human.returncode == 0 and "--- draft reply ---" in human.stdout
    empty = _suggest("", s, "--json")
    assert empty.returncode == 0 and json.loads(empty.stdout)["questions"] == []
