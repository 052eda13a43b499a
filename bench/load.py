"""Concurrent shoppers on one and on two Rasa servers: latency, throughput, CPU per message.

For each configuration (`--rasa 1 2`: one or two Rasa servers, each with its own action
server, behind one gateway that gets them in RASA_URLS) it starts the whole assistant on
free ports with seeded demo orders. With two Rasa servers they share the tracker store
(PostgreSQL) and a Redis lock store, so the one-server configuration runs on the same
stores by default (throwaway PostgreSQL databases on 127.0.0.1:5432 and a Redis key prefix
of its own, all removed afterwards) and the two differ only in the number of servers;
`--stores sqlite` runs one server as `make run` does. Then, per configuration:

- at each `--rest-levels` N, N shoppers straight to Rasa's REST channel and then N through
  the gateway's `/ws`, exactly as the widget talks to it (hello, a message with an id, the
  reply complete when "typing" goes off): what the gateway adds;
- at each `--levels` N the same through the gateway alone: N slots, each holding one
  shopper at a time, who asks `--questions` of the store's policy questions (the corpus
  questions, shuffled) `--think` seconds (± 50 %) apart, as a person reading and typing
  does, then leaves and a new shopper takes the slot (a new conversation). Arrivals are
  spread over the first 1.5 think times;
- at each `--closed` N, N shoppers with no think time (closed loop): the most the stack
  answers.

Per run: message-to-reply latency p50/p95/p99, errors, messages per second, and per
process (each with its children) CPU ms per message, share of one core and peak memory;
also the PostgreSQL backends serving the run's databases, the Redis server (shared with
whatever else uses it), this load generator, and the whole machine's CPU. Then, per
configuration, the saturation point (the highest throughput with p95 <= 1 s and no
errors), which process saturates first (the largest share of a core at the highest
throughput) and what a message costs each process. Targets: the gateway adds <= 10 ms at
p50; >= 150 messages per second at p95 <= 1 s with no errors through the gateway.

Usage: .venv/bin/python bench/load.py [--rasa 1 2] [--levels 10 50 100 200 500]
           [--rest-levels 10 50] [--closed 2 8 32] [--duration 30] [--think 3]
           [--questions 4] [--stores postgres|sqlite] [--json PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from figures import add_json_option, write_json
from proc_usage import LOAD_GENERATOR, POSTGRES, REDIS, Usage, Watcher, idle
from websockets.asyncio.client import connect

from bot import stack
from bot.faq.corpus import load_corpus
from bot.rasa_model import model_path
from bot.settings import Settings
from bot.supervisor import ProcessSpec, StartupError, free_port

TARGET_RATE = 150.0  # messages per second through the gateway ...
TARGET_P95_MS = 1000.0  # ... at this p95, with no errors
TARGET_GATEWAY_MS = 10.0  # the gateway adds at most this at p50
PG_ADMIN = "host=127.0.0.1 user=postgres dbname=postgres"
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432"
REDIS_URL = "redis://127.0.0.1:6379/0"


@dataclass
class Run:
    mode: str  # "REST" (straight to Rasa) or "WS" (through the gateway)
    shoppers: int
    think: float = 3.0
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0
    usage: Usage = field(default_factory=Usage)

    def pct(self, q: float) -> float:
        xs = sorted(self.latencies)
        return xs[min(len(xs) - 1, int(q * len(xs)))] * 1000 if xs else float("nan")

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0

    @property
    def ok(self) -> bool:
        """Within the target's latency, with no errors."""
        return bool(self.latencies) and not self.errors and self.pct(0.95) <= TARGET_P95_MS

    def cpu_ms_per_message(self, name: str) -> float:
        return 1000 * self.usage.cpu_s.get(name, 0.0) / max(len(self.latencies), 1)

    def loop_json(self, name: str) -> dict[str, float]:
        """The main thread's (the event loop's) share of the time running and waiting
        for a CPU, and that wait per message; only for the supervised processes."""
        if name not in self.usage.loop_run_s:
            return {}
        run, wait = self.usage.loop_pct(name)
        per_msg = 1000 * self.usage.loop_wait_s[name] / max(len(self.latencies), 1)
        return {"loop_run_pct": run, "loop_wait_pct": wait, "loop_cpu_wait_ms_per_msg": per_msg}

    def label(self) -> str:
        kind = "closed loop" if self.think == 0 else f"think {self.think:g} s"
        return f"{self.mode} {self.shoppers} shoppers, {kind}"

    def to_json(self, names: list[str]) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "shoppers": self.shoppers,
            "think_s": self.think,
            "seconds": self.seconds,
            "replies": len(self.latencies),
            "errors": len(self.errors),
            "error_kinds": {e: self.errors.count(e) for e in sorted(set(self.errors))},
            "msgs_per_s": self.rate,
            "p50_ms": self.pct(0.5),
            "p95_ms": self.pct(0.95),
            "p99_ms": self.pct(0.99),
            "ok": self.ok,
            "machine_cpu_pct": 100 * self.usage.machine_cpu_s / max(self.usage.seconds, 1e-9),
            "processes": {
                name: {
                    "cpu_ms_per_msg": self.cpu_ms_per_message(name),
                    "cpu_pct": self.usage.cpu_pct(name),
                    "peak_mb": self.usage.peak_mb.get(name),
                    **self.loop_json(name),
                }
                for name in names
                if name in self.usage.cpu_s
            },
        }


# --- shoppers ----------------------------------------------------------------------------
async def rest_shopper(
    urls: str | list[str],
    questions: list[str],
    run: Run,
    until: float,
    think: float,
    per_shopper: int,
) -> None:
    """A slot of shoppers straight to Rasa; each new shopper to one of `urls` at random
    (with two servers, as a gateway would spread new conversations)."""
    urls = [urls] if isinstance(urls, str) else urls
    await _arrive(think)
    async with httpx.AsyncClient(timeout=30) as http:
        while time.monotonic() < until:
            sender = f"load-{uuid.uuid4().hex[:10]}"  # a new shopper in this slot
            url = random.choice(urls)
            for q in random.sample(questions, per_shopper):
                if time.monotonic() >= until:
                    return
                started = time.perf_counter()
                try:
                    r = await http.post(url, json={"sender": sender, "message": q})
                    if r.status_code != 200 or not r.json():
                        run.errors.append(f"HTTP {r.status_code}")
                    else:
                        run.latencies.append(time.perf_counter() - started)
                except httpx.HTTPError as exc:
                    run.errors.append(type(exc).__name__)
                await _think(think)


async def ws_shopper(
    url: str,
    origin: str,
    questions: list[str],
    run: Run,
    until: float,
    think: float,
    per_shopper: int,
    address: str | None = None,
) -> None:
    """A slot of shoppers through the gateway. Each slot is one client address, sent as a
    trusted proxy would (X-Forwarded-For: the gateway trusts 127.0.0.1): shoppers come from
    many addresses, and the per-address limits (connections, new chats per second) would
    otherwise count all of them as one."""
    octets = (random.randrange(256), random.randrange(256), random.randrange(1, 255))
    forwarded = {"X-Forwarded-For": address or "10.{}.{}.{}".format(*octets)}
    await _arrive(think)
    while time.monotonic() < until:
        try:
            async with connect(
                url,
                origin=origin,  # type: ignore[arg-type]
                open_timeout=30,
                additional_headers=forwarded,
            ) as ws:
                await ws.send(json.dumps({"type": "hello", "token": None}))
                hello = json.loads(await asyncio.wait_for(ws.recv(), 30))
                if hello["type"] != "session":
                    run.errors.append(f"hello: {hello.get('code', hello['type'])}")
                    continue
                for q in random.sample(questions, per_shopper):
                    if time.monotonic() >= until:
                        return
                    await _ask(ws, q, run)
                    await _think(think)
        except Exception as exc:  # a timeout, a closed socket, a refused handshake: counted
            run.errors.append(type(exc).__name__)


async def _ask(ws: Any, question: str, run: Run) -> None:
    """One question; the reply is complete when "typing" goes off."""
    started = time.perf_counter()
    await ws.send(json.dumps({"type": "message", "id": uuid.uuid4().hex, "text": question}))
    got_reply = False
    while True:
        frame = json.loads(await asyncio.wait_for(ws.recv(), 60))
        if frame["type"] == "error":
            run.errors.append(frame["code"])
            return
        if frame["type"] == "message" and frame["message"]["role"] == "bot":
            got_reply = True
        if frame["type"] == "typing" and not frame["on"]:
            if got_reply:
                run.latencies.append(time.perf_counter() - started)
            else:
                run.errors.append("no reply")
            return


async def _arrive(think: float) -> None:
    """Shoppers arrive spread over the first think time, not all in the same millisecond
    (a burst of N first questions would measure the burst, not the steady load)."""
    await asyncio.sleep(random.uniform(0, 1.5 * think))


async def _think(think: float) -> None:
    if think > 0:
        await asyncio.sleep(random.uniform(0.5 * think, 1.5 * think))


# --- the assistant under test --------------------------------------------------------------
@dataclass
class Stack:
    settings: Settings  # the gateway's (RASA_URLS lists every Rasa)
    rasa_urls: list[str]
    groups: dict[str, int]  # process name -> process group id
    databases: list[str]  # PostgreSQL databases of this stack (empty on SQLite)
    redis: bool

    @property
    def services(self) -> list[str]:
        names = list(self.groups)
        if self.databases:
            names.append(POSTGRES)
        if self.redis:
            names.append(REDIS)
        return names


def bench_settings(workdir: Path, **overrides: Any) -> Settings:
    """The assistant on free ports in `workdir`, with the limits a load test needs."""
    return stack.on_free_ports(Settings(), workdir).model_copy(
        update={
            # Straight to Rasa or in bench/handoff_latency.py, every simulated shopper may
            # come from 127.0.0.1: lift the per-IP limits, keep the per-session one (a
            # shopper here sends far less than its burst).
            "gateway_ip_rate": 1e6,
            "gateway_ip_burst": 1_000_000,
            "gateway_max_connections_per_ip": 1_000_000,
            "gateway_session_rate": 100.0,
            "gateway_session_burst": 100,
        }
        | overrides
    )


@contextmanager
def shared_stores() -> Iterator[tuple[dict[str, str], list[str]]]:
    """Settings for stores several Rasa servers can share: new PostgreSQL databases (app,
    orders, Rasa's tracker store) and Rasa's lock store in Redis under a key prefix of its
    own; all removed afterwards. Also the databases' names."""
    import psycopg
    import redis

    suffix = uuid.uuid4().hex[:10]
    names = [f"knt_load_{kind}_{suffix}" for kind in ("app", "orders", "tracker")]
    prefix = f"kntload{suffix}"
    try:
        with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=5) as conn:
            for name in names:
                conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as exc:
        raise SystemExit(
            f"bench/load.py: two Rasa servers need PostgreSQL at 127.0.0.1:5432 (user "
            f"postgres) for their shared tracker store, and it did not answer: {exc}. Start "
            f"it, or run one server on SQLite: --rasa 1 --stores sqlite"
        ) from None
    try:
        yield (
            {
                "database_url": f"{PG_URL}/{names[0]}",
                "orders_database_url": f"{PG_URL}/{names[1]}",
                "rasa_tracker_store_url": f"{PG_URL}/{names[2]}",
                "rasa_lock_store_url": f"{REDIS_URL}?key_prefix={prefix}",
            },
            names,
        )
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            for name in names:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        client = redis.Redis.from_url(REDIS_URL)
        keys = list(client.scan_iter(f"{prefix}*"))
        if keys:
            client.delete(*keys)
        client.close()


def specs_for(settings: Settings, servers: int, model: Path) -> tuple[list[ProcessSpec], Settings]:
    """The order backend, `servers` x (action server + Rasa using it), and the gateway
    in front of every Rasa; also the gateway's settings."""
    specs = [stack.order_backend(settings)]
    urls = []
    for i in range(servers):
        own = settings
        if i:
            rasa_url = f"http://127.0.0.1:{free_port()}"
            own = settings.model_copy(
                update={"rasa_url": rasa_url, "action_server_port": free_port()}
            )
        actions, rasa = stack.action_server(own), stack.rasa_server(own, model)
        if i:
            actions.name, rasa.name = f"actions{i + 1}", f"rasa{i + 1}"
        if servers > 1:
            # Never with a shared lock store: a lock there may be the other server's turn.
            rasa.env.pop("RASA_ONLY_INSTANCE", None)
        specs += [actions, rasa]
        urls.append(own.rasa_url)
    front = settings.model_copy(update={"rasa_urls": ",".join(urls) if servers > 1 else ""})
    specs.append(stack.gateway(front))
    return specs, front


@contextmanager
def assistant(servers: int, stores: str, workdir: Path) -> Iterator[Stack]:
    model = model_path(Settings().rasa_model_dir)
    if not model.is_file():
        raise StartupError(f"no trained Rasa model {model.name}: run `make train`")
    with shared_stores() if stores == "postgres" else _no_stores() as (urls, databases):
        settings = bench_settings(workdir, **urls)
        stack.seed_demo_orders(settings)
        specs, front = specs_for(settings, servers, model)
        log_dir, state = workdir / "logs", workdir / "supervisor.json"
        with stack.supervisor(settings, log_dir=log_dir, state_file=state) as sup:
            sup.start(specs, on_status=lambda _: None)
            groups = {name: proc.pid for name, proc in sup.procs.items()}
            rasa_urls = front.rasa_urls.split(",") if servers > 1 else [front.rasa_url]
            yield Stack(front, rasa_urls, groups, databases, redis=bool(databases))


@contextmanager
def _no_stores() -> Iterator[tuple[dict[str, str], list[str]]]:
    yield {}, []  # the SQLite files on_free_ports chose


# --- runs ----------------------------------------------------------------------------------
async def measure(
    mode: str,
    n: int,
    args: argparse.Namespace,
    settings: Settings,
    groups: dict[str, int],
    target: Stack | None = None,
) -> Run:
    """One run of `n` shoppers for `args.duration` s (think time `args.think`)."""
    duration, think, per_shopper = args.duration, args.think, args.questions
    questions = [e.question for e in load_corpus(settings.faq_corpus_dir).entries]
    run = Run(mode, n, think)
    until = time.monotonic() + duration
    gateway = f"{settings.gateway_host}:{settings.gateway_port}"
    if mode == "REST":
        rasa_urls = target.rasa_urls if target else [settings.rasa_url]
        urls = [f"{u}/webhooks/rest/webhook" for u in rasa_urls]
        shoppers = [rest_shopper(urls, questions, run, until, think, per_shopper) for _ in range(n)]
    else:
        origin = f"http://{gateway}"
        shoppers = [
            ws_shopper(f"ws://{gateway}/ws", origin, questions, run, until, think, per_shopper)
            for _ in range(n)
        ]
    watcher = Watcher(
        groups,
        databases=target.databases if target else None,
        redis=target.redis if target else False,
    )
    stop = asyncio.Event()
    watching = asyncio.create_task(watcher.watch(stop))
    started = time.monotonic()
    await asyncio.gather(*shoppers)
    run.seconds = time.monotonic() - started
    stop.set()
    run.usage = await watching
    return run


def print_run(r: Run, names: list[str], servers: int) -> None:
    machine = 100 * r.usage.machine_cpu_s / max(r.usage.seconds, 1e-9)
    print(
        f"{servers:>4} {r.mode:<5}{r.shoppers:>4}{r.think:>6g}{len(r.latencies):>8}"
        f"{len(r.errors):>5}{r.pct(0.5):>8.0f}{r.pct(0.95):>8.0f}{r.pct(0.99):>8.0f}"
        f"{r.rate:>7.1f}{machine:>9.0f}",
        flush=True,
    )
    cells = [
        f"{name} {r.cpu_ms_per_message(name):.1f} ({r.usage.cpu_pct(name):.0f}%"
        + (f", {r.usage.peak_mb[name]:.0f} MB)" if name in r.usage.peak_mb else ")")
        for name in names
        if name in r.usage.cpu_s
    ]
    print(f"       cpu ms/msg (% of a core, peak MB): {'; '.join(cells)}")
    loops = [
        "{} {:.0f}+{:.0f}%".format(name, *r.usage.loop_pct(name))
        for name in names
        if name in r.usage.loop_run_s
    ]
    print(f"       main thread running+waiting for a CPU: {'; '.join(loops)}")
    if r.errors:
        print(f"       errors: {dict((e, r.errors.count(e)) for e in sorted(set(r.errors)))}")


HEADER = (
    f"{'rasa':>4} {'mode':<5}{'N':>4}{'think':>6}{'replies':>8}{'err':>5}{'p50 ms':>8}"
    f"{'p95 ms':>8}{'p99 ms':>8}{'msg/s':>7}{'machine%':>9}"
)


def saturation(runs: list[Run], services: list[str], cores: int) -> dict[str, Any]:
    """Where one configuration saturates, what saturates first, and what a message costs."""
    ws = [r for r in runs if r.mode == "WS" and r.latencies]
    if not ws:
        return {"text": "no run through the gateway got a reply."}
    ok = [r for r in ws if r.ok]
    best = max(ok, key=lambda r: r.rate) if ok else None
    peak = max(ws, key=lambda r: r.rate)
    failed = sorted((r for r in ws if not r.ok and r.think > 0), key=lambda r: r.shoppers)
    costs = {n: peak.cpu_ms_per_message(n) for n in services if n in peak.usage.cpu_s}
    # Redis is the whole shared server: not ours alone, so outside the sum.
    ours = {n: ms for n, ms in costs.items() if n != REDIS}
    total_ms = sum(ours.values())
    shares = {n: peak.usage.cpu_pct(n) for n in services if n in peak.usage.cpu_s and n != REDIS}
    busiest = max(shares, key=lambda n: shares[n])
    machine_pct = 100 * peak.usage.machine_cpu_s / max(peak.usage.seconds, 1e-9)
    ours_pct = sum(shares.values()) + peak.usage.cpu_pct(LOAD_GENERATOR)
    ceiling = cores * 1000 / total_ms if total_ms else float("inf")
    loadgen_ms = peak.cpu_ms_per_message(LOAD_GENERATOR)

    parts = []
    if best:
        parts.append(
            f"Saturation point: {best.rate:.1f} messages/s ({best.label()}, p95 "
            f"{best.pct(0.95):.0f} ms, no errors); target {TARGET_RATE:.0f}/s "
            f"{'met' if best.rate >= TARGET_RATE else 'not met'}."
        )
    else:
        parts.append("No run stayed within p95 <= 1 s with no errors.")
    if failed:
        f = failed[0]
        parts.append(
            f"With think time it first breaks at {f.shoppers} shoppers: p95 "
            f"{f.pct(0.95):.0f} ms, {len(f.errors)} errors, {f.rate:.1f} messages/s."
        )
    loops = {
        n: peak.usage.loop_pct(n) for n in services if n in peak.usage.loop_run_s
    }  # main thread: (running %, waiting for a CPU %)
    loop = max(loops, key=lambda n: sum(loops[n]))
    parts.append(
        f"At the highest throughput ({peak.rate:.1f}/s, {peak.label()}) the machine's "
        f"{cores} cores were {machine_pct:.0f}% busy of {cores * 100}%, {ours_pct:.0f}% of "
        f"it the assistant's processes and the load generator; the largest CPU share was "
        f"{busiest}'s, {shares[busiest]:.0f}% of one core; the busiest main thread "
        f"(a server's event loop) was {loop}'s, running {loops[loop][0]:.0f}% and waiting "
        f"for a CPU {loops[loop][1]:.0f}% of the time. "
        + bottleneck(loop, loops[loop], machine_pct, ours_pct, cores)
    )
    listed = ", ".join(f"{n} {ms:.1f}" for n, ms in sorted(ours.items(), key=lambda x: -x[1]))
    parts.append(
        f"CPU per message (ms): {listed}; {total_ms:.1f} ms in all (the load generator "
        f"another {loadgen_ms:.1f} ms"
        + (f", the shared Redis server {costs[REDIS]:.2f} ms" if REDIS in costs else "")
        + f"). So {cores} cores can answer at most about {ceiling:.0f} messages/s even "
        f"perfectly spread, and {TARGET_RATE:.0f}/s needs about "
        f"{TARGET_RATE * total_ms / 1000:.1f} cores' worth of CPU at this cost; the "
        f"largest share is {max(ours, key=lambda n: ours[n])}'s."
    )
    return {
        "saturation": best.to_json([*services, LOAD_GENERATOR]) if best else None,
        "highest_throughput": peak.to_json([*services, LOAD_GENERATOR]),
        "first_failing_think_level": failed[0].shoppers if failed else None,
        "busiest_process": busiest,
        "busiest_cpu_pct": shares[busiest],
        "busiest_loop": loop,
        "busiest_loop_run_pct": loops[loop][0],
        "busiest_loop_wait_pct": loops[loop][1],
        "machine_cpu_pct": machine_pct,
        "ours_cpu_pct": ours_pct,
        "cpu_ms_per_msg": costs,
        "cpu_ms_per_msg_total": total_ms,
        "load_generator_ms_per_msg": loadgen_ms,
        "ceiling_msgs_per_s": ceiling,
        "cores_for_target": TARGET_RATE * total_ms / 1000,
        "target_met": bool(best and best.rate >= TARGET_RATE),
        "text": " ".join(parts),
    }


def bottleneck(
    loop: str, run_wait: tuple[float, float], machine_pct: float, ours_pct: float, cores: int
) -> str:
    """What ran out first, in words, from the busiest event loop and the machine's CPU."""
    run, wait = run_wait
    if run + wait >= 85:
        why = (
            "mostly waiting for a CPU: the cores ran out before the loop did"
            if wait > run
            else "mostly running: its own work per message is the limit"
        )
        return f"So {loop}'s event loop saturates first ({why})."
    if machine_pct >= 85 * cores and ours_pct >= 0.7 * machine_pct:
        return "No event loop was full, but the machine's CPU was: the cores ran out first."
    if machine_pct >= 85 * cores:
        return (
            "No event loop was full; the machine's CPU was, but less than 70 % of it was "
            "ours: other work on the machine took the rest, so this ceiling is the "
            "machine's sharing as much as the assistant's cost (the CPU per message below "
            "is the assistant's own)."
        )
    return (
        "Neither the CPU nor an event loop was full, so the time went to waiting: on I/O "
        "(the databases, each other) or blocked threads."
    )


async def run_config(servers: int, args: argparse.Namespace) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="knt-load-"))
    stores = args.stores or ("postgres" if max(args.rasa) > 1 else "sqlite")
    print(
        f"\n== {servers} Rasa server(s) + {servers} action server(s), tracker store "
        f"{'PostgreSQL, Redis lock store' if stores == 'postgres' else 'SQLite'} "
        f"(work dir {workdir}) ==",
        flush=True,
    )
    started = time.monotonic()
    with assistant(servers, stores, workdir) as target:
        started_s = time.monotonic() - started
        print(f"started in {started_s:.1f} s (the whole stack, ready)", flush=True)
        settings, groups = target.settings, target.groups
        names = [*target.services, LOAD_GENERATOR]
        # Warm every Rasa and the gateway up before anything is measured.
        warm = argparse.Namespace(duration=4.0, think=0.0, questions=args.questions)
        await measure("REST", 2 * servers, warm, settings, groups, target)
        await measure("WS", 2 * servers, warm, settings, groups, target)
        print(HEADER)
        runs: list[Run] = []

        async def one(mode: str, n: int, think: float) -> Run:
            if not await idle(groups):
                print("       (the stack was still busy after 90 s; measuring anyway)")
            spec = argparse.Namespace(duration=args.duration, think=think, questions=args.questions)
            run = await measure(mode, n, spec, settings, groups, target)
            runs.append(run)
            print_run(run, names, servers)
            return run

        gateway_cost = []
        for n in args.rest_levels:
            rest = await one("REST", n, args.think)
            ws = await one("WS", n, args.think)
            gateway_cost.append(
                {
                    "shoppers": n,
                    "rest_p50_ms": rest.pct(0.5),
                    "rest_p95_ms": rest.pct(0.95),
                    "ws_p50_ms": ws.pct(0.5),
                    "ws_p95_ms": ws.pct(0.95),
                    "added_p50_ms": ws.pct(0.5) - rest.pct(0.5),
                }
            )
        for n in args.levels:
            if n not in args.rest_levels:
                await one("WS", n, args.think)
        for n in args.closed:
            await one("WS", n, 0.0)
    found = saturation(runs, target.services, os.cpu_count() or 1)
    for g in gateway_cost:
        print(
            f"N={g['shoppers']:>3}: the gateway adds {g['added_p50_ms']:+.1f} ms at p50 "
            f"(target <= {TARGET_GATEWAY_MS:.0f})"
        )
    print(found["text"])
    return {
        "rasa_servers": servers,
        "stores": stores,
        "started_s": started_s,
        "runs": [r.to_json(names) for r in runs],
        "gateway_cost": gateway_cost,
        "analysis": found,
    }


async def main_async(args: argparse.Namespace) -> None:
    cores = os.cpu_count() or 1
    print(
        f"{cores} cores; {args.duration:g} s per run; each shopper asks {args.questions} "
        f"questions, {args.think:g} s ± 50 % apart (closed-loop runs: none), then leaves",
        flush=True,
    )
    configs = [await run_config(servers, args) for servers in args.rasa]
    write_json(
        args.json,
        {
            "duration_s": args.duration,
            "think_s": args.think,
            "questions_per_shopper": args.questions,
            "targets": {
                "msgs_per_s": TARGET_RATE,
                "p95_ms": TARGET_P95_MS,
                "gateway_added_p50_ms": TARGET_GATEWAY_MS,
            },
            "configs": configs,
        },
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rasa", type=int, nargs="+", default=[1, 2], choices=[1, 2])
    parser.add_argument("--levels", type=int, nargs="*", default=[10, 50, 100, 200, 500])
    parser.add_argument("--rest-levels", type=int, nargs="*", default=[10, 50])
    parser.add_argument("--closed", type=int, nargs="*", default=[2, 8, 32])
    parser.add_argument("--duration", type=float, default=30.0, help="seconds per run")
    parser.add_argument("--think", type=float, default=3.0, help="seconds between questions")
    parser.add_argument("--questions", type=int, default=4, help="questions per shopper")
    parser.add_argument(
        "--stores",
        choices=["postgres", "sqlite"],
        help="default: postgres (+ Redis locks) when two servers run, else sqlite",
    )
    add_json_option(parser)
    args = parser.parse_args()
    if args.stores == "sqlite" and max(args.rasa) > 1:
        parser.error("two Rasa servers need the shared stores: --stores postgres")
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
