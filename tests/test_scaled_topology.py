"""The scaled topology on this machine (issue 12): 2 Rasa servers, 2 gateways, 2 action
servers and the order backend, on the local PostgreSQL and Redis (tests/topology.py). A
shopper on gateway A is in the middle of a form on Rasa A when Rasa A is killed; the
conversation goes on through Rasa B, is handed off, and an agent on gateway B talks with
the shopper both ways. Nothing is lost or doubled anywhere: not in the shopper's widget,
not in the transcript the console shows, not in Rasa's tracker."""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text

from bot.gateway.rasa_client import rank
from bot.gateway.transcripts import TranscriptStore

from .staff_helpers import add_agent
from .test_gateway_scaled import Console, quiet, settled, until
from .topology import SHOP, RecordingTab, Topology, scaled_topology
from .widget_client import Probe

pytestmark = pytest.mark.slow

AGENT_TEXTS = ["Hi, Nora here. I can see order KNT-1001.", "It ships in about three weeks."]
SHOPPER_TO_AGENT = ["Can it be gift wrapped?", "Thank you, that's all."]


@pytest.fixture(scope="module")
def topology(settings, tmp_path_factory) -> Iterator[Topology]:  # type: ignore[no-untyped-def]
    started = time.monotonic()
    with scaled_topology(settings, tmp_path_factory.mktemp("topology")) as running:
        print(f"scaled topology ready in {time.monotonic() - started:.0f} s")
        yield running


def shopper_on_rasa_a(t: Topology) -> tuple[RecordingTab, str]:
    """A shopper on gateway A whose conversation ranks Rasa A first (conversation ids are
    random: about every second new session is one)."""
    servers = [u.strip() for u in t.settings.rasa_urls.split(",")]
    store = TranscriptStore(t.settings.database_url)
    for _ in range(40):
        tab = RecordingTab.open(t.gateway_a.url, SHOP)
        session = tab.hello()
        conversation_id = store.current(session["session_id"]).id
        if rank(servers, conversation_id)[0] == t.rasa_a.url:
            tab.frames.clear()  # the session frame; what is counted starts now
            return tab, conversation_id
        tab.close()
    raise AssertionError("40 new conversations, none of them Rasa A's")


def bot_text(probe: Probe) -> str:
    return "\n".join(m.get("text") or "" for m in probe.bot)


def ask(tab: RecordingTab, message: str, expect: str) -> Probe:
    probe = tab.probe(message, timeout=120)
    assert probe.error is None, probe.error
    assert expect in bot_text(probe), probe.bot
    return probe


def rasa_servers(t: Topology) -> dict[str, str]:
    """Each Rasa server's state as gateway A sees it."""
    servers: dict[str, str] = httpx.get(f"{t.gateway_a.url}/healthz", timeout=10).json()[
        "rasa_servers"
    ]
    return servers


def rasa_events(t: Topology, conversation_id: str) -> list[dict[str, Any]]:
    """The conversation's events as both Rasa servers share them (the tracker store)."""
    engine = create_engine(t.tracker_store_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text("SELECT data FROM events WHERE sender_id = :s ORDER BY id"),
                {"s": conversation_id},
            ).all()
    finally:
        engine.dispose()
    return [json.loads(data) for (data,) in rows]


Accept = Callable[[dict[str, Any]], bool]


def agent_says(said: str) -> Accept:
    return lambda f: (
        f["type"] == "message" and f["message"]["role"] == "agent" and f["message"]["text"] == said
    )


def ack_of(client_id: str) -> Accept:
    return lambda f: f["type"] == "ack" and f["id"] == client_id


def carries(client_id: str) -> Accept:
    """The console's frame with the shopper's message `client_id`."""
    return lambda f: f["type"] == "message" and f["message"].get("client_id") == client_id


def wait_for(check: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, what
        time.sleep(0.2)


def test_a_form_survives_its_rasa_and_the_hand_off_crosses_gateways_once(
    topology: Topology,
) -> None:
    t = topology
    user = add_agent(t.settings, "Nora Quinn")
    agent = Console(t.gateway_b, user.email)
    tab: RecordingTab | None = None
    try:
        # Gateway A counts the agent on B as online (else the hand-off says nobody is free).
        wait_for(
            lambda: (
                agent.http.get(f"{t.gateway_a.url}/api/staff/queue").json()["agents_online"] >= 1
            ),
            "gateway A never heard of the agent on gateway B",
        )
        tab, conversation_id = shopper_on_rasa_a(t)
        settled(tab)

        # 1. The status form on Rasa A, up to the question for the e-mail address.
        probes = [
            ask(tab, "where is my order?", "order number"),
            ask(tab, "KNT-1001", "e-mail"),
        ]
        # Both were up, so by its rank the conversation was on Rasa A.
        assert rasa_servers(t) == {t.rasa_a.url: "ok", t.rasa_b.url: "ok"}

        # 2. Rasa A dies between the question and the answer.
        t.rasa_a.kill()

        # 3. The answer goes through Rasa B, which finds the form in PostgreSQL.
        status = ask(tab, "ava@example.com", "KNT-1001")
        assert "being crafted" in bot_text(status)
        probes.append(status)
        assert rasa_servers(t) == {t.rasa_a.url: "unreachable", t.rasa_b.url: "ok"}
        # The ownership check ran on Rasa B's action server (its call to the order backend).
        assert "/v1/verify" in t.actions_b.log_text()
        assert "/v1/verify" not in t.actions_a.log_text()

        # 4. The shopper asks for a person; the agent on gateway B claims the conversation.
        handoff = ask(tab, "I want to talk to a person", "")
        assert {"handoff": {"reason": "shopper_asked"}} in [m.get("custom") for m in handoff.bot]
        probes.append(handoff)
        queued = agent.until(
            lambda f: (
                f["type"] == "queue" and f["conversation"]["conversation_id"] == conversation_id
            ),
            timeout=60,
        )
        assert queued["conversation"]["state"] == "waiting"
        agent.send({"type": "watch", "conversation_id": conversation_id})
        claimed = agent.post(f"/api/staff/conversations/{conversation_id}/claim")
        assert claimed.status_code == 200, claimed.text
        until(
            tab,
            lambda f: (
                f["type"] == "message"
                and "Nora from our team has joined" in (f["message"].get("text") or "")
            ),
        )

        # Both ways, twice: agent (B) -> shopper (A), shopper (A) -> agent (B).
        to_agent = []
        for said, answer in zip(AGENT_TEXTS, SHOPPER_TO_AGENT, strict=True):
            reply = agent.post(
                f"/api/staff/conversations/{conversation_id}/messages",
                {"client_id": uuid.uuid4().hex, "text": said},
            )
            assert reply.status_code == 201, reply.text
            until(tab, agent_says(said))
            sent = tab.say(answer)
            to_agent.append(sent)
            until(tab, ack_of(sent))
            seen = agent.until(carries(sent))
            assert seen["message"]["text"] == answer
        late = quiet(tab, 3.0)  # anything doubled or late would arrive now
        tab.frames.extend(late)

        # 5. Nothing lost or doubled.
        to_bot = [p.client_id for p in probes]
        frames = tab.frames
        acks = Counter(f["id"] for f in frames if f["type"] == "ack")
        assert acks == Counter(to_bot + to_agent), acks
        assert all(f["duplicate"] is False for f in frames if f["type"] == "ack")
        assert [f for f in frames if f["type"] == "error"] == []

        r = agent.http.get(f"/api/staff/conversations/{conversation_id}")
        assert r.status_code == 200, r.text
        body = r.json()
        # The console on B reads the verified order from Rasa's tracker (through Rasa B).
        assert body["verified_order"] == "KNT-1001"
        transcript = body["messages"]
        shopper = [m for m in transcript if m["role"] == "shopper"]
        assert [m["client_id"] for m in shopper] == to_bot + to_agent
        assert [m["status"] for m in shopper] == ["answered"] * 4 + ["agent"] * 2
        assert [m["text"] for m in transcript if m["role"] == "agent"] == AGENT_TEXTS
        # Each message for the bot is answered once: what follows it in the transcript
        # up to the next shopper message is exactly what the widget showed as its reply.
        for probe in probes:
            at = next(i for i, m in enumerate(transcript) if m["client_id"] == probe.client_id)
            after = []
            for m in transcript[at + 1 :]:
                if m["role"] == "shopper":
                    break
                if m["role"] == "bot":
                    after.append(m["id"])
            assert after == [m["id"] for m in probe.bot], (probe.client_id, transcript)
        assert sum("being crafted" in (m["text"] or "") for m in transcript) == 1
        # The widget got every message of the transcript live, once each, in order.
        shown = [f["message"]["id"] for f in frames if f["type"] == "message"]
        assert shown == [m["id"] for m in transcript]

        # Rasa (A, then B, one tracker store) got each message meant for it once, and
        # none of the agent's; the claim paused it (through Rasa B).
        events = rasa_events(t, conversation_id)
        to_rasa = [e["text"] for e in events if e["event"] == "user"]
        assert to_rasa == [
            "where is my order?",
            "KNT-1001",
            "ava@example.com",
            "I want to talk to a person",
        ]
        kinds = [e["event"] for e in events]
        last_user = len(kinds) - 1 - kinds[::-1].index("user")
        assert "pause" in kinds[last_user:]
    finally:
        if tab is not None:
            tab.close()
        agent.close()
