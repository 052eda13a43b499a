"""Whether a message late in a long conversation costs more than an early one.

Starts the order backend (demo orders) and the action server once, and beside them two
Rasa servers with the same model that differ only in the tracker store: the SQL store on
a SQLite file (our default) and Rasa's in-memory store. N conversations of 40 turns each
(FAQ questions and small talk that stay answerable, no order writes) go to both, through
Rasa's REST channel. The conversations are staggered (conversation c starts at step
c * STAGGER) and only the messages sent while conversations at every turn bucket are in
flight are counted (steps 35-79 of 115 with the 16 default conversations), so that a
change of load on the machine falls on the first and the last turns alike (with fewer,
early turns were measured mostly in the first half of the run and late ones in the
second); the two servers take each message in rotating order.

Prints, for each store, the p50 REST round trip per bucket of five turns, and the ratio
turns 36-40 / turns 1-5 next to the target (<= 1.10). Both servers run our launcher, with
its patches (rasa_runtime/speedups, issue 11); where growth is left:
- SQL vs in-memory: the SQL store keeps each conversation's tracker and reads only new
  rows (tracker_cache.py); Rasa's in-memory store, which we do not run, still serialises
  the whole tracker on every save and rebuilds it from every event on every read, so its
  growth is that store's own;
- NLU alone (/model/parse, stateless) at the same moments, as a flat reference;
- the number of events in the tracker at turns 1, 20 and 40 (Rasa's session lasts
  `session_expiration_time` minutes, so a 40-turn conversation stays one session);
- inside Rasa (in-process, conversation 1 at its first and last turn), per call, as
  Rasa ships and as patched: the policy prediction, the tracker read, and the request
  each custom action posts to the action server, built and encoded as sent (as shipped:
  the whole tracker with `json.dumps`; patched: the events of the last three user
  messages with ujson, rasa_runtime/speedups/action_payload.py).

Usage: .venv/bin/python bench/turn_cost.py [--conversations N] [--turns T] [--model PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import httpx

# The Rasa variants of the tracker store bench (bench/ is on the path when run as a script).
from tracker_store import in_memory_rasa, rasa_variant

from bot import stack
from bot.rasa_auth import rasa_auth_headers
from bot.rasa_model import model_path
from bot.settings import PROJECT_ROOT, Settings
from bot.stack import RASA_BIN
from bot.supervisor import ProcessSpec, Supervisor

# FAQ questions and small talk a shopper might mix in a long chat; none starts a form.
MESSAGES = [
    "hi",
    "how long does shipping take?",
    "can I pay in installments?",
    "do you ship internationally?",
    "are you a bot?",
    "what is your return policy?",
    "thanks",
    "how do I clean a silver ring?",
    "do you offer gift wrapping?",
    "how do I find my ring size?",
    "thank you, that helps",
    "do you resize rings?",
]
STAGGER = 5
BUCKET = 5
TARGET = 1.10

# Run in Rasa's own Python, on the real conversation cut after its first user message and
# in full: the model's policy prediction (what Rasa does at least twice a turn), the
# rebuilding of a tracker from its event dicts (what a tracker store read did each turn),
# and the request each custom action posts to the action server. First as
# Rasa ships, then with the launcher's patches (rasa_runtime/speedups): the prediction on
# a copy of a tracker that already predicted at its previous message (as the kept
# tracker of the SQL store does), and the SQL store's kept read (a copy; the new rows of
# a turn are a dozen).
IN_RASA = """
import json, logging, sys, time
from rasa.utils.common import configure_logging_and_warnings
from rasa.utils.log_utils import configure_structlog
configure_logging_and_warnings(logging.INFO)  # as `rasa run` does: no debug logs
configure_structlog(logging.INFO)
from rasa.core.agent import Agent
from rasa.core.actions.action import RemoteAction
from rasa.shared.core.trackers import DialogueStateTracker
from rasa_runtime.speedups import action_payload
model, path = sys.argv[1], sys.argv[2]
events = json.load(open(path))
agent = Agent.load(model)
users = [i for i, e in enumerate(events) if e["event"] == "user"]
cuts = (("first", users[0] + 1), ("last", users[-1] + 1))

def per_call(f, n=20):
    f()
    t0 = time.perf_counter()
    for _ in range(n):
        f()
    return (time.perf_counter() - t0) / n * 1000

def build(dicts):
    return DialogueStateTracker.from_dict("s", dicts, agent.domain.slots)

def measure(patched):
    from rasa_runtime.speedups.tracker_copy import copy_tracker
    for label, end in cuts:
        dicts = events[:end]
        tracker = build(dicts)
        if patched:
            # The tracker as the previous message left it, which predicted then (its memo)...
            previous = max([u for u in users if u < end - 1] or [users[0]])
            warm = build(events[: previous + 1])
            agent.processor._predict_next_with_tracker(warm)
            for e in list(tracker.events)[len(warm.events):]:  # ...grown by this turn
                warm.update(e)
            processor = agent.processor
            predict = per_call(lambda: processor._predict_next_with_tracker(copy_tracker(warm)))
            read = per_call(lambda: copy_tracker(warm))
        else:
            predict = per_call(lambda: agent.processor._predict_next_with_tracker(tracker))
            read = per_call(lambda: build(dicts))
        # What one custom action call posts to the action server, encoded as it is sent.
        request = lambda: RemoteAction("action_answer_faq", None)._action_call_format(
            tracker, agent.domain
        )
        encode = action_payload.dumps if patched else json.dumps
        dump = per_call(lambda: encode(request()))
        size = len(encode(request()))
        print(f"@@ {label} {patched} {len(dicts)} {predict:.2f} {read:.2f} {dump:.2f} {size}",
              flush=True)

measure(False)
from rasa_runtime.launch import flatten_turn_cost
flatten_turn_cost()
measure(True)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--conversations", type=int, default=16)
    parser.add_argument("--turns", type=int, default=40)
    parser.add_argument("--model", type=Path, help="a trained model (default: the current one)")
    args = parser.parse_args()

    base = Settings()
    model = args.model or model_path(base.rasa_model_dir)
    if not model.is_file():
        raise SystemExit(f"no Rasa model {model.name}: run `make train`")
    data_dir = PROJECT_ROOT / ".data"  # gitignored: absent in a fresh clone
    data_dir.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bench-turns-", dir=data_dir) as tmp:
        workdir = Path(tmp)
        settings = stack.on_free_ports(base, workdir)
        stack.seed_demo_orders(settings)
        sql = rasa_variant("sqlite", settings, model, f"sqlite:///{workdir / 'rasa.db'}")
        variants = [sql, in_memory_rasa(settings, model, workdir)]
        with Supervisor(PROJECT_ROOT, log_dir=workdir / "logs", echo=False) as sup:
            sup.start(
                [stack.order_backend(settings), stack.action_server(settings), *variants],
                on_status=print,
            )
            headers = rasa_auth_headers(settings)
            result = run(variants, args.conversations, args.turns, headers)
            last_events = result[3]
        report(result[:3], variants, args.conversations, args.turns)
        breakdown(model, last_events, workdir)


Times = dict[str, dict[int, list[float]]]  # variant -> turn (1-based) -> ms


def run(
    variants: list[ProcessSpec], conversations: int, turns: int, headers: dict[str, str]
) -> tuple[Times, dict[int, list[float]], dict[str, dict[int, int]], list[dict]]:
    times: Times = {spec.name: {t: [] for t in range(1, turns + 1)} for spec in variants}
    parse: dict[int, list[float]] = {t: [] for t in range(1, turns + 1)}
    events: dict[str, dict[int, int]] = {spec.name: {} for spec in variants}
    last_events: list[dict] = []
    first = variants[0]
    with httpx.Client(timeout=60) as client:

        def rest(spec: ProcessSpec, sender: str, text: str) -> float:
            url = f"http://{spec.host}:{spec.port}/webhooks/rest/webhook"
            started = time.perf_counter()
            r = client.post(url, json={"sender": sender, "message": text})
            elapsed = (time.perf_counter() - started) * 1000
            r.raise_for_status()
            if not r.json():
                raise SystemExit(f"{spec.name} said nothing to {text!r}: see its log")
            return elapsed

        # Warm every server up (first messages load lazily built parts).
        for spec in variants:
            warm = f"warm-{uuid.uuid4().hex[:8]}"
            for text in MESSAGES:
                rest(spec, warm, text)

        senders = [
            {spec.name: f"bench-{uuid.uuid4().hex[:12]}" for spec in variants}
            for _ in range(conversations)
        ]
        steps = turns + STAGGER * (conversations - 1)
        window = steady_window(turns, conversations)
        for step in range(steps):
            for c in range(conversations):
                t = step - STAGGER * c + 1  # this conversation's turn, 1-based
                if not 1 <= t <= turns:
                    continue
                text = MESSAGES[(t - 1 + c) % len(MESSAGES)]
                shift = (step + c) % len(variants)
                for spec in variants[shift:] + variants[:shift]:
                    ms = rest(spec, senders[c][spec.name], text)
                    if step in window:
                        times[spec.name][t].append(ms)
                started = time.perf_counter()
                client.post(
                    f"http://{first.host}:{first.port}/model/parse",
                    json={"text": text},
                    headers=headers,
                ).raise_for_status()
                if step in window:
                    parse[t].append((time.perf_counter() - started) * 1000)
                if c == 0 and t in (1, turns // 2, turns):
                    for spec in variants:
                        url = f"http://{spec.host}:{spec.port}/conversations/"
                        url += f"{senders[c][spec.name]}/tracker"
                        r = client.get(url, headers=headers)
                        r.raise_for_status()
                        events[spec.name][t] = len(r.json()["events"])
                        last_events = r.json()["events"]
    return times, parse, events, last_events


def steady_window(turns: int, conversations: int) -> range:
    """The steps at which conversations at every turn bucket are in flight, the first
    bucket and the last alike, so that a change of load on the machine (other processes)
    falls on both ends of the ratio; every step when there is no such step."""
    window = range(turns - STAGGER, STAGGER * conversations)
    return window if len(window) >= STAGGER else range(turns + STAGGER * conversations)


def report(
    result: tuple[Times, dict[int, list[float]], dict[str, dict[int, int]]],
    variants: list[ProcessSpec],
    conversations: int,
    turns: int,
) -> None:
    times, parse, events = result
    buckets = [range(s, min(s + BUCKET, turns + 1)) for s in range(1, turns + 1, BUCKET)]
    series = {spec.name: times[spec.name] for spec in variants}
    series["NLU parse only"] = parse

    def p50(by_turn: dict[int, list[float]], bucket: range) -> float:
        return statistics.median([ms for t in bucket for ms in by_turn[t]])

    print(
        f"\np50 ms per message by turn, {conversations} conversations of {turns} turns "
        f"(REST round trip; staggered by {STAGGER} turns, counted while every turn bucket "
        "is in flight, stores interleaved)"
    )
    head = "  " + f"{'turns':<8}" + "".join(f"{name:>16}" for name in series)
    print(head)
    for bucket in buckets:
        label = f"{bucket[0]}-{bucket[-1]}"
        print("  " + f"{label:<8}" + "".join(f"{p50(s, bucket):>16.1f}" for s in series.values()))
    first, last = buckets[0], buckets[-1]
    label = f"{last[0]}-{last[-1]} / {first[0]}-{first[-1]}"
    ratios = "".join(f"{p50(s, last) / p50(s, first):>16.2f}" for s in series.values())
    print("  " + f"{'ratio':<8}" + ratios)
    print(f"  ({label}; target <= {TARGET:.2f} for the REST round trip)")
    for name, by_turn in series.items():
        if name in times:
            verdict = "met" if p50(by_turn, last) / p50(by_turn, first) <= TARGET else "NOT met"
            # (one bucket only, as with --turns 5 or fewer: no growth to spread)
            added = (p50(by_turn, last) - p50(by_turn, first)) / max(1, last[0] - first[0])
            print(f"  {name}: target {verdict}; about {added:+.2f} ms per extra turn")
    for name, at in events.items():
        shown = ", ".join(f"turn {t}: {n}" for t, n in sorted(at.items()))
        print(f"  events in the tracker ({name}): {shown}")


def breakdown(model: Path, events: list[dict], workdir: Path) -> None:
    """Rasa's per-turn work on the tracker, at the first and the last turn (IN_RASA)."""
    path = workdir / "events.json"
    path.write_text(json.dumps(events))
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    out = subprocess.run(
        [str(RASA_BIN.parent / "python"), "-c", IN_RASA, str(model), str(path)],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rows = [line.split()[1:] for line in out.splitlines() if line.startswith("@@ ")]
    print("\nInside Rasa, on conversation 1 (in-process, no HTTP), ms per call:")
    print(
        f"  {'rasa':<9} {'turn':<6} {'events':>7} {'policy prediction':>18} "
        f"{'tracker read':>13} {'action request':>15} {'size':>9}"
    )
    for label, patched, n, predict, read, dump, size in rows:
        rasa = "patched" if patched == "True" else "as shipped"
        print(
            f"  {rasa:<9} {label:<6} {n:>7} {float(predict):>18.2f} {float(read):>13.2f} "
            f"{float(dump):>15.2f} {int(size) / 1024:>6.1f} KB"
        )
    print(
        "  (Rasa predicts at least twice a turn and reads the tracker once; as shipped a read "
        "rebuilds it from all its events, patched it is the SQL store's kept tracker, "
        "copied. The action request is the JSON each custom action posts to the action "
        "server: as shipped the whole tracker, patched the events of the last three user "
        "messages, encoded with ujson.)"
    )


if __name__ == "__main__":
    main()
