"""End to end through Rasa's REST channel, on held-out shopper questions.

Starts the real action server and Rasa server (the trained model) on free ports, then:
- accuracy, on two held-out sets: the FAQ sets (tests/data: the `test` split of
  faq_dev.jsonl and all of faq_fresh.jsonl) and tests/data/rasa_e2e_heldout.jsonl, shopper
  questions written for this bench (policy questions and unanswerable ones, no requests).
  Every question is sent as the first message of a new conversation; a policy
  question counts as right when the reply is the text of one of its acceptable FAQ
  entries, an unanswerable one when the reply takes the "I don't know" path (strict).
  Some held-out lines are really requests ("cancel order", "track order") or small talk
  ("hi"): the second number also accepts starting the flow that an acceptable entry's
  own follow-up button starts, and the small-talk replies, for unanswerable small talk;
- latency: p50/p95 of the whole REST round trip, beside its parts measured in the same
  run: NLU parse (Rasa /model/parse), the action call (a direct request to the action
  server's webhook) and retrieval alone (FaqEngine.search in this process);
- Rasa's time to ready.
The accuracy's baseline, in the same run: the FAQ engine alone on the same questions (no
NLU, no dialogue: right when its answer is an acceptable entry, or when it abstains on an
unanswerable question).

Usage: .venv/bin/python bench/rasa_e2e.py [--limit N] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
from figures import add_json_option, write_json

from bot import stack
from bot.faq import FaqEngine
from bot.rasa_auth import rasa_auth_headers
from bot.rasa_model import model_path
from bot.settings import PROJECT_ROOT, Settings
from bot.supervisor import Supervisor, free_port

DATA = PROJECT_ROOT / "tests" / "data"
DONT_KNOW = ("don't know", "couldn't find an answer")
SMALL_TALK = {"greet", "goodbye", "thank", "bot_challenge"}


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def jsonl(name: str) -> list[dict[str, Any]]:
    path = DATA / name
    if not path.is_file():
        return []
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


def held_out() -> dict[str, list[dict[str, Any]]]:
    faq_sets = [r for r in jsonl("faq_dev.jsonl") if r["split"] == "test"]
    faq_sets += jsonl("faq_fresh.jsonl")
    e2e = [{"query": r["text"], "labels": r["labels"]} for r in jsonl("rasa_e2e_heldout.jsonl")]
    return {"FAQ held-out sets": faq_sets, "rasa_e2e_heldout.jsonl": e2e}


def tracker_payload(text: str) -> dict[str, Any]:
    """What Rasa sends the action server for action_answer_faq on a first message."""
    return {
        "next_action": "action_answer_faq",
        "sender_id": f"bench-{uuid.uuid4().hex[:8]}",
        "tracker": {
            "sender_id": "bench",
            "slots": {"faq_misses": 0.0},
            "latest_message": {
                "text": text,
                "intent": {"name": "faq", "confidence": 1.0},
                "entities": [],
            },
            "events": [],
            "paused": False,
            "followup_action": None,
            "active_loop": {},
            "latest_action_name": "action_listen",
        },
        "domain": {},
        "version": "3.6.21",
    }


@dataclass
class Tally:
    n: int = 0
    n_in: int = 0
    right: int = 0
    lenient: int = 0
    engine_right: int = 0  # the baseline: FaqEngine.search alone
    misses: list[str] = field(default_factory=list)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=0, help="only the first N of each set")
    add_json_option(parser)
    args = parser.parse_args()
    settings = Settings()
    model = model_path(settings.rasa_model_dir)
    if not model.is_file():
        raise SystemExit(f"no Rasa model {model.name}: run `make train`")
    sets = {name: rows[: args.limit or None] for name, rows in held_out().items() if rows}
    engine = FaqEngine.load(settings)
    answer_of = {e.id: e.answer for e in engine.corpus.entries}
    flow_of = {e.id: e.follow_up.payload.lstrip("/") for e in engine.corpus.entries if e.follow_up}

    live = settings.model_copy(
        update={
            "rasa_url": f"http://127.0.0.1:{free_port()}",
            "action_server_port": free_port(),
            "database_url": f"sqlite:///{PROJECT_ROOT / '.data' / 'bench.db'}",
        }
    )
    ready: dict[str, float] = {}
    rest: list[float] = []
    parse: list[float] = []
    action: list[float] = []
    retrieval: list[float] = []
    tallies: dict[str, Tally] = {}
    logs = PROJECT_ROOT / ".data" / "logs" / "bench"
    with Supervisor(PROJECT_ROOT, log_dir=logs, echo=False) as sup:
        specs = [stack.action_server(live), stack.rasa_server(live, model)]
        started = time.monotonic()

        def note_ready(status: str) -> None:  # "rasa ready in ...": the first time counts
            ready.setdefault(status.split()[0], time.monotonic() - started)

        sup.start(specs, on_status=note_ready)
        rasa_api = rasa_auth_headers(live)
        # The action server refuses callers without Rasa's token.
        action_api = {"Authorization": f"Bearer {live.action_server_token.get_secret_value()}"}
        client = httpx.Client(timeout=60)
        for set_name, questions in sets.items():
            tally = tallies[set_name] = Tally()
            for row in questions:
                q = row["query"]
                t0 = time.perf_counter()
                replies = client.post(
                    f"{live.rasa_url}/webhooks/rest/webhook",
                    json={"sender": f"bench-{uuid.uuid4().hex}", "message": q},
                ).json()
                rest.append((time.perf_counter() - t0) * 1000)
                text = replies[0].get("text", "") if replies else ""
                t0 = time.perf_counter()
                parsed = client.post(
                    f"{live.rasa_url}/model/parse", json={"text": q}, headers=rasa_api
                )
                parse.append((time.perf_counter() - t0) * 1000)
                intent = parsed.json()["intent"]["name"]
                if row["labels"]:
                    ok = any(text == answer_of[label] for label in row["labels"])
                    also_ok = intent in {flow_of.get(label) for label in row["labels"]}
                else:
                    ok = any(marker in text for marker in DONT_KNOW)
                    also_ok = intent in SMALL_TALK
                tally.n += 1
                tally.n_in += bool(row["labels"])
                tally.right += ok
                tally.lenient += ok or also_ok
                if not ok:
                    flag = "(flow ok) " if also_ok else ""
                    tally.misses.append(f"{flag}{q!r} [{intent}] -> {text[:60]!r}")
                t0 = time.perf_counter()
                client.post(live.action_server_url, json=tracker_payload(q), headers=action_api)
                action.append((time.perf_counter() - t0) * 1000)
                t0 = time.perf_counter()
                alone = engine.search(q)
                retrieval.append((time.perf_counter() - t0) * 1000)
                if row["labels"]:
                    found = alone.entry.id if alone.entry else None
                    tally.engine_right += found in row["labels"]
                else:
                    tally.engine_right += alone.abstained

    print(f"Rasa end to end over REST, model {model.name}")
    for set_name, t in tallies.items():
        print(f"  {set_name}: {t.n} questions ({t.n_in} policy, {t.n - t.n_in} unanswerable)")
        print(
            f"    right answer or right 'I don't know' (strict): {t.right / t.n:.3f} "
            "(target >= 0.93)"
        )
        print(f"    ... or the entry's own flow / small-talk reply: {t.lenient / t.n:.3f}")
        print(
            f"    baseline: the FAQ engine alone (no NLU, no dialogue): {t.engine_right / t.n:.3f}"
        )
    for name, ms in (
        ("REST round trip (whole reply)", rest),
        ("  NLU parse (/model/parse)", parse),
        ("  action server call (webhook)", action),
        ("  retrieval (FaqEngine.search)", retrieval),
    ):
        print(
            f"  {name:34} p50 {pct(ms, 50):7.1f} ms  p95 {pct(ms, 95):7.1f} ms  "
            f"mean {statistics.mean(ms):6.1f} ms"
        )
    print("  targets: REST p50 <= 100 ms, p95 <= 200 ms")
    for name, seconds in ready.items():
        print(f"  {name} ready {seconds:.1f} s after start (target for rasa: <= 40 s)")
    for set_name, t in tallies.items():
        print(f"  misses in {set_name} ({len(t.misses)}):")
        for miss in t.misses[:40]:
            print(f"    {miss}")

    def p50_p95(ms: list[float]) -> dict[str, float]:
        return {"p50_ms": pct(ms, 50), "p95_ms": pct(ms, 95), "mean_ms": statistics.mean(ms)}

    write_json(
        args.json,
        {
            "model": model.name,
            "accuracy": {
                name: {
                    "questions": t.n,
                    "policy": t.n_in,
                    "unanswerable": t.n - t.n_in,
                    "strict": t.right / t.n,
                    "lenient": t.lenient / t.n,
                    "baseline_engine_alone": t.engine_right / t.n,
                    "misses": len(t.misses),
                }
                for name, t in tallies.items()
            },
            "accuracy_target": 0.93,
            "latency": {
                "rest": p50_p95(rest),
                "nlu_parse": p50_p95(parse),
                "action_call": p50_p95(action),
                "retrieval": p50_p95(retrieval),
            },
            "latency_targets_ms": {"p50": 100.0, "p95": 200.0},
            "ready_s": ready,
            "rasa_ready_target_s": 40.0,
        },
    )


if __name__ == "__main__":
    main()
