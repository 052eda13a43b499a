"""Settings: production unless told otherwise, real secrets outside local (set, long, each
its own), and children see the same values."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from bot import stack
from bot.settings import PROJECT_ROOT, SECRETS, Settings

REAL = {
    "rasa_token": "r" * 32,
    "orders_api_token": "o" * 32,
    "orders_staff_token": "s" * 32,
    "gateway_secret": "g" * 32,
    "action_server_token": "a" * 32,
}


def production(**values: str) -> Settings:
    return Settings(_env_file=None, environment="production", **{**REAL, **values})  # type: ignore[arg-type]


def refusal(**values: str) -> str:
    with pytest.raises(ValidationError) as refused:
        production(**values)
    return str(refused.value)


def test_every_secret_is_covered() -> None:
    fields = Settings.model_fields.items()
    secret_fields = {name for name, f in fields if f.annotation is SecretStr}
    assert secret_fields == set(REAL) == set(SECRETS)


def test_unset_environment_means_production_and_the_development_secrets_are_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("ENVIRONMENT")
    with pytest.raises(ValidationError) as refused:
        Settings(_env_file=None)  # type: ignore[call-arg]
    message = str(refused.value)
    assert "unset means production" in message and "ENVIRONMENT=local" in message
    for env_name in SECRETS.values():
        assert f"{env_name} is still the local development value" in message
    assert Settings(_env_file=None, **REAL).environment == "production"  # type: ignore[arg-type]


def test_local_is_only_what_it_says(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVIRONMENT", "local")
    assert Settings(_env_file=None).environment == "local"  # type: ignore[call-arg]
    for almost in ("Local", "local ", "dev", ""):
        monkeypatch.setenv("ENVIRONMENT", almost)
        with pytest.raises(ValidationError):
            Settings(_env_file=None)  # type: ignore[call-arg]


@pytest.mark.parametrize("name", sorted(REAL))
def test_each_development_secret_is_refused_outside_local(name: str) -> None:
    message = refusal(**{name: Settings.model_fields[name].default.get_secret_value()})
    assert f"{SECRETS[name]} is still the local development value" in message
    assert "openssl rand -hex 32" in message
    assert sum(env_name in message for env_name in SECRETS.values()) == 1


@pytest.mark.parametrize("name", sorted(REAL))
def test_each_secret_shorter_than_32_bytes_is_refused_outside_local(name: str) -> None:
    message = refusal(**{name: "x" * 31})
    assert f"{SECRETS[name]} is 31 bytes long; it needs at least 32" in message
    assert "openssl rand -hex 32" in message


def test_length_is_counted_in_bytes() -> None:
    assert production(gateway_secret="é" * 16).gateway_secret.get_secret_value() == "é" * 16
    assert "GATEWAY_SECRET is 30 bytes long" in refusal(gateway_secret="é" * 15)
    assert "RASA_TOKEN is 0 bytes long" in refusal(rasa_token="")


def test_two_equal_secrets_are_refused_outside_local() -> None:
    message = refusal(action_server_token="o" * 32)
    assert "ACTION_SERVER_TOKEN is the same as ORDERS_API_TOKEN; give each its own" in message
    message = refusal(gateway_secret="r" * 32, orders_staff_token="r" * 32)
    assert "ORDERS_STAFF_TOKEN is the same as RASA_TOKEN" in message
    assert "GATEWAY_SECRET is the same as RASA_TOKEN" in message


def test_every_problem_is_named_at_once_and_no_secret_is_quoted() -> None:
    leaked = "short-but-secret"
    message = refusal(rasa_token=leaked, orders_api_token=leaked, gateway_secret="x" * 40)
    assert "RASA_TOKEN is 16 bytes long" in message
    assert "ORDERS_API_TOKEN is 16 bytes long" in message
    assert "ORDERS_API_TOKEN is the same as RASA_TOKEN" in message
    assert leaked not in message and "x" * 40 not in message


def test_real_secrets_are_accepted_outside_local() -> None:
    s = production()
    assert s.gateway_secret.get_secret_value() == "g" * 32
    assert s.environment == "production"


def test_local_accepts_the_development_secrets() -> None:
    s = Settings(_env_file=None, environment="local")  # type: ignore[call-arg]
    assert s.rasa_token.get_secret_value() == "local-dev-token"


@pytest.mark.parametrize("module", ["bot.gateway", "bot.orders"])
def test_a_server_started_without_environment_refuses_to_start_and_says_why(
    module: str, tmp_path: Path
) -> None:
    """What a deployment that forgot ENVIRONMENT gets: no server on the published
    development secrets, a message that says what to do."""
    env = {k: v for k, v in os.environ.items() if k != "ENVIRONMENT"}
    argv = [sys.executable, "-m", module] + (["serve"] if module == "bot.orders" else [])
    # In an empty folder, so no .env is read.
    done = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert "unset means production" in done.stderr
    assert "openssl rand -hex 32" in done.stderr


def test_a_child_process_sees_exactly_these_settings(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    changed = stack.on_free_ports(Settings(_env_file=None), tmp_path).model_copy(  # type: ignore[call-arg]
        update={"gateway_session_burst": 3, "faq_min_score": 0.5}
    )
    for key, value in stack.settings_env(changed).items():
        monkeypatch.setenv(key, value)
    assert Settings(_env_file=None) == changed  # type: ignore[call-arg]


def test_env_example_lists_every_setting() -> None:
    listed = set(re.findall(r"^# ([A-Z0-9_]+)=", (PROJECT_ROOT / ".env.example").read_text(), re.M))
    assert listed == {name.upper() for name in Settings.model_fields}
