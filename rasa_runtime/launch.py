"""`python -m rasa_runtime.launch run ...`: Rasa's own command line, with speed fixes
(the action server's replies; the SQL tracker store, see speed_up_sql_tracker_store; a
turn's cost that does not grow with the conversation, see flatten_turn_cost), the
API's secret taken from the environment, the tracker and lock stores of endpoints.yml
from two URLs (RASA_TRACKER_STORE_URL, RASA_LOCK_STORE_URL; see store_env), and less
memory (keep_jax_out, trim_heap_after_loading, and TensorFlow left out of `rasa run`:
rasa_runtime/serving/tensorflow_standin.py; RASA_MEMORY_FIXES=0 turns all three off, as
bench/memory.py's baseline does).

The secret: `rasa run --jwt-secret S` would put S in /proc/PID/cmdline, which every local
user can read (`ps`). The launcher reads it from RASA_TOKEN instead and hands it to Rasa's
argument parser inside this process (a change to sys.argv here does not show in
/proc/PID/cmdline). Rasa then requires a JWT signed with it (Authorization header) on every
API endpoint; `--auth-token`, the token as a URL parameter, is refused.

Rasa 3.6 checks every reply of the action server with `jsonschema.validate`, which first
validates the (constant) schema itself against the draft 2020-12 meta-schema, on every
call. Profiled under load (py-spy, 4 concurrent shoppers) that was half of Rasa's CPU
time and capped the whole assistant at ~15 messages per second on two cores. Here the
validator is built once; replies are checked against the same schema with the same
error (jsonschema's best match, Rasa's message), exactly as before.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import MutableMapping
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def patch_action_result_validation() -> None:
    from jsonschema import validators
    from jsonschema.exceptions import best_match
    from rasa.core.actions import action as rasa_action

    remote_action = rasa_action.RemoteAction
    original = remote_action._validate_action_result

    @lru_cache(maxsize=1)
    def validator() -> Any:
        schema = remote_action.action_response_format_spec()  # a constant
        cls = validators.validator_for(schema)
        cls.check_schema(schema)
        return cls(schema)

    def validate_action_result(self: Any, result: dict[str, Any]) -> bool:
        if best_match(validator().iter_errors(result)) is None:
            return True
        # Invalid: let Rasa raise its own error (same best match, its message).
        return bool(original(self, result))

    remote_action._validate_action_result = validate_action_result


def speed_up_sql_tracker_store() -> None:
    """Rasa's SQL tracker store, same rows and same trackers, at a few ms a message.

    Measured on a 79-event conversation (8 turns) on SQLite: loading it took 4.1 ms, of
    which 3.3 ms were the ORM building one object per row only to read its `data`; saving
    a turn took 11.6 ms: a new connection for every session (SQLAlchemy 1.4 uses no pool
    for SQLite files), one ORM object per event and a commit that waits for several
    fsyncs. Here (1) the events' `data` column is read alone, through the same query;
    (2) new events are inserted in one executemany statement with the same values;
    (3) SQLite connections are pooled, the file is in WAL mode with synchronous=NORMAL:
    a commit survives a crash of Rasa (kill -9, what the supervisor recovers from); only
    a power cut can lose the last ones, and never corrupts the file. PostgreSQL keeps its
    own durability settings; it gains (1) and (2)."""
    import sqlite3

    import sqlalchemy as sa
    from rasa.core import tracker_store
    from rasa.shared.core.trackers import DialogueStateTracker
    from rasa.shared.nlu.constants import INTENT_NAME_KEY

    store = tracker_store.SQLTrackerStore
    original_engine_kwargs = tracker_store.create_engine_kwargs

    def create_engine_kwargs(url: Any) -> dict[str, Any]:
        kwargs: dict[str, Any] = original_engine_kwargs(url)
        if str(url).startswith("sqlite"):
            # A pooled connection is used by one thread at a time, not always the same.
            kwargs.update(poolclass=sa.pool.QueuePool, connect_args={"check_same_thread": False})
        return kwargs

    def on_connect(dbapi_connection: Any, _: Any) -> None:
        if isinstance(dbapi_connection, sqlite3.Connection):
            dbapi_connection.execute("PRAGMA journal_mode=WAL")
            dbapi_connection.execute("PRAGMA synchronous=NORMAL")

    async def _retrieve(
        self: Any, sender_id: str, fetch_events_from_all_sessions: bool
    ) -> DialogueStateTracker | None:
        with self.session_scope() as session:
            query = self._event_query(session, sender_id, fetch_events_from_all_sessions)
            events = [json.loads(data) for (data,) in query.with_entities(store.SQLEvent.data)]
        if self.domain and events:
            return DialogueStateTracker.from_dict(sender_id, events, self.domain.slots)
        return None

    async def save(self: Any, tracker: DialogueStateTracker) -> None:
        await self.stream_events(tracker)
        with self.session_scope() as session:
            rows = []
            for event in self._additional_events(session, tracker):
                data = event.as_dict()
                rows.append(
                    {
                        "sender_id": tracker.sender_id,
                        "type_name": event.type_name,
                        "timestamp": data.get("timestamp"),
                        "intent_name": data.get("parse_data", {})
                        .get("intent", {})
                        .get(INTENT_NAME_KEY),
                        "action_name": data.get("name"),
                        "data": json.dumps(data),
                    }
                )
            if rows:
                session.execute(sa.insert(store.SQLEvent.__table__), rows)
            session.commit()

    tracker_store.create_engine_kwargs = create_engine_kwargs
    sa.event.listen(sa.engine.Engine, "connect", on_connect)
    store._retrieve = _retrieve
    store.save = save


def flatten_turn_cost() -> None:
    """A message late in a long conversation costs what an early one does (issue 11: turn
    40 cost 1.7 times turn 1, bench/turn_cost.py). Rasa's work per turn grew with the
    history: finding event classes and replaying every stored event on each read,
    turning the whole history into dialogue states for every prediction, walking all
    events for `applied_events()`, matching rules against every state, replaying all
    events to copy the tracker before each action, encoding the whole tracker for the
    action server with `json.dumps`, and sending it every event. Each fix is in
    rasa_runtime/speedups/ with its measured reason; Rasa's answers stay exactly the same
    (tests/test_rasa_runtime_turn_cost.py)."""
    from rasa_runtime.speedups.action_payload import (
        encode_action_payloads_with_ujson,
        send_recent_events,
    )
    from rasa_runtime.speedups.dialogue_states import (
        memoize_applied_events,
        memoize_dialogue_states,
    )
    from rasa_runtime.speedups.event_types import cache_event_types
    from rasa_runtime.speedups.rule_matching import stop_rule_matching_at_the_longest_rule
    from rasa_runtime.speedups.tracker_cache import cache_sql_trackers
    from rasa_runtime.speedups.tracker_copy import cheap_tracker_copy

    cache_event_types()
    memoize_applied_events()
    memoize_dialogue_states()
    stop_rule_matching_at_the_longest_rule()
    cheap_tracker_copy()
    cache_sql_trackers()  # after speed_up_sql_tracker_store: it wraps that _retrieve
    encode_action_payloads_with_ujson()
    send_recent_events()


def store_env(environ: MutableMapping[str, str]) -> None:
    """Set the variables endpoints.yml reads for the tracker and lock stores from the two
    settings RASA_TRACKER_STORE_URL and RASA_LOCK_STORE_URL, so that whoever starts Rasa
    sets those two only. Exits with a message when one cannot be used."""
    environ["RASA_TRACKER_STORE_URL"] = tracker_store_url(environ.get("RASA_TRACKER_STORE_URL", ""))
    environ.update(lock_store_env(environ.get("RASA_LOCK_STORE_URL", "")))


def tracker_store_url(url: str) -> str:
    """The SQL tracker store's URL: `url`, else a SQLite file under the project's .data/.
    Rasa's SQLAlchemy 1.4 has no psycopg 3 dialect, so a URL written for the app's
    (`postgresql+psycopg://`) is given to Rasa with psycopg2, which its runtime has."""
    if not url:
        url = f"sqlite:///{PROJECT_ROOT / '.data' / 'rasa.db'}"
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    for prefix in ("postgresql+psycopg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg2://" + url.removeprefix(prefix)
    return url


def lock_store_env(url: str) -> dict[str, str]:
    """The lock store: in memory when `url` is empty (one Rasa process only), else Redis
    from `redis://[[user]:password@]host[:port][/db][?key_prefix=alnum]` (Rasa's
    RedisLockStore takes host, port and db apart, not a URL)."""
    if not url:
        return {
            "RASA_LOCK_STORE_TYPE": "in_memory",
            "RASA_LOCK_STORE_HOST": "",
            "RASA_LOCK_STORE_PORT": "0",
            "RASA_LOCK_STORE_DB": "0",
            "RASA_LOCK_STORE_USERNAME": "",
            "RASA_LOCK_STORE_PASSWORD": "",
            "RASA_LOCK_STORE_KEY_PREFIX": "",
        }
    parsed = urlsplit(url)
    if parsed.scheme != "redis" or not parsed.hostname:
        raise SystemExit(
            "rasa_runtime.launch: RASA_LOCK_STORE_URL must look like redis://host:6379/0 "
            f"(it starts with {parsed.scheme or 'no scheme'}://)"
        )
    prefix = parse_qs(parsed.query).get("key_prefix", ["knt"])[0]
    if not prefix.isalnum():
        raise SystemExit(
            "rasa_runtime.launch: the key_prefix of RASA_LOCK_STORE_URL must be letters and "
            "digits only"
        )
    return {
        "RASA_LOCK_STORE_TYPE": "redis",
        "RASA_LOCK_STORE_HOST": parsed.hostname,
        "RASA_LOCK_STORE_PORT": str(parsed.port or 6379),
        "RASA_LOCK_STORE_DB": parsed.path.strip("/") or "0",
        "RASA_LOCK_STORE_USERNAME": unquote(parsed.username or ""),
        "RASA_LOCK_STORE_PASSWORD": unquote(parsed.password or ""),
        "RASA_LOCK_STORE_KEY_PREFIX": prefix,
    }


def clear_stale_locks(environ: MutableMapping[str, str]) -> int:
    """Delete every conversation lock in the Redis lock store (`<prefix>:lock:*`) before
    Rasa starts, and say how many; only when RASA_ONLY_INSTANCE=1. Returns the count.

    Why: a Rasa killed mid-turn leaves that conversation's ticket in Redis until it
    expires (TICKET_LOCK_LIFETIME, 60 s by default), so the restarted Rasa made the
    shopper's next message wait about a minute (measured in the kill matrix: answered 61 s
    after the kill). Only safe when this is the one Rasa using these locks: any lock there
    then belongs to a dead process. With several Rasa processes sharing the lock store a
    lock may be a live turn of another one, so without the flag nothing is deleted and a
    stale ticket simply expires."""
    if environ.get("RASA_ONLY_INSTANCE") != "1" or environ.get("RASA_LOCK_STORE_TYPE") != "redis":
        return 0
    import redis  # Rasa's runtime has it (its RedisLockStore uses it)

    pattern = f"{environ['RASA_LOCK_STORE_KEY_PREFIX']}:lock:*"
    try:
        client = redis.StrictRedis(
            host=environ["RASA_LOCK_STORE_HOST"],
            port=int(environ["RASA_LOCK_STORE_PORT"]),
            db=int(environ["RASA_LOCK_STORE_DB"]),
            username=environ.get("RASA_LOCK_STORE_USERNAME") or None,
            password=environ.get("RASA_LOCK_STORE_PASSWORD") or None,
            socket_timeout=5,
        )
        keys = list(client.scan_iter(match=pattern, count=1000))
        if keys:
            client.delete(*keys)
    except redis.RedisError as exc:
        # Not fatal: the stale locks then only expire; Rasa itself reports an unusable store.
        print(f"rasa_runtime.launch: could not clear stale locks {pattern}: {exc}", flush=True)
        return 0
    print(f"rasa_runtime.launch: cleared {len(keys)} stale conversation lock(s)", flush=True)
    return len(keys)


def keep_jax_out() -> None:
    """Keep jax from being imported. TensorFlow 2.12 imports it when it is installed (its
    package requires it) for one TFLite converter (`tensorflow/lite/python/util.py`, which
    takes an ImportError as "no jax"); neither Rasa nor our pipeline uses it. Measured
    with bench/memory.py: jax and jaxlib were about 100 MB of Rasa's memory. (`rasa run`
    leaves TensorFlow itself out too: rasa_runtime/serving/tensorflow_standin.py; this
    still matters where TensorFlow loads, e.g. training.)"""
    sys.modules.setdefault("jax", None)  # type: ignore[arg-type]  # "import jax" fails


def trim_heap_after_loading() -> None:
    """Hand the memory freed while the model loaded back to the system once it is loaded:
    glibc keeps freed heap pages for reuse, and loading frees far more than a turn then
    needs (measured with bench/memory.py: about 35 MB of Rasa's resident memory)."""
    import ctypes

    from rasa.core import run

    try:
        malloc_trim = ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):  # not glibc: nothing to trim this way
        return
    load = run.load_agent_on_start

    async def load_agent_on_start(*args: Any, **kwargs: Any) -> Any:
        agent = await load(*args, **kwargs)
        malloc_trim(0)
        return agent

    run.load_agent_on_start = load_agent_on_start


def with_api_secret(args: list[str], environ: MutableMapping[str, str]) -> list[str]:
    """`rasa run` arguments with the API's JWT secret from RASA_TOKEN (removed from the
    environment, so nothing Rasa starts inherits it). Exits with a message when the secret
    is missing (Rasa would then serve its API to anyone) or given on the command line."""
    if args[:1] != ["run"]:
        return args
    if any(a == "--auth-token" or a.startswith(("--auth-token=", "--jwt-secret")) for a in args):
        raise SystemExit(
            "rasa_runtime.launch: do not pass Rasa's secret on the command line (every local "
            "user can read it there); set RASA_TOKEN in the environment instead"
        )
    secret = environ.pop("RASA_TOKEN", "")
    if not secret:
        raise SystemExit(
            "rasa_runtime.launch: RASA_TOKEN is not set, and without it Rasa's HTTP API "
            "would be open to anyone; set it (`bot run` does, from settings)"
        )
    return [*args, "--jwt-secret", secret, "--jwt-method", "HS256"]


def main() -> None:
    memory_fixes = os.environ.get("RASA_MEMORY_FIXES") != "0"
    if memory_fixes:
        keep_jax_out()
    args = with_api_secret(sys.argv[1:], os.environ)
    if memory_fixes and args[:1] == ["run"]:
        from rasa_runtime.serving import tensorflow_standin

        tensorflow_standin.install()  # before anything imports Rasa
    if args[:1] == ["run"]:
        store_env(os.environ)
        clear_stale_locks(os.environ)
    patch_action_result_validation()
    speed_up_sql_tracker_store()
    if args[:1] == ["run"]:
        flatten_turn_cost()
        if memory_fixes:
            trim_heap_after_loading()
            tensorflow_standin.refuse_tensorflow_models()
    from rasa.__main__ import main as rasa_main

    sys.argv = ["rasa", *args]
    rasa_main()


if __name__ == "__main__":
    main()
