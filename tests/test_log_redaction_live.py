"""Personal data never reaches the log files of the real processes: the action server (in
its Sanic worker) and the gateway, started the way `make run` starts them."""

from __future__ import annotations

import contextlib
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from bot import stack
from bot.settings import Settings
from bot.supervisor import Supervisor, free_port

pytestmark = pytest.mark.slow

PII = "Ava Thompson, ava.thompson@example.com, +1 (555) 201-3344, order KNT-1001"


def _tracker(text: str) -> dict[str, object]:
    return {
        "sender_id": "redaction-test",
        "slots": {"faq_misses": 0.0},
        "latest_message": {
            "text": text,
            "intent": {"name": "out_of_scope", "confidence": 0.9},
            "entities": [],
        },
        "events": [],
        "paused": False,
        "followup_action": None,
        "active_loop": {},
        "latest_action_name": "action_listen",
    }


def _assert_redacted(log: str, names: bool = True) -> None:
    secrets = ("ava.thompson@example.com", "201-3344", "KNT-1001")
    for secret in (*secrets, "Ava", "Thompson") if names else secrets:
        assert secret not in log, secret


def test_the_action_servers_log_is_redacted(settings: Settings, tmp_path: Path) -> None:
    # A database path that is a folder: recording the unanswered question fails, and the
    # action logs that failure with the shopper's question in it.
    (tmp_path / "not-a-database").mkdir()
    s = settings.model_copy(
        update={
            "action_server_port": free_port(),
            "database_url": f"sqlite:///{tmp_path / 'not-a-database'}",
        }
    )
    with Supervisor(Path.cwd(), log_dir=tmp_path / "logs", echo=False) as sup:
        sup.start([stack.action_server(s)], on_status=lambda _: None)
        r = httpx.post(
            f"http://127.0.0.1:{s.action_server_port}/webhook",
            json={
                "next_action": "action_answer_faq",
                "sender_id": "redaction-test",
                "tracker": _tracker(f"I'm {PII}; do you sell planetarium tickets?"),
                "domain": {},
                "version": "3.6.21",
            },
            # Only Rasa may call the action server: it sends this header (endpoints.yml).
            headers={"Authorization": f"Bearer {s.action_server_token.get_secret_value()}"},
            timeout=60,
        )
        assert r.status_code == 200, r.text
        assert "don't know" in r.json()["responses"][0]["text"]
    log = (tmp_path / "logs" / "actions.log").read_text(encoding="utf-8", errors="replace")
    assert "could not record unanswered question" in log
    assert "Logging error" not in log
    assert "[email]" in log and "[order]" in log and "[name]" in log
    _assert_redacted(log)


def test_the_gateways_log_is_redacted(settings: Settings, tmp_path: Path) -> None:
    port = free_port()
    s = settings.model_copy(
        update={
            "gateway_port": port,
            "gateway_allowed_origins": [f"http://127.0.0.1:{port}"],
            "database_url": f"sqlite:///{tmp_path / 'app.db'}",
            "rasa_url": f"http://127.0.0.1:{free_port()}",
        }
    )
    with Supervisor(Path.cwd(), log_dir=tmp_path / "logs", echo=False) as sup:
        sup.start([stack.gateway(s)], on_status=lambda _: None)
        # Some requests: uvicorn's access log must still be written (its formatter reads
        # the record's arguments).
        for path in ("/healthz", "/staff/login", "/widget.js"):
            assert httpx.get(f"http://127.0.0.1:{port}{path}", timeout=10).status_code == 200
        # The refused origin is logged as sent: here it carries a name and an address.
        with (
            contextlib.suppress(InvalidStatus),
            connect(
                f"ws://127.0.0.1:{port}/ws",
                origin=f"http://{PII}",  # type: ignore[arg-type]
            ),
        ):
            pass
    log = (tmp_path / "logs" / "gateway.log").read_text(encoding="utf-8", errors="replace")
    assert "refused a widget connection" in log
    assert '"GET /staff/login HTTP/1.1" 200' in log
    assert "Logging error" not in log and "Traceback" not in log
    # Names are found by spaCy's NER in sentences; inside a URL it does not see them, so
    # here only the patterns are checked (the action server's test checks names).
    _assert_redacted(log, names=False)
    assert "[name]" not in log  # and the server's own words are left alone ("403 Forbidden")
