"""rasa_runtime/speedups (issue 11): a turn's cost does not grow with the conversation,
and Rasa decides exactly as before.

- On a real long conversation (forms, verification, hand-off, fallback, FAQ), taken from
  the live stack: at every point where Rasa chose an action, the patched Rasa gives the
  same dialogue states, applied events and prediction as unpatched Rasa, whether the
  tracker is rebuilt, grown event by event (the memo's incremental path) or copied;
- the SQL store's kept trackers equal a full read after another store (another Rasa
  process) wrote to the same database, after a new session, after a turn that changed
  its copy but was never saved; a kept read deserialises only the new rows;
- the event-class table resolves every name as Rasa does.
Each in Rasa's own Python (.venv-rasa), as the launcher runs it.
"""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.rasa_auth import rasa_auth_headers
from bot.rasa_model import RASA_BIN, model_path, rasa_env
from bot.settings import PROJECT_ROOT

PG_ADMIN = "host=127.0.0.1 user=postgres dbname=postgres"

# What the test conversation says: every kind of turn the assistant has, twice over.
CONVERSATION = [
    "hi",
    "how long does shipping take?",
    "/cancel_order",
    "KNT-1001",
    "ava@example.com",
    "no",
    "can I pay in installments?",
    "asdkjh qwe zzz",
    "where is my order?",
    "KNT-1002",
    "ben@example.com",
    "what is your return policy?",
    "/cancel_order",
    "never mind, do you resize rings?",
    "actually, let me talk to a person",
    "are you a bot?",
    "thanks",
]


def in_rasa(script: str, *args: str, timeout: int = 600) -> Any:
    """Run `script` in Rasa's Python; its last output line is JSON."""
    out = subprocess.run(
        [str(RASA_BIN.parent / "python"), "-c", script, *args],
        cwd=PROJECT_ROOT,
        env=rasa_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


SAME_DECISIONS = """
import json, sys
from rasa.core.agent import Agent
from rasa.shared.core.events import ActionExecuted, deserialise_events
from rasa.shared.core.trackers import DialogueStateTracker, EventVerbosity

model, path = sys.argv[1], sys.argv[2]
dicts = json.load(open(path))
agent = Agent.load(model)
domain = agent.domain
rule_only = {
    "slots": [s.name for s in domain.slots][:3], "active_loops": list(domain.form_names)[:1]
}
cuts = [i for i, e in enumerate(dicts) if e["event"] == "action"]

def views(tracker):
    # What Rasa's policies and actions see: states (as each policy asks), applied
    # events, the tracker sent to the action server, and the prediction.
    prediction = agent.processor._predict_next_with_tracker(tracker.copy())
    # A copy of a tracker changed outside its events, as the processor does.
    changed = tracker.copy()
    changed.clear_followup_action()
    changed.model_id = "m"
    again = changed.copy()
    slots = {k: [s.value, s.has_been_set] for k, s in again.slots.items()}
    return json.dumps([
        tracker.past_states(domain),
        tracker.past_states(domain, ignore_rule_only_turns=True, rule_only_data=rule_only),
        [e.as_dict() for e in tracker.applied_events()],
        tracker.current_state(EventVerbosity.ALL),
        tracker.copy().current_state(EventVerbosity.AFTER_RESTART),
        [again.current_state(EventVerbosity.ALL), again.model_id, again.sender_id, slots],
        [prediction.max_confidence_index, prediction.policy_name, prediction.hide_rule_turn,
         [{**e.as_dict(), "timestamp": None} for e in prediction.events]],  # made just now
    ], sort_keys=True, default=str)

def rebuilt():
    return [views(DialogueStateTracker.from_dict("s", dicts[:cut], domain.slots)) for cut in cuts]

before = rebuilt()
from rasa_runtime.launch import flatten_turn_cost
from rasa_runtime.speedups.tracker_copy import copy_tracker
flatten_turn_cost()
after = rebuilt()
# One tracker grown event by event, asked at every cut (the memo's incremental path),
# and a cheap copy of it at each cut, asked twice (the memo shared with the original).
grown, copied = [], []
tracker = DialogueStateTracker("s", domain.slots)
events = deserialise_events(dicts)
for i, event in enumerate(events):
    if i in cuts:
        grown.append(views(tracker))
        other = copy_tracker(tracker)
        views(other)
        copied.append(views(other))
    tracker.update(event)
# How much of the history a states call on a long tracker replays once it was asked
# before (Rasa: all of it, every call).
asked = [0]
get_active_state = type(domain).get_active_state
def counting(self, *args, **kwargs):
    asked[0] += 1
    return get_active_state(self, *args, **kwargs)
type(domain).get_active_state = counting
tracker.past_states(domain)
asked[0] = 0
states = tracker.past_states(domain)
print(json.dumps({
    "states": len(states),
    "replayed": asked[0],
    "cuts": len(cuts),
    "after": sum(a == b for a, b in zip(before, after)),
    "grown": sum(a == b for a, b in zip(before, grown)),
    "copied": sum(a == b for a, b in zip(before, copied)),
    "first_difference": next((i for i, (a, b) in enumerate(zip(before, grown)) if a != b), None),
}))
"""


@pytest.fixture(scope="module")
def conversation_events(live, tmp_path_factory) -> Path:  # type: ignore[no-untyped-def]
    """The events of a long real conversation with the live stack (its patched Rasa)."""
    sender = f"turn-cost-{uuid.uuid4().hex[:8]}"
    for text in CONVERSATION * 2:
        live.say(sender, text)
    r = httpx.get(
        f"{live.settings.rasa_url}/conversations/{sender}/tracker",
        headers=rasa_auth_headers(live.settings),
        timeout=30,
    )
    r.raise_for_status()
    events = r.json()["events"]
    names = {e.get("name") for e in events}
    # The conversation went where it should, or the comparisons would prove little.
    assert {"order_status_form", "action_answer_faq", "action_listen"} <= names, names
    assert len(events) > 200
    path: Path = tmp_path_factory.mktemp("turn-cost") / "events.json"
    path.write_text(json.dumps(events))
    return path


def test_long_conversation_same_states_and_predictions_as_unpatched_rasa(live, conversation_events):
    model = model_path(live.settings.rasa_model_dir)
    result = in_rasa(SAME_DECISIONS, str(model), str(conversation_events), timeout=900)

    cuts = result["cuts"]
    assert cuts > 60
    assert result["first_difference"] is None
    assert (result["after"], result["grown"], result["copied"]) == (cuts, cuts, cuts)
    # Flat: asked again, only the latest turn is replayed, not the whole history.
    assert result["states"] > 40
    assert result["replayed"] <= 5, result


EVENT_TYPES = """
import json
from rasa.shared.core.events import Event
from rasa.shared.utils.common import all_subclasses

names = sorted({cls.type_name for cls in all_subclasses(Event)}) + ["topic", "no_such_event"]

def resolve():
    out = []
    for name in names:
        try:
            found = Event.resolve_by_type(name)
            out.append(found.__name__ if found else None)
        except ValueError as exc:
            out.append(str(exc))
    out.append(Event.resolve_by_type("no_such_event", Event).__name__)
    return out

before = resolve()
from rasa_runtime.speedups.event_types import cache_event_types
cache_event_types()
calls = [0]
original = all_subclasses
import rasa.shared.utils.common as common
def counting(cls):
    calls[0] += 1
    return original(cls)
common.all_subclasses = counting
after = resolve()
calls[0] = 0
for name in ("user", "slot", "action", "bot"):
    Event.resolve_by_type(name)
print(json.dumps({"before": before, "after": after, "names": len(names), "walks": calls[0]}))
"""


def test_event_classes_resolve_as_in_rasa_without_walking_every_subclass():
    result = in_rasa(EVENT_TYPES)
    assert result["after"] == result["before"]
    assert result["names"] > 20
    assert "Unknown event name 'no_such_event'" in result["after"][-2]
    # Known names come from the table: no walk over Event's subclasses (Rasa: one each).
    assert result["walks"] == 0


SQL_STORE = """
import asyncio, json, sys
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core import events as ev
from rasa.shared.core.domain import Domain
from rasa.shared.core.trackers import DialogueStateTracker, EventVerbosity
from rasa_runtime.launch import flatten_turn_cost, speed_up_sql_tracker_store

speed_up_sql_tracker_store()
flatten_turn_cost()
where, path = json.loads(sys.argv[1]), sys.argv[2]
dicts = json.load(open(path))
domain = Domain.load("domain.yml")
full_read = SQLTrackerStore._retrieve.knt_original

deserialised = [0]
from_parameters = ev.Event.from_parameters
def counting(parameters, default=None):
    deserialised[0] += 1
    return from_parameters(parameters, default)
ev.Event.from_parameters = staticmethod(counting)

def view(tracker):
    return json.dumps([
        tracker.current_state(EventVerbosity.ALL),
        tracker.past_states(domain),
        [e.as_dict() for e in tracker.applied_events()],
        tracker.followup_action,
        {name: [slot.value, slot.has_been_set] for name, slot in tracker.slots.items()},
    ], sort_keys=True, default=str)

def turns(events):
    # Cut after each action_listen: a turn's events, as a Rasa would save them.
    out, current = [], []
    for e in events:
        current.append(e)
        if isinstance(e, ev.ActionExecuted) and e.action_name == "action_listen":
            out.append(current)
            current = []
    return out + ([current] if current else [])

async def main():
    a, b = SQLTrackerStore(domain, **where), SQLTrackerStore(domain, **where)
    sender = "kept-" + str(id(a))
    chunks = turns(ev.deserialise_events(dicts))
    checks = {}

    async def same(name, store):
        deserialised[0] = 0
        got = await store.retrieve(sender)
        n = deserialised[0]
        ref = await full_read(store, sender, False)
        checks[name] = view(got) == view(ref)
        return got, n

    early = [e for c in chunks[:6] for e in c]
    first = DialogueStateTracker.from_events(sender, early, domain.slots)
    await a.save(first)
    await same("first read", a)
    # Two Rasa processes take turns in one conversation: each reads what the other wrote.
    # (A kept read deserialises only the rows saved since that store last read.)
    reads = []
    saved = sum(len(c) for c in chunks[:6])
    seen = {id(a): saved, id(b): 0}
    for i, chunk in enumerate(chunks[6:-4]):
        writer, reader = (b, a) if i % 2 == 0 else (a, b)
        tracker = await writer.retrieve(sender)
        seen[id(writer)] = saved
        for e in chunk:
            tracker.update(e)
        await writer.save(tracker)
        saved += len(chunk)
        _, n = await same(f"turn {i}", reader)
        reads.append([n, saved - seen[id(reader)]])
        seen[id(reader)] = saved
    # A turn that changed its copy (slots, the latest message) and was never saved.
    lost = await a.retrieve(sender)
    lost.update(ev.EntitiesAdded([{"entity": "order_number", "value": "KNT-9999"}]))
    lost.update(ev.SlotSet("order_number", "KNT-9999"))
    lost.update(ev.UserUttered("lost", {"name": "greet", "confidence": 1.0}))
    got, _ = await same("after an unsaved turn", a)
    checks["unsaved changes not kept"] = view(got) != view(lost)
    # A new session, written by the other process.
    tracker = await b.retrieve(sender)
    for e in [ev.ActionExecuted("action_session_start"), ev.SessionStarted(),
              ev.ActionExecuted("action_listen"), *[e for c in chunks[-4:] for e in c]]:
        tracker.update(e)
    await b.save(tracker)
    got, _ = await same("new session", a)
    checks["new session only"] = got.events[0].type_name == "session_started"
    # History changed behind the kept tracker (a row removed): read again in full.
    with a.session_scope() as session:
        row = session.query(a.SQLEvent).filter(a.SQLEvent.sender_id == sender).order_by(
            a.SQLEvent.id.desc()).offset(3).first()
        session.delete(row)
        session.commit()
    await same("row removed behind", a)
    print(json.dumps({"checks": checks, "reads": reads}))

asyncio.run(main())
"""


def postgres_database() -> str:
    import psycopg

    name = f"knt_test_turns_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return name


def drop_database(name: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_kept_trackers_stay_equal_to_a_full_read_with_two_rasa_processes(
    dialect, conversation_events, tmp_path
):
    database = ""
    if dialect == "sqlite":
        where = {"dialect": "sqlite", "db": str(tmp_path / "rasa.db")}
    else:
        database = postgres_database()
        where = {"dialect": "postgresql", "host": "127.0.0.1", "port": 5432,
                 "db": database, "username": "postgres"}  # fmt: skip
    try:
        result = in_rasa(SQL_STORE, json.dumps(where), str(conversation_events))
    finally:
        if database:
            drop_database(database)
    assert all(result["checks"].values()), result["checks"]
    assert len(result["checks"]) > 10
    # A kept read deserialises the other process's new rows only, not the conversation.
    assert result["reads"] and all(n == new for n, new in result["reads"]), result["reads"]


LAZY_STATES = """
import json, logging
from rasa.core.policies.policy import Policy
from rasa.core.policies.rule_policy import RulePolicy
from rasa_runtime.launch import flatten_turn_cost
states = [{"user": {"intent": "greet"}, "prev_action": {"action_name": "action_listen"}}] * 3
shipped = Policy.format_tracker_states(states)
flatten_turn_cost()
logger = logging.getLogger("rasa.core.policies.rule_policy")
logger.setLevel(logging.INFO)
quiet = RulePolicy.format_tracker_states(states)
logger.setLevel(logging.DEBUG)
print(json.dumps([shipped, quiet, RulePolicy.format_tracker_states(states)]))
"""


def test_rule_states_are_formatted_only_for_a_debug_log_that_is_written() -> None:
    shipped, quiet, debug = in_rasa(LAZY_STATES)
    assert "user intent: greet" in shipped
    assert quiet == ""
    assert debug == shipped
