"""The action server serves only Rasa: the real server process (bot.action_server) refuses
every caller without Rasa's bearer token, and says so in its log without the token."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.settings import PROJECT_ROOT
from bot.supervisor import free_port

from .live import stop_group

TOKEN = secrets.token_hex(32)


@dataclass
class ActionServer:
    url: str
    port: int
    log: Path

    def log_text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


@pytest.fixture(scope="module")
def action_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ActionServer]:
    port = free_port()
    log = tmp_path_factory.mktemp("actions") / "actions.log"
    env = {
        **os.environ,
        "ENVIRONMENT": "local",
        "ACTION_SERVER_TOKEN": TOKEN,
        "ACTION_SERVER_HOST": "127.0.0.1",
        "ACTION_SERVER_PORT": str(port),
        "HF_HUB_OFFLINE": "1",
    }
    # No SANIC_HOST: the server must pick the setting (loopback), not rasa-sdk's 0.0.0.0.
    env.pop("SANIC_HOST", None)
    argv = [sys.executable, "-m", "bot.action_server", "--actions", "actions"]
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [*argv, "--port", str(port)],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = ActionServer(f"http://127.0.0.1:{port}", port, log)
    try:
        _wait_healthy(server, proc)
        yield server
    finally:
        stop_group(proc)


def _wait_healthy(server: ActionServer, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"the action server exited ({proc.returncode}):\n{server.log_text()}")
        try:
            if httpx.get(f"{server.url}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    pytest.fail(f"the action server was not healthy after 120 s:\n{server.log_text()}")


def handoff_call() -> dict[str, Any]:
    """What Rasa 3.6 posts to run `action_handoff` after "I want a person"."""
    sender = f"auth-{secrets.token_hex(4)}"
    return {
        "next_action": "action_handoff",
        "sender_id": sender,
        "version": "3.6.21",
        "domain": {"slots": {}, "responses": {}, "forms": {}, "intents": [], "entities": []},
        "tracker": {
            "sender_id": sender,
            "slots": {},
            "latest_message": {
                "text": "I want a person",
                "intent": {"name": "human_handoff", "confidence": 1.0},
                "entities": [],
            },
            "latest_event_time": time.time(),
            "followup_action": None,
            "paused": False,
            "events": [],
            "latest_input_channel": "rest",
            "active_loop": {},
            "latest_action": {"action_name": "action_listen"},
            "latest_action_name": "action_listen",
        },
    }


def webhook(server: ActionServer, headers: dict[str, str]) -> httpx.Response:
    return httpx.post(f"{server.url}/webhook", json=handoff_call(), headers=headers, timeout=30)


def test_rasas_header_is_served(action_server: ActionServer) -> None:
    r = webhook(action_server, {"Authorization": f"Bearer {TOKEN}"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["responses"], body  # the hand-off notice
    assert {"event": "active_loop", "name": None} in [
        {k: e.get(k) for k in ("event", "name")} for e in body["events"]
    ]


WRONG = {
    "no header": {},
    "empty": {"Authorization": ""},
    "token without Bearer": {"Authorization": TOKEN},
    "Bearer and nothing": {"Authorization": "Bearer"},
    "another token": {"Authorization": f"Bearer {secrets.token_hex(32)}"},
    "one character short": {"Authorization": f"Bearer {TOKEN[:-1]}"},
    "one character more": {"Authorization": f"Bearer {TOKEN}0"},
    "other scheme": {"Authorization": f"Basic {TOKEN}"},
    "as a query parameter": {},
    "not ASCII": {"Authorization": "Bearer " + "é" * 64},
}


@pytest.mark.parametrize("case", sorted(WRONG))
def test_any_other_caller_is_refused(action_server: ActionServer, case: str) -> None:
    headers = {k.encode(): v.encode("utf-8") for k, v in WRONG[case].items()}  # raw UTF-8 too
    params = {"token": TOKEN} if case == "as a query parameter" else None
    r = httpx.post(
        f"{action_server.url}/webhook",
        json=handoff_call(),
        headers=headers,
        params=params,
        timeout=30,
    )
    assert r.status_code == 401, r.text
    assert "Only the Rasa server may call the action server" in r.json()["error"]
    assert r.headers["www-authenticate"] == "Bearer"


def test_the_action_list_is_refused_too_and_health_stays_open(action_server: ActionServer) -> None:
    assert httpx.get(f"{action_server.url}/actions", timeout=10).status_code == 401
    listed = httpx.get(
        f"{action_server.url}/actions", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10
    )
    assert listed.status_code == 200 and {"name": "action_handoff"} in listed.json()
    assert httpx.get(f"{action_server.url}/health", timeout=10).json() == {"status": "ok"}


def test_a_refusal_is_logged_without_any_token(action_server: ActionServer) -> None:
    guess = secrets.token_hex(32)
    r = webhook(action_server, {"Authorization": f"Bearer {guess}"})
    assert r.status_code == 401
    deadline = time.monotonic() + 5
    while "refused a call to /webhook" not in action_server.log_text():
        assert time.monotonic() < deadline, action_server.log_text()
        time.sleep(0.1)
    log = action_server.log_text()
    assert "Authorization header (only Rasa may call)" in log
    assert TOKEN not in log and guess not in log


def test_it_listens_on_the_configured_interface_only(action_server: ActionServer) -> None:
    """rasa-sdk alone would listen on every interface (0.0.0.0)."""
    listening = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, port = local.rsplit(":", 1)
            if state == "0A" and int(port, 16) == action_server.port:
                listening.add(address)
    assert listening == {"0100007F"}  # 127.0.0.1, little-endian hex


def test_outside_local_it_refuses_to_start_on_development_secrets(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "ENVIRONMENT"}
    done = subprocess.run(
        [sys.executable, "-m", "bot.action_server", "--actions", "actions", "--port", "1"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0
    assert "The action server cannot start" in done.stderr
    assert "ACTION_SERVER_TOKEN is still the local development value" in done.stderr
