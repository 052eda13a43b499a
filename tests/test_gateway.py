"""The gateway through Starlette's TestClient WebSockets, against the real transcript
database and the real Rasa server of the live stack (or a port where nothing listens,
for "Rasa is down")."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from bot.gateway.app import create_app
from bot.gateway.tokens import TokenSigner
from bot.gateway.transcripts import TranscriptStore
from bot.settings import Settings
from bot.supervisor import free_port

ORIGIN = "http://shop.test"


def gateway_settings(base: Settings, tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": f"sqlite:///{tmp_path / 'gateway.db'}",
        "rasa_url": f"http://127.0.0.1:{free_port()}",  # nothing listens there
        "gateway_allowed_origins": [ORIGIN],
        "gateway_rasa_timeout_seconds": 60,
    }
    return base.model_copy(update=values | overrides)


@contextmanager
def gateway(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as client:
        yield client


@contextmanager
def chat(client: TestClient, token: str | None = None) -> Iterator[tuple[Any, dict[str, Any]]]:
    with client.websocket_connect("/ws", headers={"origin": ORIGIN}) as ws:
        ws.send_json({"type": "hello", "token": token})
        session = ws.receive_json()
        assert session["type"] == "session", session
        yield ws, session


def until(ws: Any, kind: str, limit: int = 30) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Frames up to and including the first of `kind` (and the ones before it)."""
    seen: list[dict[str, Any]] = []
    for _ in range(limit):
        frame = ws.receive_json()
        if frame["type"] == kind:
            return frame, seen
        seen.append(frame)
    raise AssertionError(f"no {kind!r} frame in {seen}")


def say(ws: Any, text: str, payload: str | None = None) -> str:
    client_id = uuid.uuid4().hex
    ws.send_json({"type": "message", "id": client_id, "text": text, "payload": payload})
    return client_id


def bot_turn(ws: Any) -> list[dict[str, Any]]:
    """Bot messages of one turn: they come before the typing indicator goes off."""
    bot: list[dict[str, Any]] = []
    while True:
        frame = ws.receive_json()
        if frame["type"] == "typing" and frame["on"] is False:
            return bot
        if frame["type"] == "error":
            raise AssertionError(frame)
        if frame["type"] == "message" and frame["message"]["role"] == "bot":
            bot.append(frame["message"])


@pytest.fixture
def offline(settings: Settings, tmp_path: Path) -> Settings:
    return gateway_settings(settings, tmp_path)


@pytest.fixture
def online(settings: Settings, tmp_path: Path, live) -> Settings:  # type: ignore[no-untyped-def]
    # The live stack's ports: Rasa, and the action server and order backend it checks.
    return gateway_settings(live.settings, tmp_path, rasa_url=live.settings.rasa_url)


def test_a_first_visit_gets_a_signed_token_and_a_reload_keeps_the_session(offline):
    with gateway(offline) as client:
        with chat(client) as (_, first):
            assert first["renewed"] is False and first["history"] == []
            assert first["limits"] == {"max_message_bytes": 2048}
            TokenSigner(offline.gateway_secret.get_secret_value(), 3600).verify(first["token"])
        with chat(client, first["token"]) as (_, again):
            assert again["session_id"] == first["session_id"]
            assert again["token"] == first["token"]
            assert again["renewed"] is False and again["notice"] is None


def test_a_forged_token_never_opens_someone_elses_chat(offline):
    with gateway(offline) as client:
        with chat(client) as (ws, victim):
            say(ws, "my order KNT-1001 and my e-mail")
            until(ws, "error")  # Rasa is down here; the message is kept all the same
        version, session_id, issued, _sig = victim["token"].split(".")
        forged = [
            f"{version}.{session_id}.{issued}.{'A' * 43}",
            _signed_with("another-secret", f"{version}.{session_id}.{issued}"),
            f"{version}.{session_id}.{int(issued) + 1}.{_sig}",
            "not a token",
        ]
        for token in forged:
            with chat(client, token) as (_, session):
                assert session["renewed"] is True
                assert session["session_id"] != session_id
                assert session["history"] == []
                assert "new one" in session["notice"]


def _signed_with(secret: str, body: str) -> str:
    mac = hmac.new(secret.encode(), body.encode(), hashlib.sha256).digest()
    return f"{body}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"


def test_an_expired_token_starts_a_new_chat_and_says_so(offline):
    signer = TokenSigner(
        offline.gateway_secret.get_secret_value(), offline.gateway_session_ttl_seconds
    )
    old, _ = signer.issue(now=time.time() - offline.gateway_session_ttl_seconds - 60)
    with gateway(offline) as client, chat(client, old) as (_, session):
        assert session["renewed"] is True
        assert "expired" in session["notice"]
        assert session["token"] != old


def test_an_oversize_message_is_refused_with_a_clear_error_and_the_socket_stays_open(offline):
    with gateway(offline) as client:
        with chat(client) as (ws, session):
            ws.send_json({"type": "message", "id": "big-1", "text": "x" * 3000})
            frame = ws.receive_json()
            assert frame["type"] == "error" and frame["code"] == "too_large"
            assert frame["id"] == "big-1"
            assert "2048" in frame["message"]
            ws.send_json({"type": "ping"})
            assert ws.receive_json() == {"type": "pong"}
        with chat(client, session["token"]) as (_, again):
            assert again["history"] == []  # refused, so not stored: the widget keeps the text


def test_a_flood_is_rate_limited_per_session_and_per_ip(settings, tmp_path):
    s = gateway_settings(
        settings,
        tmp_path,
        gateway_session_burst=3,
        gateway_session_rate=0.01,
        gateway_ip_burst=5,
        gateway_ip_rate=0.01,
    )
    with gateway(s) as client:
        with chat(client) as (ws, _):
            for _ in range(3):
                say(ws, "hello?")
                until(ws, "ack")
                until(ws, "error")  # Rasa down: kept
            flood = say(ws, "hello??")
            frame = ws.receive_json()
            assert frame["type"] == "error" and frame["code"] == "rate_limited"
            assert frame["id"] == flood and frame["retry_after"] > 1
            assert "goes out in" in frame["message"]
        # A new session from the same address gets two more, then the IP limit bites.
        with chat(client) as (ws, _):
            for _ in range(2):
                say(ws, "hi")
                until(ws, "ack")
                until(ws, "error")
            say(ws, "hi again")
            frame = ws.receive_json()
            assert frame["code"] == "rate_limited"
        metrics = client.get("/metrics").text
        assert 'knt_gateway_rejected_total{reason="rate_limited"} 2.0' in metrics


@pytest.mark.parametrize("headers", [{"origin": "https://evil.example"}, {}])
def test_a_page_not_on_the_allowlist_cannot_open_the_socket(offline, headers):
    with gateway(offline) as client:
        with (
            pytest.raises(WebSocketDisconnect) as refused,
            client.websocket_connect("/ws", headers=headers) as ws,
        ):
            ws.receive_json()
        assert refused.value.code == 4403
        assert 'knt_gateway_rejected_total{reason="origin"} 1.0' in client.get("/metrics").text


def test_the_first_frame_must_be_hello(offline):
    with (
        gateway(offline) as client,
        client.websocket_connect("/ws", headers={"origin": ORIGIN}) as ws,
    ):
        ws.send_text("not json")
        assert ws.receive_json()["code"] == "bad_request"
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
        assert closed.value.code == 4400


def test_bad_frames_get_an_error_and_the_chat_goes_on(offline):
    with gateway(offline) as client, chat(client) as (ws, _):
        for frame in (
            "[1, 2]",
            '{"type": "dance"}',
            '{"type": "message", "id": "has spaces", "text": "hi"}',
            '{"type": "message", "id": "ok-1", "text": "   "}',
            '{"type": "feedback", "message_id": "x", "value": "meh"}',
        ):
            ws.send_text(frame)
            reply = ws.receive_json()
            assert reply["type"] == "error" and reply["code"] == "bad_request", frame
            assert reply["message"]
        ws.send_json({"type": "ping"})
        assert ws.receive_json() == {"type": "pong"}


def test_an_idle_connection_is_closed(settings, tmp_path):
    s = gateway_settings(settings, tmp_path, gateway_idle_seconds=0.5)
    with gateway(s) as client, chat(client) as (ws, _):
        assert ws.receive_json() == {"type": "idle"}
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
        assert closed.value.code == 4408


def test_rasa_down_keeps_the_message_and_answers_it_when_rasa_is_back(
    offline, settings, tmp_path, live
):
    with gateway(offline) as client:
        health = client.get("/healthz")
        assert health.status_code == 200 and health.json()["rasa"] == "unreachable"
        with chat(client) as (ws, session):
            sent = say(ws, "How long does shipping take?")
            assert ws.receive_json() == {"type": "ack", "id": sent, "duplicate": False}
            frame, _ = until(ws, "error")
            assert frame["code"] == "assistant_unavailable" and frame["id"] == sent
            assert "saved" in frame["message"]
        assert "knt_gateway_rasa_errors_total 1.0" in client.get("/metrics").text
    pending = TranscriptStore(offline.database_url).history(
        TranscriptStore(offline.database_url).open_session(session["session_id"]).id
    )
    assert [(m.role, m.text, m.status) for m in pending] == [
        ("shopper", "How long does shipping take?", "pending")
    ]

    # Rasa is back (the same database, a gateway that reaches the live Rasa).
    back = offline.model_copy(update={"rasa_url": live.settings.rasa_url})
    shipping = _faq_answer("orders_ship_time")
    with gateway(back) as client, chat(client, session["token"]) as (ws, again):
        assert again["history"][0]["text"] == "How long does shipping take?"
        # Answered once: on this hello, or by the retry loop just before it.
        replies = again["history"][1:] or bot_turn(ws)
    assert replies[0]["text"] == shipping
    store = TranscriptStore(offline.database_url)
    history = store.history(store.open_session(session["session_id"]).id)
    assert history[0].status == "answered"
    assert history[1].text == shipping


def _faq_answer(entry_id: str) -> str:
    from bot.faq.corpus import load_corpus

    return load_corpus(Settings().faq_corpus_dir).get(entry_id).answer


def _tracker_user_texts(live, sender: str) -> list[str]:  # type: ignore[no-untyped-def]
    from bot.rasa_auth import rasa_auth_headers

    tracker = httpx.get(
        f"{live.settings.rasa_url}/conversations/{sender}/tracker",
        headers=rasa_auth_headers(live.settings),
        timeout=10,
    ).json()
    return [e.get("text") for e in tracker["events"] if e["event"] == "user"]


def test_a_policy_question_is_answered_through_rasa_with_typing_and_is_stored(online, live):
    with gateway(online) as client, chat(client) as (ws, _):
        sent = say(ws, "How long does shipping take?")
        assert ws.receive_json() == {"type": "ack", "id": sent, "duplicate": False}
        echo = ws.receive_json()
        assert echo["type"] == "message" and echo["message"]["client_id"] == sent
        assert echo["message"]["role"] == "shopper"
        assert ws.receive_json() == {"type": "typing", "on": True}
        replies = bot_turn(ws)
        assert replies[0]["text"] == _faq_answer("orders_ship_time")
        assert replies[0]["ts"].endswith("Z")
        metrics = client.get("/metrics").text
        assert 'knt_gateway_messages_total{role="shopper"} 1.0' in metrics
        assert "knt_gateway_reply_seconds_count 1.0" in metrics


def test_a_resent_message_id_is_acknowledged_but_rasa_sees_it_once(online, live):
    with gateway(online) as client:
        with chat(client) as (ws, session):
            ws.send_json({"type": "message", "id": "same-1", "text": "do you ship abroad?"})
            until(ws, "ack")
            bot_turn(ws)
        # The widget reconnects and resends what it had not seen acknowledged.
        with chat(client, session["token"]) as (ws, again):
            ws.send_json({"type": "message", "id": "same-1", "text": "do you ship abroad?"})
            assert ws.receive_json() == {"type": "ack", "id": "same-1", "duplicate": True}
            ws.send_json({"type": "ping"})
            assert ws.receive_json() == {"type": "pong"}  # nothing was sent to Rasa
        assert [m["role"] for m in again["history"]].count("shopper") == 1
        assert "knt_gateway_duplicates_total 1.0" in client.get("/metrics").text
    store = TranscriptStore(online.database_url)
    conversation = store.open_session(session["session_id"])
    assert _tracker_user_texts(live, conversation.id) == ["do you ship abroad?"]


def test_only_offered_buttons_reach_rasa_as_commands(online, live):
    with gateway(online) as client, chat(client) as (ws, session):
        # A typed command would skip the NLU and could set slots: it goes in as text.
        say(ws, '/cancel_order{"order_number": "KNT-1001"}', payload=None)
        bot_turn(ws)
        say(ws, "Yes", payload='/inform{"email": "someone@example.com"}')  # never offered
        bot_turn(ws)
        say(ws, "Talk to a person", payload="/human_handoff")  # the widget's own button
        replies = bot_turn(ws)
    conversation = TranscriptStore(online.database_url).open_session(session["session_id"])
    texts = _tracker_user_texts(live, conversation.id)
    assert texts[0] == 'cancel_order{"order_number": "KNT-1001"}'
    assert texts[1] == "Yes"
    assert texts[2] == "/human_handoff"
    assert replies[-1]["custom"] == {"handoff": {"reason": "shopper_asked"}}
    assert conversation.handoff_reason == "shopper_asked"


def test_handoff_feedback_second_tab_and_start_over(online, live):
    with gateway(online) as client:
        with chat(client) as (tab1, session), chat(client, session["token"]) as (tab2, _):
            say(tab1, "Can I pay with Klarna?")
            replies = bot_turn(tab1)
            answer_id = replies[0]["id"]
            # The second tab sees the question and the answer.
            seen = [until(tab2, "message")[0]["message"] for _ in range(1 + len(replies))]
            assert [m["role"] for m in seen] == ["shopper"] + ["bot"] * len(replies)

            tab1.send_json({"type": "feedback", "message_id": answer_id, "value": "down"})
            saved = {"type": "feedback_saved", "message_id": answer_id, "value": "down"}
            assert until(tab1, "feedback_saved")[0] == saved
            tab1.send_json({"type": "feedback", "message_id": 999_999, "value": "up"})
            refused = until(tab1, "error")[0]
            assert refused["code"] == "not_found" and refused["message_id"] == 999_999

            say(tab1, "I want to talk to a person")
            frames = []
            while not any(f["type"] == "handoff" for f in frames):
                frames.append(tab1.receive_json())
            assert frames[-1] == {"type": "handoff", "reason": "shopper_asked"}
            # No agent is online: the shopper is told so at once, in the same turn.
            notice = until(tab1, "handoff_state")[0]["handoff"]
            assert notice["state"] == "waiting" and notice["unavailable"] is True
            until(tab1, "typing")

        with chat(client, session["token"]) as (ws, reloaded):
            assert reloaded["handoff"] == {
                "state": "waiting",
                "reason": "shopper_asked",
                "agent": None,
                "unavailable": True,
                "contact_email": None,
            }
            rated = [m for m in reloaded["history"] if m["id"] == answer_id]
            assert rated[0]["feedback"] == "down"
            old_conversation = TranscriptStore(online.database_url).open_session(
                session["session_id"]
            )
            ws.send_json({"type": "restart"})
            assert until(ws, "reset")[0] == {"type": "reset"}
        with chat(client, session["token"]) as (_, fresh):
            assert fresh["history"] == [] and fresh["handoff"] is None
        metrics = client.get("/metrics").text
        assert 'knt_gateway_handoffs_total{reason="shopper_asked"} 1.0' in metrics
    # Start over keeps the old transcript (nothing a shopper said is lost) and gives Rasa
    # a new conversation.
    store = TranscriptStore(online.database_url)
    assert len(store.history(old_conversation.id)) >= 4
    assert store.open_session(session["session_id"]).id != old_conversation.id


def test_an_unknown_question_counts_as_a_fallback(online, live):
    with gateway(online) as client, chat(client) as (ws, _):
        say(ws, "Do you sell gift cards for the planetarium?")
        replies = bot_turn(ws)
        assert "don't know" in replies[0]["text"]
        assert "knt_gateway_fallbacks_total 1.0" in client.get("/metrics").text


def test_health_and_the_widget_files_are_served(online, live):
    with gateway(online) as client:
        health = client.get("/healthz")
        assert health.status_code == 200
        assert health.json() == {
            "status": "ok",
            "database": "ok",
            "rasa": "ok",
            "action_server": "ok",
            "order_backend": "ok",
        }
        page = client.get("/")
        assert page.status_code == 200 and "widget.js" in page.text
        script = client.get("/widget.js")
        assert script.status_code == 200
        assert script.headers["content-type"].startswith("text/javascript")
        assert client.get("/widget.css").status_code == 200


def test_action_server_down_keeps_the_message_and_the_retry_loop_answers_it(online, live):
    """Rasa answers [] while the action server is down, as for a crashed action: the
    gateway asks the action server, keeps the message, and answers it once it is back,
    without the shopper sending anything again (connected or not)."""
    from bot import stack

    with gateway(online) as client:
        live.supervisor.stop_one("actions")
        try:
            with chat(client) as (ws, session):
                sent = say(ws, "Can I pay with Klarna?")
                frame, seen = until(ws, "error")
                assert frame["code"] == "assistant_unavailable" and frame["id"] == sent
                assert not [
                    f for f in seen if f["type"] == "message" and f["message"]["role"] == "bot"
                ]
                # A second shopper leaves while it is down.
                with chat(client) as (gone, gone_session):
                    say(gone, "How long does shipping take?")
                    until(gone, "error")
                assert client.get("/healthz").json()["action_server"] == "unreachable"
                live.supervisor.restart(stack.action_server(live.settings))
                replies = bot_turn(ws)  # pushed by the retry loop
                assert replies[0]["text"] == _faq_answer("payments_bnpl")
        finally:
            if live.supervisor.procs["actions"].poll() is not None:
                live.supervisor.restart(stack.action_server(live.settings))
        store = TranscriptStore(online.database_url)
        gone_history = store.history(store.open_session(gone_session["session_id"]).id)
        deadline = time.monotonic() + 30
        while gone_history[0].status == "pending" and time.monotonic() < deadline:
            time.sleep(0.2)
            gone_history = store.history(store.open_session(gone_session["session_id"]).id)
        assert [m.status for m in gone_history if m.role == "shopper"] == ["answered"]
        assert gone_history[1].text == _faq_answer("orders_ship_time")
        assert [m.role for m in gone_history] == ["shopper", "bot"]  # answered once
        with chat(client, session["token"]) as (_, again):
            assert [m["role"] for m in again["history"]] == ["shopper", "bot"]


def _rasa(live):  # type: ignore[no-untyped-def]
    from bot.gateway.rasa_client import RasaClient

    return RasaClient(live.settings.rasa_url, 30, live.settings.rasa_token.get_secret_value())


def test_a_turn_rasa_answers_with_nothing_is_tried_then_failed_and_the_chat_goes_on(online, live):
    """Rasa says nothing for this sender (paused behind the gateway's back: a turn that
    says nothing, like a crashed action): tried GATEWAY_REPLY_ATTEMPTS times, then the
    shopper is told and offered a person; the next message is answered."""
    import asyncio

    s = online.model_copy(update={"gateway_reply_attempts": 2})
    with gateway(s) as client, chat(client) as (ws, session):
        conversation = TranscriptStore(s.database_url).open_session(session["session_id"])
        say(ws, "hi")  # a first message starts Rasa's session, which would undo a pause
        bot_turn(ws)
        asyncio.run(_rasa(live).pause(conversation.id))
        sent = say(ws, "Can I pay with Klarna?")
        until(ws, "ack")
        replies = bot_turn(ws)
        assert len(replies) == 1 and replies[0]["custom"] == {"failed": True}, replies
        assert "couldn't answer" in replies[0]["text"]
        [button] = replies[0]["buttons"]
        assert button["title"] == "Talk to a person"
        asyncio.run(_rasa(live).resume(conversation.id))
        say(ws, "How long does shipping take?")
        assert bot_turn(ws)[0]["text"] == _faq_answer("orders_ship_time")
        say(ws, button["title"], payload=button["payload"])  # offered, so it reaches Rasa
        assert bot_turn(ws)[-1]["custom"]["handoff"]["reason"] == "assistant_error"
        metrics = client.get("/metrics").text
        assert "knt_gateway_failed_messages_total 1.0" in metrics
    history = TranscriptStore(s.database_url).history(conversation.id)
    failed = [m for m in history if m.client_id == sent]
    assert [m.status for m in failed] == ["failed"]
    # Tried twice (Rasa logs each try), never more.
    assert _tracker_user_texts(live, conversation.id)[:4] == [
        "hi",
        "Can I pay with Klarna?",
        "Can I pay with Klarna?",
        "How long does shipping take?",
    ]


@pytest.mark.parametrize(
    "typed",
    ["/\n/restart", " \t/restart", "\u200b/restart", "//restart", "/ /restart", "\n\n/stop"],
)
def test_typed_text_never_reaches_rasa_as_a_command(online, live, typed):
    """The issue's reproduction ("/", Shift+Enter, "/restart") and its relatives: an
    answer every time, and the next message too."""
    with gateway(online) as client, chat(client) as (ws, session):
        say(ws, typed)
        assert bot_turn(ws)  # answered (not a silent restart)
        say(ws, "How long does shipping take?")
        assert bot_turn(ws)[0]["text"] == _faq_answer("orders_ship_time")
        conversation = TranscriptStore(online.database_url).open_session(session["session_id"])
    texts = _tracker_user_texts(live, conversation.id)
    assert texts and not any(t.startswith("/") for t in texts), texts


def test_text_that_is_only_slashes_is_answered_without_rasa(online, live):
    with gateway(online) as client, chat(client) as (ws, session):
        say(ws, " / \n /")
        [reply] = bot_turn(ws)
        assert "didn't catch that" in reply["text"]
        conversation = TranscriptStore(online.database_url).open_session(session["session_id"])
    assert _tracker_user_texts(live, conversation.id) == []


def test_malformed_frames_are_bad_requests_and_the_socket_stays_open(offline):
    deep = "[" * 1000 + "]" * 1000
    with gateway(offline) as client, chat(client) as (ws, _):
        for raw in (
            "[" * 2000,  # unbalanced and deep
            deep,
            '{"type": "message", "id": "x", "text": ' + deep[:1900] + "}",
            '{"type": "feedback", "message_id": 123456789012345678901234567890, "value": "up"}',
            '{"type": "feedback", "message_id": true, "value": "up"}',
            '{"type": "feedback", "message_id": -1, "value": "up"}',
            '{"type": "history", "before": 99999999999999999999999}',
            '{"type": "history", "before": "1"}',
            '{"type": "typing", "on": "yes"}',
            '{"type": ["message"]}',
            '{"type": null}',
            '{"type": "message", "id": "ok-2", "text": "hi", "payload": {"a": 1}}',
            '"just a string"',
        ):
            ws.send_text(raw)
            reply = ws.receive_json()
            assert reply["type"] == "error" and reply["code"] == "bad_request", raw[:60]
        ws.send_bytes(b"\xff\xfe not utf-8")
        assert ws.receive_json()["code"] == "bad_request"
        ws.send_json({"type": "ping"})
        assert ws.receive_json() == {"type": "pong"}
        sent = say(ws, "still here?")
        assert until(ws, "ack")[0]["id"] == sent


@pytest.mark.parametrize(
    "token",
    [
        "v1.abc.123.sïgnature",
        "v1.abc.²³.sig",
        "v1.\u202eabc.1.sig",
        {"a": 1},
        ["v1"],
        12345678901234567890123,
        "x" * 1500,  # longer than any token (a hello over the frame cap is refused)
    ],
)
def test_every_invalid_token_is_a_renewed_session(offline, token):
    with (
        gateway(offline) as client,
        client.websocket_connect("/ws", headers={"origin": ORIGIN}) as ws,
    ):
        ws.send_json({"type": "hello", "token": token})
        session = ws.receive_json()
        assert session["type"] == "session" and session["renewed"] is True
        assert session["token"] != token and session["notice"]
        ws.send_json({"type": "ping"})
        assert ws.receive_json() == {"type": "pong"}


def test_connections_per_ip_are_capped(settings, tmp_path):
    s = gateway_settings(settings, tmp_path, gateway_max_connections_per_ip=3)
    with gateway(s) as client, chat(client) as _a, chat(client) as _b:
        with chat(client) as _c, client.websocket_connect("/ws", headers={"origin": ORIGIN}) as ws:
            frame = ws.receive_json()
            assert frame["code"] == "too_many_connections" and frame["message"]
            with pytest.raises(WebSocketDisconnect) as closed:
                ws.receive_json()
            assert closed.value.code == 4429
        with chat(client) as (ws, _):  # one closed: a new one is served
            ws.send_json({"type": "ping"})
            assert ws.receive_json() == {"type": "pong"}
        metrics = client.get("/metrics").text
        assert 'knt_gateway_rejected_total{reason="connections"} 1.0' in metrics


@pytest.mark.parametrize(
    "frame",
    [
        {"type": "restart"},
        {"type": "ping"},
        {"type": "history", "before": 1},
        {"type": "feedback", "message_id": 1, "value": "up"},
    ],
)
def test_every_frame_type_is_rate_limited(offline, frame):
    with gateway(offline) as client, chat(client) as (ws, _):
        for _ in range(60):
            ws.send_json(frame)
        answers = [ws.receive_json() for _ in range(60)]
        limited = [a for a in answers if a.get("code") == "rate_limited"]
        assert limited and all(a["retry_after"] > 0 for a in limited)
        assert len(limited) < 60  # the first ones were served


def test_start_over_drops_what_still_waited_for_rasa(offline, live):
    """Kept while Rasa was down, then the shopper started over: the old message is kept in
    the transcript (dropped) and never sent to Rasa nor answered into the new chat."""
    with gateway(offline) as client, chat(client) as (ws, session):
        say(ws, "How long does shipping take?")
        until(ws, "error")
        ws.send_json({"type": "restart"})
        until(ws, "reset")
        old = TranscriptStore(offline.database_url)
    back = offline.model_copy(update={"rasa_url": live.settings.rasa_url})
    with gateway(back) as client, chat(client, session["token"]) as (ws, again):
        assert again["history"] == []
        time.sleep(2.5)  # two rounds of the retry loop
        ws.send_json({"type": "ping"})
        assert ws.receive_json() == {"type": "pong"}  # nothing came before it
    statuses = [
        (m.role, m.status)
        for conversation_id in {m.conversation_id for m in _all_messages(old)}
        for m in old.history(conversation_id)
    ]
    assert statuses == [("shopper", "dropped")]


def _all_messages(store: TranscriptStore) -> list[Any]:
    from sqlalchemy import select

    from bot.gateway.transcripts import chat_messages

    with store._engine.connect() as conn:
        return list(conn.execute(select(chat_messages)).all())


@pytest.mark.parametrize("text", ["lone \ud83d surrogate", "nul \u0000 inside"])
def test_text_no_database_stores_as_typed_is_stored_cleaned(settings, tmp_path, text):
    from .orders_helpers import postgres_database

    with postgres_database() as url:
        s = gateway_settings(settings, tmp_path, database_url=url)
        with gateway(s) as client, chat(client) as (ws, session):
            ws.send_text(json.dumps({"type": "message", "id": "odd-1", "text": text}))
            assert until(ws, "ack")[0]["id"] == "odd-1"
        store = TranscriptStore(url)
        [stored] = store.history(store.open_session(session["session_id"]).id)
        assert "\x00" not in stored.text and stored.text.isprintable()


def test_the_actions_get_the_shoppers_address_only_when_it_is_known(online, live):
    """The order backend counts guesses per client: a shopper answered by the retry loop
    after leaving (address unknown by then) must not share a bucket with every other."""
    import asyncio

    with gateway(online) as client, chat(client) as (ws, session):
        say(ws, "hi")
        bot_turn(ws)
        conversation = TranscriptStore(online.database_url).open_session(session["session_id"])
    tracker = asyncio.run(_rasa(live).tracker(conversation.id, events="ALL"))
    [user] = [e for e in tracker["events"] if e["event"] == "user"]
    assert user["metadata"]["client_ip"] == "testclient"
    assert len(user["metadata"]["session"]) == 32
    assert session["session_id"] not in json.dumps(tracker)


def test_hello_sends_the_last_messages_and_older_ones_on_request(settings, tmp_path):
    s = gateway_settings(settings, tmp_path, gateway_history_messages=3)
    with gateway(s) as client:
        with chat(client) as (ws, session):
            for n in range(5):
                say(ws, f"message {n}")
                until(ws, "error")  # Rasa is down: kept
        with chat(client, session["token"]) as (ws, again):
            assert [m["text"] for m in again["history"]] == [f"message {n}" for n in (2, 3, 4)]
            assert again["more_history"] is True
            until(ws, "error")  # still down
            ws.send_json({"type": "history", "before": again["history"][0]["id"]})
            older = until(ws, "history")[0]
            assert [m["text"] for m in older["messages"]] == ["message 0", "message 1"]
            assert older["more_history"] is False


@pytest.mark.parametrize(
    "text",
    ["hi", "bye", "thanks", "yes", "no", "ok", "KNT-1001", "ava@example.com", "size 7", "?", "👍"],
)
def test_every_first_message_gets_a_reply_from_rasa(live, text):
    # The gateway takes an empty reply as "an action failed" and keeps the message for a
    # retry, so no message of a healthy assistant may go unanswered.
    from .live import new_sender

    assert live.say(new_sender(), text), text


def test_transcripts_on_postgresql_survive_a_gateway_restart(settings, tmp_path):
    from .orders_helpers import postgres_database

    with postgres_database() as url:
        s = gateway_settings(settings, tmp_path, database_url=url)
        with gateway(s) as client, chat(client) as (ws, session):
            sent = say(ws, "Is shipping insured?")
            assert until(ws, "ack")[0]["id"] == sent
        with gateway(s) as client, chat(client, session["token"]) as (_, again):
            assert [m["text"] for m in again["history"]] == ["Is shipping insured?"]
