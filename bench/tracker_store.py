"""What persisting Rasa's conversations costs per message.

Starts the order backend (demo orders) and the action server once, and beside them up to
four Rasa servers with the same model that differ only in the tracker store:
- in-memory: Rasa's default, lost on restart;
- sqlite: the SQL store on a SQLite file (our default);
- postgresql: the SQL store on PostgreSQL (when one answers at 127.0.0.1:5432; a
  throwaway database);
- pg, async: the same with `?options=-c%20synchronous_commit%3Doff` in the URL, an
  opt-in: commits do not wait for the disk, so a crash of PostgreSQL itself (not of
  Rasa) can lose the last fraction of a second of conversation state.
The same multi-turn conversations (greeting, FAQ, a cancel request verified and declined,
thanks) go to all of them, turn by turn in rotating order, so load on the machine falls on
each alike; the REST round trip of every message is timed. Target: the SQL store adds at
most 10 ms at p50.

Usage: .venv/bin/python bench/tracker_store.py [--conversations N] [--json PATH]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import httpx
from figures import add_json_option, write_json

from bot import stack
from bot.rasa_model import model_path
from bot.settings import PROJECT_ROOT, Settings
from bot.supervisor import ProcessSpec, Supervisor, free_port

TURNS = [
    "hi",
    "how long does shipping take?",
    "/cancel_order",
    "KNT-1001",
    "ava@example.com",
    "no",
    "can I pay in installments?",
    "thanks, that's all",
]
PG_ADMIN = "host=127.0.0.1 user=postgres dbname=postgres"


def postgres_database() -> str | None:
    """A new empty database's name, or None when no PostgreSQL answers."""
    try:
        import psycopg

        name = f"knt_bench_tracker_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return name
    except Exception as exc:  # no server, no rights: the bench runs without it
        print(f"(no PostgreSQL at 127.0.0.1:5432: {type(exc).__name__}; skipping it)")
        return None


def drop_database(name: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def in_memory_endpoints(workdir: Path) -> Path:
    """endpoints.yml without the tracker and lock stores: Rasa's in-memory defaults."""
    text = (PROJECT_ROOT / "endpoints.yml").read_text()
    kept = text[: text.index("tracker_store:")].rstrip()
    path = workdir / "endpoints-in-memory.yml"
    path.write_text(kept + "\n")
    return path


def rasa_variant(name: str, base: Settings, model: Path, tracker_url: str) -> ProcessSpec:
    rasa_url = f"http://127.0.0.1:{free_port()}"
    settings = base.model_copy(update={"rasa_url": rasa_url, "rasa_tracker_store_url": tracker_url})
    spec = stack.rasa_server(settings, model)
    spec.name = name
    return spec


def in_memory_rasa(base: Settings, model: Path, workdir: Path) -> ProcessSpec:
    """A Rasa like the others but on Rasa's in-memory tracker and lock stores."""
    spec = rasa_variant("in-memory", base, model, "")
    spec.argv[spec.argv.index("--endpoints") + 1] = str(in_memory_endpoints(workdir))
    return spec


def percentile(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--conversations", type=int, default=25)
    add_json_option(parser)
    args = parser.parse_args()

    base = Settings()
    model = model_path(base.rasa_model_dir)
    if not model.is_file():
        raise SystemExit(f"no Rasa model {model.name}: run `make train`")
    data_dir = PROJECT_ROOT / ".data"  # gitignored: absent in a fresh clone
    data_dir.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bench-tracker-", dir=data_dir) as tmp:
        workdir = Path(tmp)
        settings = stack.on_free_ports(base, workdir)
        stack.seed_demo_orders(settings)
        memory = in_memory_rasa(settings, model, workdir)
        variants = [
            memory,
            rasa_variant("sqlite", settings, model, f"sqlite:///{workdir / 'rasa.db'}"),
        ]
        pg = postgres_database()
        if pg:
            url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{pg}"
            variants.append(rasa_variant("postgresql", settings, model, url))
            # The same, with commits that do not wait for the disk (opt-in by URL).
            url += "?options=-c%20synchronous_commit%3Doff"
            variants.append(rasa_variant("pg, async", settings, model, url))
        try:
            with Supervisor(PROJECT_ROOT, log_dir=workdir / "logs", echo=False) as sup:
                sup.start(
                    [stack.order_backend(settings), stack.action_server(settings), *variants],
                    on_status=print,
                )
                times = run(variants, args.conversations)
        finally:
            if pg:
                drop_database(pg)

    n = len(times[memory.name])
    print(
        f"\nRasa REST round trip per message, {args.conversations} conversations of "
        f"{len(TURNS)} turns ({n} messages per store, same run, turns interleaved)"
    )
    print(f"  {'tracker store':<14} {'p50 ms':>8} {'p95 ms':>8} {'p50 added':>10}")
    base_p50 = statistics.median(times[memory.name])
    stores = {}
    for spec in variants:
        ms = times[spec.name]
        p50 = statistics.median(ms)
        added = "" if spec is memory else f"{p50 - base_p50:+.1f}"
        print(f"  {spec.name:<14} {p50:>8.1f} {percentile(ms, 95):>8.1f} {added:>10}")
        stores[spec.name] = {
            "p50_ms": p50,
            "p95_ms": percentile(ms, 95),
            "p50_added_ms": p50 - base_p50,
            "messages": len(ms),
        }
    print("  target: SQL store adds <= 10 ms at p50")
    write_json(
        args.json,
        {
            "conversations": args.conversations,
            "turns": len(TURNS),
            "baseline": memory.name,
            "stores": stores,
            "p50_added_target_ms": 10.0,
        },
    )


def run(variants: list[ProcessSpec], conversations: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {spec.name: [] for spec in variants}
    with httpx.Client(timeout=60) as client:
        for c in range(conversations + 1):  # the first one warms every server up
            senders = {spec.name: f"bench-{uuid.uuid4().hex[:12]}" for spec in variants}
            for t, text in enumerate(TURNS):
                shift = (c + t) % len(variants)
                for spec in variants[shift:] + variants[:shift]:
                    url = f"http://{spec.host}:{spec.port}/webhooks/rest/webhook"
                    started = time.perf_counter()
                    r = client.post(url, json={"sender": senders[spec.name], "message": text})
                    elapsed = (time.perf_counter() - started) * 1000
                    r.raise_for_status()
                    if not r.json():
                        raise SystemExit(f"{spec.name} said nothing to {text!r}: see its log")
                    if c:
                        times[spec.name].append(elapsed)
    return times


if __name__ == "__main__":
    main()
