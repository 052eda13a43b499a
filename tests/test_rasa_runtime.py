"""rasa_runtime.launch: Rasa's action-result validation, built once, decides as before."""

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
