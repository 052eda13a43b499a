"""rasa_runtime.launch: Rasa's action-result validation, built once, decides as before; the
SQL tracker store, made cheaper, stores the same rows and gives back the same trackers; the
API secret comes from the environment only."""

from __future__ import annotations

import json
import subprocess

import pytest

from bot.rasa_model import RASA_BIN, rasa_env
from bot.settings import PROJECT_ROOT

CHECK = """
import json, sys
from jsonschema import ValidationError
from rasa.core.actions.action import RemoteAction

cases = json.loads(sys.argv[1])

def verdicts():
    action = RemoteAction("action_answer_faq", None)
    out = []
    for case in cases:
        try:
            out.append(["ok", action._validate_action_result(case)])
        except ValidationError as exc:
            out.append(["error", exc.message])
    return out

before = verdicts()
from rasa_runtime.launch import patch_action_result_validation
patch_action_result_validation()
print(json.dumps({"before": before, "after": verdicts()}))
"""

CASES = [
    {"events": [{"event": "slot", "name": "faq_misses", "value": 1.0}], "responses": []},
    {"events": [], "responses": [{"text": "hi", "buttons": [{"title": "a", "payload": "/b"}]}]},
    {"events": [], "responses": [{"custom": {"handoff": {"reason": "shopper_asked"}}}]},
    {"events": "not a list", "responses": []},
    {"events": [{"no_event_key": 1}], "responses": []},
    {"events": [], "responses": "nope"},
]


def test_the_patched_validation_gives_the_same_verdicts_and_errors():
    out = subprocess.run(
        [str(RASA_BIN.parent / "python"), "-c", CHECK, json.dumps(CASES)],
        cwd=PROJECT_ROOT,
        env=rasa_env(),
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["after"] == result["before"]
    assert [v[0] for v in result["after"]] == ["ok", "ok", "ok", "error", "error", "error"]
    assert "Failed to validate Action server response" in result["after"][3][1]


def test_the_launcher_takes_the_api_secret_from_the_environment_only():
    from rasa_runtime.launch import with_api_secret

    environ = {"RASA_TOKEN": "s3cret", "OTHER": "x"}
    args = with_api_secret(["run", "--enable-api"], environ)
    assert args == ["run", "--enable-api", "--jwt-secret", "s3cret", "--jwt-method", "HS256"]
    assert environ == {"OTHER": "x"}  # nothing Rasa starts inherits it
    assert with_api_secret(["train"], {}) == ["train"]


@pytest.mark.parametrize(
    "args, environ, says",
    [
        (["run"], {}, "RASA_TOKEN is not set"),
        (["run"], {"RASA_TOKEN": ""}, "RASA_TOKEN is not set"),
        (["run", "--auth-token", "t"], {"RASA_TOKEN": "t"}, "secret on the command line"),
        (["run", "--jwt-secret=t"], {"RASA_TOKEN": "t"}, "secret on the command line"),
    ],
)
def test_the_launcher_refuses_a_missing_secret_or_one_on_the_command_line(args, environ, says):
    from rasa_runtime.launch import with_api_secret

    with pytest.raises(SystemExit) as stop:
        with_api_secret(args, environ)
    assert says in str(stop.value)


STORE_CHECK = """
import asyncio, json, sys, tempfile
from pathlib import Path
from rasa.core import tracker_store
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted, ActiveLoop, BotUttered, SessionStarted, SlotSet, UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker

domain = Domain.load("domain.yml")
work = Path(tempfile.mkdtemp())

def turn(i):
    text = f"message {i} \\u00e9\\u202e \\U0001f48d"
    parse = {"intent": {"name": "faq", "confidence": 0.9}, "entities": [], "text": text}
    return [
        UserUttered(text, parse["intent"], parse_data=parse),
        ActionExecuted("action_answer_faq"),
        BotUttered(f"answer {i}", {"buttons": [{"title": "Yes", "payload": "yes"}]}),
        SlotSet("faq_misses", float(i)),
        ActiveLoop("cancel_form" if i % 2 else None),
        ActionExecuted("action_listen"),
    ]

TURNS = [turn(0), turn(1), [SessionStarted(), ActionExecuted("action_listen")], turn(2), turn(3)]

async def conversation(store):
    seen = []
    for events in TURNS:
        tracker = await store.retrieve("shopper") or DialogueStateTracker("shopper", domain.slots)
        for event in events:
            tracker.update(event)
        await store.save(tracker)
        again = await store.retrieve("shopper")
        seen.append([e.as_dict() for e in again.events])
    full = await store.retrieve_full_tracker("shopper")
    seen.append([e.as_dict() for e in full.events])
    with store.engine.connect() as c:
        rows = [list(r) for r in c.exec_driver_sql(
            "SELECT sender_id, type_name, timestamp, intent_name, action_name, data "
            "FROM events ORDER BY id")]
        mode = c.exec_driver_sql("PRAGMA journal_mode").scalar()
    return {"trackers": seen, "rows": rows, "journal": mode}

before = asyncio.run(conversation(tracker_store.SQLTrackerStore(domain, host=f"sqlite:///{work}/a.db")))
from rasa_runtime.launch import speed_up_sql_tracker_store
speed_up_sql_tracker_store()
after = asyncio.run(conversation(tracker_store.SQLTrackerStore(domain, host=f"sqlite:///{work}/b.db")))
print(json.dumps({"before": before, "after": after}))
"""


def test_the_faster_sql_tracker_store_stores_and_returns_the_same():
    out = subprocess.run(
        [str(RASA_BIN.parent / "python"), "-c", STORE_CHECK],
        cwd=PROJECT_ROOT,
        env=rasa_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    before, after = result["before"], result["after"]
    assert after["rows"] == before["rows"]
    assert after["trackers"] == before["trackers"]
    assert len(before["rows"]) == 26
    # The session start in the middle: the latest session only, then all of them.
    assert len(before["trackers"][-2]) < len(before["trackers"][-1]) == 26
    assert (before["journal"], after["journal"]) == ("delete", "wal")
