"""Rasa's conversations outlive Rasa: the SQL tracker store (SQLite by default, see
tests/test_supervisor_signals.py; PostgreSQL here) and the Redis lock store, as
endpoints.yml gets them from bot/stack.py."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from bot import stack
from bot.rasa_model import RASA_BIN
from bot.settings import PROJECT_ROOT, Settings
from rasa_runtime import launch

from .live import rasa_say

PG = "postgresql+psycopg://postgres@127.0.0.1:5432"


def test_the_tracker_store_is_sqlite_under_data_unless_a_url_is_set():
    default = launch.tracker_store_url("")
    assert default == f"sqlite:///{PROJECT_ROOT / '.data' / 'rasa.db'}"
    # Rasa's SQLAlchemy 1.4 speaks PostgreSQL through psycopg2, which its runtime has.
    for url in (f"{PG}/x", "postgres://postgres@127.0.0.1:5432/x"):
        assert launch.tracker_store_url(url) == "postgresql+psycopg2://postgres@127.0.0.1:5432/x"


def test_the_lock_store_is_in_memory_unless_a_redis_url_is_set():
    assert launch.lock_store_env("")["RASA_LOCK_STORE_TYPE"] == "in_memory"
    env = launch.lock_store_env("redis://u:p%40ss@cache.internal:6380/2?key_prefix=knt2")
    assert env == {
        "RASA_LOCK_STORE_TYPE": "redis",
        "RASA_LOCK_STORE_HOST": "cache.internal",
        "RASA_LOCK_STORE_PORT": "6380",
        "RASA_LOCK_STORE_DB": "2",
        "RASA_LOCK_STORE_USERNAME": "u",
        "RASA_LOCK_STORE_PASSWORD": "p@ss",
        "RASA_LOCK_STORE_KEY_PREFIX": "knt2",
    }
    assert launch.lock_store_env("redis://127.0.0.1")["RASA_LOCK_STORE_KEY_PREFIX"] == "knt"
    with pytest.raises(SystemExit, match="redis://host:6379/0"):
        launch.lock_store_env("http://127.0.0.1:6379")
    with pytest.raises(SystemExit, match="letters and digits"):
        launch.lock_store_env("redis://127.0.0.1/0?key_prefix=a:b")


def test_endpoints_yml_gets_every_variable_it_names_from_settings_and_the_launcher():
    """What Rasa reads from endpoints.yml, with the environment `bot run` gives it."""
    settings = Settings(_env_file=None, environment="local")  # type: ignore[call-arg]
    env = {**stack.rasa_server(settings, Path("model.tar.gz")).env}
    env["RASA_LOCK_STORE_URL"] = "redis://127.0.0.1:6379/3?key_prefix=abc"
    script = (
        "import json, os; from rasa_runtime.launch import store_env; store_env(os.environ); "
        "from rasa.core.utils import AvailableEndpoints as E; "
        "e = E.read_endpoints('endpoints.yml'); t, l = e.tracker_store, e.lock_store; "
        "print(json.dumps([e.action.url, e.action.headers, t.type, t.url, l.type, l.url, "
        "l.kwargs]))"
    )
    out = subprocess.run(
        [str(RASA_BIN.parent / "python"), "-c", script],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    action_url, headers, tracker, tracker_url, lock, lock_host, lock_kwargs = json.loads(
        out.stdout.strip().splitlines()[-1]
    )
    token = settings.action_server_token.get_secret_value()
    assert (action_url, headers) == (
        settings.action_server_url,
        {"Authorization": f"Bearer {token}"},
    )
    assert (tracker, tracker_url) == ("SQL", launch.tracker_store_url(""))
    assert (lock, lock_host) == ("redis", "127.0.0.1")
    assert lock_kwargs == {
        "port": "6379",
        "db": "3",
        "username": "",
        "password": "",
        "key_prefix": "abc",
    }


@pytest.fixture
def pg_database() -> Iterator[str]:
    name = f"knt_rasa_{uuid.uuid4().hex[:12]}"
    with psycopg.connect("host=127.0.0.1 user=postgres dbname=postgres", autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        with psycopg.connect("host=127.0.0.1 user=postgres dbname=postgres", autocommit=True) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def redis_cli(*args: str) -> str:
    out = subprocess.run(
        ["redis-cli", "-h", "127.0.0.1", "-p", "6379", *args],
        capture_output=True,
        text=True,
        check=True,
        timeout=10,
    )
    return out.stdout.strip()


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    prefix = f"test{uuid.uuid4().hex[:12]}"
    try:
        yield prefix
    finally:
        for key in redis_cli("--scan", "--pattern", f"{prefix}:*").split():
            redis_cli("DEL", key)


def say(settings: Settings, sender: str, text: str) -> list[dict[str, Any]]:
    return rasa_say(settings, sender, text, timeout=90)


@pytest.mark.slow
def test_a_rasa_restart_mid_form_continues_it_on_postgresql_with_redis_locks(
    tmp_path, pg_database, redis_prefix
):
    settings = stack.on_free_ports(Settings(), tmp_path).model_copy(
        update={
            "rasa_tracker_store_url": f"{PG}/{pg_database}",
            "rasa_lock_store_url": f"redis://127.0.0.1:6379/0?key_prefix={redis_prefix}",
        }
    )
    sender = f"test-{uuid.uuid4().hex[:10]}"
    with stack.throwaway(settings, tmp_path) as sup:
        assert "order number" in say(settings, sender, "/cancel_order")[0]["text"]
        with psycopg.connect(f"host=127.0.0.1 user=postgres dbname={pg_database}") as c:
            row = c.execute("SELECT count(*) FROM events WHERE sender_id = %s", (sender,))
            stored = row.fetchone()
        assert stored is not None and stored[0] > 0

        # As a Rasa killed mid-turn leaves it: this conversation's ticket, valid a minute.
        stale = json.dumps({"number": 0, "expires": time.time() + 60})
        redis_cli(
            "SET",
            f"{redis_prefix}:lock:{sender}",
            json.dumps({"conversation_id": sender, "tickets": [stale]}),
        )
        killed = sup.procs["rasa"].pid
        os.kill(killed, signal.SIGKILL)
        deadline = time.monotonic() + 240
        while sup.procs["rasa"].pid == killed or sup.states()["rasa"] != "running":
            assert time.monotonic() < deadline, "Rasa was not restarted"
            time.sleep(0.5)
        assert (
            json.loads((tmp_path / "supervisor.json").read_text())["processes"]["rasa"]["restarts"]
            == 1
        )
        # The restarted Rasa (the only one) dropped the dead one's lock: no minute's wait.
        started = time.monotonic()
        assert "e-mail" in say(settings, sender, "KNT-1001")[0]["text"]
        assert time.monotonic() - started < 10
        assert "cleared 1 stale conversation lock" in (tmp_path / "logs" / "rasa.log").read_text()

        # The lock store is Redis, under our prefix: a conversation someone else holds
        # (a ticket there, valid for 3 more seconds) waits until that ticket expires.
        held = f"test-{uuid.uuid4().hex[:10]}"
        ticket = json.dumps({"number": 0, "expires": time.time() + 3})
        redis_cli(
            "SET",
            f"{redis_prefix}:lock:{held}",
            json.dumps({"conversation_id": held, "tickets": [ticket]}),
        )
        started = time.monotonic()
        say(settings, held, "hi")
        assert time.monotonic() - started >= 2.0


def clear_stale_locks(prefix: str, **env: str) -> str:
    """rasa_runtime.launch.clear_stale_locks in Rasa's runtime (it has the redis client)."""
    script = (
        "import os; from rasa_runtime.launch import clear_stale_locks, store_env; "
        "store_env(os.environ); print(clear_stale_locks(os.environ))"
    )
    out = subprocess.run(
        [str(RASA_BIN.parent / "python"), "-c", script],
        cwd=PROJECT_ROOT,
        env={
            "PATH": os.environ["PATH"],
            "RASA_LOCK_STORE_URL": f"redis://127.0.0.1:6379/0?key_prefix={prefix}",
            **env,
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout


def test_the_only_rasa_drops_its_lock_stores_locks_at_start_and_no_other_keys(redis_prefix):
    other = f"{redis_prefix}x"
    keys = [f"{redis_prefix}:lock:a", f"{redis_prefix}:lock:b", f"{redis_prefix}:other"]
    try:
        for key in [*keys, f"{other}:lock:a"]:
            redis_cli("SET", key, "{}")
        # Without the flag (several Rasa processes may share the store) nothing goes.
        assert clear_stale_locks(redis_prefix).split() == ["0"]
        assert redis_cli("EXISTS", *keys) == "3"
        out = clear_stale_locks(redis_prefix, RASA_ONLY_INSTANCE="1")
        assert "cleared 2 stale conversation lock(s)" in out
        assert redis_cli("EXISTS", *keys) == "1"  # only the lock keys of this prefix
        assert redis_cli("EXISTS", f"{redis_prefix}:other", f"{other}:lock:a") == "2"
    finally:
        redis_cli("DEL", f"{other}:lock:a")


def test_bot_run_tells_its_rasa_it_is_the_only_one_and_how_long_a_ticket_lasts():
    settings = Settings(_env_file=None, environment="local")  # type: ignore[call-arg]
    env = stack.rasa_server(settings, Path("model.tar.gz")).env
    assert env["RASA_ONLY_INSTANCE"] == "1"
    assert int(env["TICKET_LOCK_LIFETIME"]) > settings.gateway_rasa_timeout_seconds
