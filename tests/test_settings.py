"""Settings: development secrets refused outside local, and children see the same values."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from bot import stack
from bot.settings import Settings

REAL = {
    "rasa_token": "r" * 32,
    "orders_api_token": "o" * 32,
    "orders_staff_token": "s" * 32,
    "gateway_secret": "g" * 32,
}


@pytest.mark.parametrize("name", sorted(REAL))
def test_each_development_secret_is_refused_outside_local(name):
    values = {**REAL, name: Settings.model_fields[name].default.get_secret_value()}
    with pytest.raises(ValidationError) as refused:
        Settings(_env_file=None, environment="production", **values)  # type: ignore[call-arg]
    assert name.upper() in str(refused.value) and "openssl rand" in str(refused.value)


def test_real_secrets_are_accepted_outside_local():
    s = Settings(_env_file=None, environment="production", **REAL)  # type: ignore[call-arg]
    assert s.gateway_secret.get_secret_value() == "g" * 32


def test_a_child_process_sees_exactly_these_settings(monkeypatch, tmp_path):
    changed = stack.on_free_ports(Settings(_env_file=None), tmp_path).model_copy(  # type: ignore[call-arg]
        update={"gateway_session_burst": 3, "faq_min_score": 0.5}
    )
    for key, value in stack.settings_env(changed).items():
        monkeypatch.setenv(key, value)
    assert Settings(_env_file=None) == changed  # type: ignore[call-arg]
