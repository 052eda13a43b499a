"""The Rasa assistant for real: its training data, its conversation tests, and a live
conversation through the REST channel with the real Rasa server and action server."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import httpx
import pytest

from bot.faq.corpus import load_corpus
from bot.nlu_sync import MARKER, is_in_sync
from bot.rasa_auth import rasa_auth_headers, rasa_jwt
from bot.rasa_model import RASA_BIN, model_path, rasa_env
from bot.settings import PROJECT_ROOT, Settings

from .live import new_sender, texts

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def model(settings: Settings) -> Path:
    path = model_path(settings.rasa_model_dir)
    if not path.is_file():
        pytest.fail(f"no trained Rasa model {path.name}: run `make train` (make test does)")
    return path


def rasa(*args: str, timeout: int = 900) -> subprocess.CompletedProcess[str]:
    env = {**rasa_env(), "ACTION_SERVER_URL": "http://127.0.0.1:9/webhook"}
    return subprocess.run(
        [str(RASA_BIN), *args],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_nlu_data_is_in_sync_with_the_faq_corpus(settings):
    nlu = PROJECT_ROOT / "data" / "nlu.yml"
    assert MARKER in nlu.read_text(encoding="utf-8")
    assert is_in_sync(nlu, load_corpus(settings.faq_corpus_dir)), "run `bot nlu sync`"


# Rasa 3.6's validator does not see responses used by forms (utter_ask_<slot>), by the
# default fallback (utter_default) or by custom actions (RasaHQ/rasa#4417); every other
# warning fails the test.
KNOWN_FALSE_WARNINGS = re.compile(
    r"The utterance '(utter_ask_\w+|utter_default|utter_how_can_i_help)' is not used"
)


def test_rasa_data_validate_is_clean():
    out = rasa("data", "validate")
    log = out.stdout + out.stderr
    assert out.returncode == 0, log[-4000:]
    warnings = [line for line in log.splitlines() if "UserWarning:" in line]
    unexpected = [w for w in warnings if not KNOWN_FALSE_WARNINGS.search(w)]
    assert unexpected == [], unexpected
    assert "No story structure conflicts found" in log


def test_conversation_stories_pass(model, tmp_path):
    out = rasa(
        "test",
        "core",
        "--model",
        str(model),
        "--stories",
        "tests/test_stories.yml",
        "--fail-on-prediction-errors",
        "--out",
        str(tmp_path / "results"),
    )
    report = tmp_path / "results" / "failed_test_stories.yml"
    failed = report.read_text() if report.exists() else ""
    assert out.returncode == 0, failed[-4000:] + out.stdout[-2000:] + out.stderr[-2000:]


def test_multi_turn_conversation_over_rest(live):
    sender = new_sender()
    hello = live.say(sender, "hi!")
    assert "KNT's assistant" in hello[0]["text"]

    answer = live.say(sender, "can I still cancel my order if it's being made?")
    assert answer[0]["text"].startswith("Yes. As long as your product is still in the production")
    assert answer[0]["buttons"] == [{"title": "Cancel my order", "payload": "/cancel_order"}]

    # The button's payload starts the request: first, whose order is it?
    pressed = live.say(sender, "/cancel_order")
    assert "order number" in texts(pressed)
    handoff = live.say(sender, "actually, let me talk to a person")
    assert handoff[-1]["custom"] == {"handoff": {"reason": "shopper_asked"}}

    unknown = live.say(sender, "do you sell gift cards?")
    assert "don't know" in unknown[0]["text"]
    again = live.say(sender, "can you engrave initials inside the band?")
    assert "take over" in again[0]["text"]

    bot = live.say(sender, "are you a bot?")
    assert bot[0]["text"].startswith("I'm a bot")


def test_rasa_api_needs_a_jwt_signed_with_the_token_and_never_takes_it_in_the_url(live):
    url = live.settings.rasa_url
    token = live.settings.rasa_token.get_secret_value()
    assert httpx.get(f"{url}/status", timeout=10).status_code == 401
    # The token as a URL parameter (it would end up in access logs) opens nothing.
    assert httpx.get(f"{url}/status", params={"token": token}, timeout=10).status_code == 401
    forged = {"Authorization": f"Bearer {rasa_jwt('not-' + token)}"}
    assert httpx.get(f"{url}/status", headers=forged, timeout=10).status_code == 401
    headers = rasa_auth_headers(live.settings)
    assert httpx.get(f"{url}/status", headers=headers, timeout=10).status_code == 200
    # Every endpoint the gateway uses takes it: pause/resume and the tracker.
    sender = new_sender()
    events = f"{url}/conversations/{sender}/tracker/events"
    r = httpx.post(events, json=[{"event": "pause"}], headers=headers, timeout=10)
    assert r.status_code == 200
    r = httpx.get(f"{url}/conversations/{sender}/tracker", headers=headers, timeout=10)
    assert r.status_code == 200
    assert r.json()["paused"] is True
    r = httpx.post(events, json=[{"event": "resume"}], headers=headers, timeout=10)
    assert r.status_code == 200
    r = httpx.get(f"{url}/conversations/{sender}/tracker", params={"token": token}, timeout=10)
    assert r.status_code == 401
