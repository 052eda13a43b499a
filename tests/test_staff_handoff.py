"""The live hand-off through the real gateway app (TestClient), the real Rasa server and
action server of the live stack, and the real transcript database: a shopper's widget
socket and agents' console sockets and API calls, side by side."""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from bot.gateway.transcripts import TranscriptStore, chat_messages
from bot.rasa_auth import rasa_auth_headers
from bot.staff.accounts import StaffAccounts
from bot.staff.queue import AlreadyClaimed, HandoffStore
from bot.staff.tables import chat_handoffs

from .staff_helpers import SHOP, Agent, add_agent, frames_until, gateway, staff_settings

pytestmark = pytest.mark.slow


@pytest.fixture
def s(settings, tmp_path, live):  # type: ignore[no-untyped-def]
    return staff_settings(
        settings,
        tmp_path,
        rasa_url=live.settings.rasa_url,
        orders_url=live.settings.orders_url,
        staff_claim_timeout_seconds=300,
    )


def shopper(client: Any, token: str | None = None) -> Any:
    return client.websocket_connect("/ws", headers={"origin": SHOP})


def hello(ws: Any, token: str | None = None) -> dict[str, Any]:
    ws.send_json({"type": "hello", "token": token})
    session: dict[str, Any] = ws.receive_json()
    assert session["type"] == "session"
    return session


def say(ws: Any, text: str, payload: str | None = None) -> str:
    client_id = uuid.uuid4().hex
    ws.send_json({"type": "message", "id": client_id, "text": text, "payload": payload})
    return client_id


def of_type(kind: str, **match: Any) -> Any:
    return lambda f: f["type"] == kind and all(f.get(k) == v for k, v in match.items())


def turn_frames(ws: Any) -> list[dict[str, Any]]:
    """Every frame up to the end of the bot's turn (typing off)."""
    frames: list[dict[str, Any]] = []
    while True:
        frame = ws.receive_json()
        if frame["type"] == "error":
            raise AssertionError(frame)
        frames.append(frame)
        if frame["type"] == "typing" and frame["on"] is False and "who" not in frame:
            return frames


def bot_turn(ws: Any) -> list[dict[str, Any]]:
    """Messages of the bot's turn."""
    return [f["message"] for f in turn_frames(ws) if f["type"] == "message"]


def rasa_tracker(live: Any, conversation_id: str) -> dict[str, Any]:
    r = httpx.get(
        f"{live.settings.rasa_url}/conversations/{conversation_id}/tracker",
        headers=rasa_auth_headers(live.settings),
        timeout=10,
    )
    r.raise_for_status()
    tracker: dict[str, Any] = r.json()
    return tracker


def user_events(tracker: dict[str, Any]) -> list[str]:
    return [e.get("text") for e in tracker["events"] if e["event"] == "user"]


def conversation_of(s: Any, session_id: str) -> str:
    return TranscriptStore(s.database_url).current(session_id).id


def test_a_shopper_and_an_agent_talk_while_rasa_stays_silent(s, live):
    sophie, marc = add_agent(s, "Sophie Martin"), add_agent(s, "Marc Dubois")
    with gateway(s) as client:
        agent, other = Agent(client, sophie), Agent(client, marc)
        with agent.socket() as console, shopper(client) as widget:
            session = hello(widget)
            say(widget, "I want to talk to a person")
            turn = bot_turn(widget)
            assert any((m.get("custom") or {}).get("handoff") for m in turn)
            conversation_id = conversation_of(s, session["session_id"])

            # The agent's queue gets it live, with the reason and the wait.
            queued, _ = frames_until(console, of_type("queue"))
            assert queued["conversation"]["conversation_id"] == conversation_id
            assert queued["conversation"]["state"] == "waiting"
            assert queued["conversation"]["reason"] == "shopper_asked"
            assert queued["conversation"]["waited_seconds"] >= 0
            listed = agent.get("/api/staff/queue").json()["conversations"]
            assert [c["conversation_id"] for c in listed] == [conversation_id]

            # Sophie claims it; Marc's claim is refused and says who has it.
            console.send_json({"type": "watch", "conversation_id": conversation_id})
            claimed = agent.post(f"/api/staff/conversations/{conversation_id}/claim")
            assert claimed.status_code == 200
            assert claimed.json()["conversation"]["agent"]["name"] == "Sophie Martin"
            refused = other.post(f"/api/staff/conversations/{conversation_id}/claim")
            assert refused.status_code == 409
            assert (
                refused.json()["detail"]["message"]
                == "Sophie Martin already has this conversation."
            )
            assert refused.json()["detail"]["agent"]["name"] == "Sophie Martin"

            joined, _ = frames_until(widget, of_type("handoff_state"))
            assert joined["handoff"]["state"] == "claimed"
            assert joined["handoff"]["agent"] == "Sophie"
            tracker = rasa_tracker(live, conversation_id)
            assert tracker["paused"] is True
            before = user_events(tracker)

            # Shopper -> agent, with typing, and Rasa never sees it.
            widget.send_json({"type": "typing", "on": True})
            typing, _ = frames_until(console, of_type("typing", who="shopper"))
            assert typing == {
                "type": "typing",
                "conversation_id": conversation_id,
                "on": True,
                "who": "shopper",
            }
            say(widget, "hello? my ring is too small, what size should I order?")
            seen, _ = frames_until(
                console, lambda f: f["type"] == "message" and f["message"]["role"] == "shopper"
            )
            assert seen["message"]["text"].startswith("hello? my ring")
            assert seen["message"]["status"] == "agent"

            # Agent -> shopper, with typing.
            console.send_json({"type": "typing", "conversation_id": conversation_id, "on": True})
            dots, _ = frames_until(widget, of_type("typing", who="agent"))
            assert dots["on"] is True and dots["name"] == "Sophie"
            reply = agent.post(
                f"/api/staff/conversations/{conversation_id}/messages",
                {"client_id": "a-1", "text": "Hi! I'm Sophie. Which size is it now?"},
            )
            assert reply.status_code == 201
            got, _ = frames_until(
                widget, lambda f: f["type"] == "message" and f["message"]["role"] == "agent"
            )
            assert got["message"]["author"] == "Sophie"
            assert got["message"]["text"] == "Hi! I'm Sophie. Which size is it now?"
            # Only the agent who has it may write; the same client id is stored once.
            assert (
                other.post(
                    f"/api/staff/conversations/{conversation_id}/messages",
                    {"client_id": "b-1", "text": "me too"},
                ).status_code
                == 409
            )
            again = agent.post(
                f"/api/staff/conversations/{conversation_id}/messages",
                {"client_id": "a-1", "text": "Hi! I'm Sophie. Which size is it now?"},
            )
            assert again.status_code == 200 and again.json()["duplicate"] is True

            say(widget, "size 6, thanks")
            frames_until(
                console,
                lambda f: f["type"] == "message" and f["message"]["text"] == "size 6, thanks",
            )
            assert user_events(rasa_tracker(live, conversation_id)) == before

            # A reload keeps the conversation with the agent.
            with shopper(client) as reloaded:
                back = hello(reloaded, session["token"])
                assert (
                    back["handoff"]["state"] == "claimed" and back["handoff"]["agent"] == "Sophie"
                )
                roles = [m["role"] for m in back["history"]]
                assert "agent" in roles and roles.count("system") >= 1

            # Hand back: Rasa resumes, the shopper is told, the bot answers again.
            assert (
                agent.post(f"/api/staff/conversations/{conversation_id}/release").status_code == 200
            )
            back_to_bot, _ = frames_until(widget, of_type("handoff_state"))
            assert back_to_bot["handoff"] is None
            assert rasa_tracker(live, conversation_id)["paused"] is False
            say(widget, "how long does shipping take?")
            answer = [m for m in bot_turn(widget) if m["role"] == "bot" and m["text"]]
            assert answer and "week" in answer[0]["text"]
            assert "how long does shipping take?" in user_events(
                rasa_tracker(live, conversation_id)
            )
            assert agent.get("/api/staff/queue").json()["conversations"] == []


def test_nobody_claims_in_time_the_shopper_leaves_an_email_and_nothing_is_lost(
    settings, tmp_path, live
):
    s = staff_settings(
        settings, tmp_path, rasa_url=live.settings.rasa_url, staff_claim_timeout_seconds=1.0
    )
    agent_user = add_agent(s)
    with gateway(s) as client:
        agent = Agent(client, agent_user)
        with agent.socket(), shopper(client) as widget:  # an agent is online, but busy
            session = hello(widget)
            say(widget, "can I speak to a human please")
            queued = next(f for f in turn_frames(widget) if f["type"] == "handoff_state")
            assert queued["handoff"]["state"] == "waiting"
            assert queued["handoff"]["unavailable"] is False  # someone is online: wait first
            started = time.monotonic()
            told, before = frames_until(widget, of_type("handoff_state"), limit=20)
            assert 0.5 < time.monotonic() - started < 15
            assert told["handoff"]["unavailable"] is True
            notice = [
                f for f in before if f["type"] == "message" and f["message"]["role"] == "system"
            ]
            assert "Nobody from our team is free" in notice[-1]["message"]["text"]
            assert s.support_email in notice[-1]["message"]["text"]

            widget.send_json({"type": "contact", "email": "not an address"})
            bad, _ = frames_until(widget, of_type("error"))
            assert bad["code"] == "bad_request" and bad["field"] == "email"
            widget.send_json({"type": "contact", "email": " ava@example.com "})
            saved, _ = frames_until(widget, of_type("contact_saved"))
            assert saved["email"] == "ava@example.com"
            # The shopper keeps writing meanwhile: stored, and the bot still answers.
            say(widget, "also, do you ship to Canada?")
            assert any(m["role"] == "bot" for m in bot_turn(widget))

        conversation_id = conversation_of(s, session["session_id"])
        queue = agent.get("/api/staff/queue").json()["conversations"]
        assert [c["conversation_id"] for c in queue] == [conversation_id]
        assert queue[0]["contact_email"] == "ava@example.com" and queue[0]["unavailable"] is True
        texts = [m.text for m in TranscriptStore(s.database_url).history(conversation_id)]
        assert "can I speak to a human please" in texts
        assert "also, do you ship to Canada?" in texts


def test_with_no_agent_online_the_shopper_is_told_at_once(s, live):
    with gateway(s) as client, shopper(client) as widget:
        hello(widget)
        say(widget, "a person please")
        frames = []
        while not (frames and frames[-1]["type"] == "typing" and frames[-1]["on"] is False):
            frames.append(widget.receive_json())
        states = [f["handoff"] for f in frames if f["type"] == "handoff_state"]
        assert states[-1]["unavailable"] is True
        assert any(
            f["type"] == "message"
            and f["message"]["role"] == "system"
            and "Nobody from our team is free" in (f["message"]["text"] or "")
            for f in frames
        )


def test_an_agent_reads_a_live_conversation_and_takes_it_over(s, live):
    user = add_agent(s)
    with gateway(s) as client:
        agent = Agent(client, user)
        with shopper(client) as widget:
            session = hello(widget)
            say(widget, "how long does a refund take?")
            bot_turn(widget)
            conversation_id = conversation_of(s, session["session_id"])
            live_list = agent.get("/api/staff/live").json()["conversations"]
            assert conversation_id in [c["conversation_id"] for c in live_list]
            with agent.socket() as console:
                console.send_json({"type": "watch", "conversation_id": conversation_id})
                time.sleep(0.2)
                say(widget, "and can I pay in installments?")
                bot_turn(widget)
                # Read-only: the agent sees the shopper's message and the bot's answer live.
                seen_roles = set()
                while seen_roles != {"shopper", "bot"}:
                    frame, _ = frames_until(console, of_type("message"))
                    seen_roles.add(frame["message"]["role"])
                view = agent.get(f"/api/staff/conversations/{conversation_id}").json()
                assert view["conversation"]["state"] == "bot"
                assert [m["role"] for m in view["messages"]].count("shopper") == 2
                took = agent.post(f"/api/staff/conversations/{conversation_id}/claim")
                assert took.status_code == 200
                assert took.json()["conversation"]["reason"] == "agent_took_over"
                joined, _ = frames_until(widget, of_type("handoff_state"))
                assert joined["handoff"]["state"] == "claimed"
                close = agent.post(f"/api/staff/conversations/{conversation_id}/close")
                assert close.json()["conversation"]["state"] == "closed"
                closed, before = frames_until(widget, of_type("handoff_state"))
                assert closed["handoff"]["state"] == "closed"
                assert "closed this conversation" in before[-1]["message"]["text"]
                # After closing, the bot answers the shopper again.
                say(widget, "thanks, bye")
                assert any(m["role"] == "bot" for m in bot_turn(widget))
        handoffs = _rows(s, chat_handoffs)
        assert [(h.reason, h.outcome) for h in handoffs] == [("agent_took_over", "closed")]


def test_each_reply_records_whether_it_used_a_suggestion(s, live):
    user = add_agent(s)
    with gateway(s) as client:
        agent = Agent(client, user)
        with shopper(client) as widget:
            session = hello(widget)
            say(widget, "talk to a person")
            bot_turn(widget)
            conversation_id = conversation_of(s, session["session_id"])
            agent.post(f"/api/staff/conversations/{conversation_id}/claim")
            suggestion = "Shipping takes 3 to 5 weeks."
            sent = [
                ("unchanged", {"text": suggestion, "suggestion": suggestion}),
                ("unchanged", {"text": f" {suggestion}\n", "suggestion": suggestion}),
                ("edited", {"text": suggestion + " Sorry!", "suggestion": suggestion}),
                ("none", {"text": "Typed myself."}),
            ]
            for i, (_, body) in enumerate(sent):
                r = agent.post(
                    f"/api/staff/conversations/{conversation_id}/messages",
                    {"client_id": f"r{i}", "suggestion_source": "faq-x"} | body,
                )
                assert r.status_code == 201, r.text
        rows = [r for r in _rows(s, chat_messages) if r.role == "agent"]
        assert [r.suggestion_use for r in rows] == [use for use, _ in sent]
        assert [r.suggestion_source for r in rows] == ["faq-x", "faq-x", "faq-x", None]


def test_two_agents_claiming_at_the_same_moment_one_wins(s):
    TranscriptStore(s.database_url).open_session("race")
    conversation_id = TranscriptStore(s.database_url).current("race").id
    store = HandoffStore(s.database_url)
    store.start(conversation_id, "shopper_asked")
    accounts = StaffAccounts(s.database_url)
    agents = [add_agent(s, f"Agent{i} X") for i in range(6)]
    results: list[str] = []
    barrier = threading.Barrier(len(agents))

    def claim(agent: Any) -> None:
        barrier.wait()
        try:
            store.claim(conversation_id, agent)
            results.append(f"won:{agent.id}")
        except AlreadyClaimed:
            results.append("refused")

    threads = [threading.Thread(target=claim, args=(a,)) for a in agents]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results)[:5] == ["refused"] * 5 and results.count("refused") == 5
    winner = int(next(r for r in results if r.startswith("won:")).split(":")[1])
    assert store.state(conversation_id).agent_id == winner
    assert accounts.by_id(winner) is not None


def test_messages_kept_while_rasa_was_down_go_to_the_agent_who_claims(settings, tmp_path):
    s = staff_settings(settings, tmp_path)  # Rasa down: nothing listens at rasa_url
    user = add_agent(s)
    with gateway(s) as client:
        agent = Agent(client, user)
        with shopper(client) as widget:
            session = hello(widget)
            say(widget, "where is my ring??")
            frames_until(widget, of_type("error"))  # kept for later
            conversation_id = conversation_of(s, session["session_id"])
            assert (
                agent.post(f"/api/staff/conversations/{conversation_id}/claim").status_code == 200
            )
        rows = [r for r in _rows(s, chat_messages) if r.role == "shopper"]
        assert [(r.text, r.status) for r in rows] == [("where is my ring??", "agent")]
        # Rasa could not be paused (it is down); the gateway still sends it nothing.
        assert HandoffStore(s.database_url).state(conversation_id).rasa_paused is False


def test_a_conversation_handed_back_while_rasa_was_down_is_resumed_before_its_next_message(s, live):
    user = add_agent(s)
    with gateway(s) as client:
        agent = Agent(client, user)
        with shopper(client) as widget:
            session = hello(widget)
            say(widget, "hi")
            bot_turn(widget)
            conversation_id = conversation_of(s, session["session_id"])
            agent.post(f"/api/staff/conversations/{conversation_id}/claim")
            assert rasa_tracker(live, conversation_id)["paused"] is True
            # As if the resume had failed: the conversation is back with the bot, but Rasa
            # still pauses it and the gateway knows.
            store = HandoffStore(s.database_url)
            store.end(conversation_id, user, "handed_back")
            store.set_rasa_paused(conversation_id, True)
            say(widget, "how do I return a ring?")
            answer = [m for m in bot_turn(widget) if m["role"] == "bot"]
            assert answer, "the bot answered after being resumed"
        assert rasa_tracker(live, conversation_id)["paused"] is False
        assert store.state(conversation_id).rasa_paused is False


def _rows(s: Any, table: Any) -> list[Any]:
    from bot.db import get_engine

    with get_engine(s.database_url).connect() as conn:
        return list(conn.execute(select(table).order_by(table.c.id)).all())


def test_a_person_offered_after_a_miss_arrives_in_the_queue_with_that_reason(s, live):
    user = add_agent(s)
    with gateway(s) as client:
        agent = Agent(client, user)
        with shopper(client) as widget:
            session = hello(widget)
            say(widget, "do you sell tickets to the planetarium?")
            offered = [b for m in bot_turn(widget) for b in m.get("buttons") or []]
            button = next(b for b in offered if b["title"] == "Talk to a person")
            say(widget, button["title"], payload=button["payload"])
            bot_turn(widget)
        queue = agent.get("/api/staff/queue").json()["conversations"]
        assert [(c["conversation_id"], c["reason"]) for c in queue] == [
            (conversation_of(s, session["session_id"]), "faq_unanswered")
        ]


def test_after_a_take_over_the_bot_does_not_come_back_mid_form(s, live):
    user = add_agent(s)
    with gateway(s) as client:
        agent = Agent(client, user)
        with shopper(client) as widget:
            session = hello(widget)
            say(widget, "where is my order?")
            asked = " ".join(m["text"] or "" for m in bot_turn(widget))
            assert "order number" in asked.lower()  # the bot's form started
            conversation_id = conversation_of(s, session["session_id"])
            assert rasa_tracker(live, conversation_id)["active_loop"].get("name")
            agent.post(f"/api/staff/conversations/{conversation_id}/claim")
            assert not rasa_tracker(live, conversation_id)["active_loop"].get("name")
            # The agent's reply id may be the same string as one of the shopper's: no clash.
            shopper_id = say(widget, "it's KNT-1001")
            frames_until(widget, of_type("ack"))
            r = agent.post(
                f"/api/staff/conversations/{conversation_id}/messages",
                {"client_id": shopper_id, "text": "Let me look."},
            )
            assert r.status_code == 201 and r.json()["duplicate"] is False
            agent.post(f"/api/staff/conversations/{conversation_id}/release")
            frames_until(widget, of_type("handoff_state"))
            say(widget, "how long does shipping take?")
            answer = " ".join(m["text"] or "" for m in bot_turn(widget))
            assert "week" in answer and "order number" not in answer.lower()


def test_a_hand_off_nobody_claimed_is_handed_back_by_the_team_not_by_a_name(s, live):
    user = add_agent(s)
    with gateway(s) as client:
        agent = Agent(client, user)
        with shopper(client) as widget:
            session = hello(widget)
            say(widget, "a human please")
            bot_turn(widget)
            conversation_id = conversation_of(s, session["session_id"])
            assert (
                agent.post(f"/api/staff/conversations/{conversation_id}/release").status_code == 200
            )
            back, before = frames_until(widget, of_type("handoff_state"))
            assert back["handoff"] is None
            notice = [f["message"]["text"] for f in before if f["type"] == "message"][-1]
            assert notice.startswith("Our team handed you back") and "Sophie" not in notice
