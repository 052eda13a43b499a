"""Concurrent shoppers: through the gateway's WebSocket vs straight to Rasa's REST channel.

Starts the whole assistant on free ports (throwaway databases, seeded demo orders), then
for each level N (default 10, 50, 100) runs N simulated shoppers for a fixed time twice:
first posting to Rasa's REST channel directly, then through the gateway's `/ws` exactly
as the widget does (hello, message with an id, reply complete when "typing" goes off).
Each of the N slots holds one shopper at a time: the shopper opens the chat, asks
`--questions` of the store's policy questions (the corpus questions, shuffled), waiting
`--think` seconds (± 50 %) between a reply and the next question, as a person reading
and typing does, then leaves and a new shopper takes the slot (a new conversation, as on
a real store). Shoppers arrive spread over the first 1.5 think times. `--think 0` makes it a
closed-loop throughput test.

Prints message-to-reply latency p50/p95/p99, errors, throughput, and CPU and peak memory
per process (each process with its children) for every run, then the gateway's cost at
p50 over direct REST. Targets: gateway adds <= 10 ms at p50; 50 shoppers with no errors
and p95 <= 1 s.

Usage: .venv/bin/python bench/load.py [--levels 10 50 100] [--duration 30] [--think 3]
                                      [--questions 4]
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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import connect

from bot import stack
from bot.faq.corpus import load_corpus
from bot.settings import Settings

CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


@dataclass
class Run:
    mode: str
    shoppers: int
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0
    usage: dict[str, tuple[float, float]] = field(default_factory=dict)  # cpu %, peak MB

    def pct(self, q: float) -> float:
        xs = sorted(self.latencies)
        return xs[min(len(xs) - 1, int(q * len(xs)))] * 1000 if xs else float("nan")


# --- per-process CPU and memory, from /proc ----------------------------------------------
def _group_stats() -> dict[int, tuple[int, int]]:
    """CPU ticks (user+system) and resident pages per process group, in one pass over /proc."""
    stats: dict[int, tuple[int, int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        pgid = int(fields[2])  # field 5 (pgrp), counted after the name
        ticks, pages = stats.get(pgid, (0, 0))
        stats[pgid] = (ticks + int(fields[11]) + int(fields[12]), pages + int(fields[21]))
    return stats


class Usage:
    """Samples the supervised processes (and this bench) while a run goes on."""

    def __init__(self, groups: dict[str, int]) -> None:
        self.groups = groups
        self.peak: dict[str, int] = {}
        self.start: dict[str, int] = {}
        self.result: dict[str, tuple[float, float]] = {}  # cpu %, peak MB, after watch()

    def _sample(self) -> dict[str, tuple[int, int]]:
        stats = _group_stats()
        return {name: stats.get(pgid, (0, 0)) for name, pgid in self.groups.items()}

    async def watch(self, stop: asyncio.Event) -> None:
        self.start = {n: t for n, (t, _) in self._sample().items()}
        began = time.monotonic()
        while not stop.is_set():
            for name, (_, pages) in self._sample().items():
                self.peak[name] = max(self.peak.get(name, 0), pages)
            await asyncio.sleep(0.5)
        elapsed = time.monotonic() - began
        self.result = {
            name: (
                100 * (ticks - self.start[name]) / CLK_TCK / elapsed,
                self.peak.get(name, pages) * PAGE / 2**20,
            )
            for name, (ticks, pages) in self._sample().items()
        }


# --- shoppers ----------------------------------------------------------------------------
async def rest_shopper(
    url: str, questions: list[str], run: Run, until: float, think: float, per_shopper: int
) -> None:
    await _arrive(think)
    async with httpx.AsyncClient(timeout=30) as http:
        while time.monotonic() < until:
            sender = f"load-{uuid.uuid4().hex[:10]}"  # a new shopper in this slot
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
) -> None:
    await _arrive(think)
    while time.monotonic() < until:
        try:
            async with connect(url, origin=origin) as ws:  # type: ignore[arg-type]
                await ws.send(json.dumps({"type": "hello", "token": None}))
                assert json.loads(await ws.recv())["type"] == "session"
                for q in random.sample(questions, per_shopper):
                    if time.monotonic() >= until:
                        return
                    await _ask(ws, q, run)
                    await _think(think)
        except (OSError, TimeoutError, AssertionError) as exc:
            run.errors.append(type(exc).__name__)


async def _ask(ws: Any, question: str, run: Run) -> None:
    """One question; the reply is complete when "typing" goes off."""
    started = time.perf_counter()
    await ws.send(json.dumps({"type": "message", "id": uuid.uuid4().hex, "text": question}))
    got_reply = False
    while True:
        frame = json.loads(await asyncio.wait_for(ws.recv(), 30))
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


async def measure(
    mode: str,
    n: int,
    args: argparse.Namespace,
    settings: Settings,
    groups: dict[str, int],
) -> Run:
    duration, think, per_shopper = args.duration, args.think, args.questions
    questions = [e.question for e in load_corpus(settings.faq_corpus_dir).entries]
    run = Run(mode, n)
    until = time.monotonic() + duration
    gateway = f"{settings.gateway_host}:{settings.gateway_port}"
    if mode == "REST":
        url = f"{settings.rasa_url}/webhooks/rest/webhook"
        shoppers = [rest_shopper(url, questions, run, until, think, per_shopper) for _ in range(n)]
    else:
        origin = f"http://{gateway}"
        shoppers = [
            ws_shopper(f"ws://{gateway}/ws", origin, questions, run, until, think, per_shopper)
            for _ in range(n)
        ]
    usage = Usage(groups)
    stop = asyncio.Event()
    watcher = asyncio.create_task(usage.watch(stop))
    started = time.monotonic()
    await asyncio.gather(*shoppers)
    run.seconds = time.monotonic() - started
    stop.set()
    await watcher
    run.usage = usage.result
    return run


def report(runs: list[Run], names: list[str]) -> None:
    head = "  ".join(f"{n:>15}" for n in names)
    print(
        f"{'mode':<5}{'N':>4}{'replies':>8}{'err':>5}{'p50 ms':>8}{'p95 ms':>8}{'p99 ms':>8}"
        f"{'msg/s':>7}   cpu % / peak MB: {head}"
    )
    for r in runs:
        cells = "  ".join(
            f"{r.usage[n][0]:>6.0f} /{r.usage[n][1]:>6.0f}" if n in r.usage else f"{'-':>15}"
            for n in names
        )
        print(
            f"{r.mode:<5}{r.shoppers:>4}{len(r.latencies):>8}{len(r.errors):>5}"
            f"{r.pct(0.5):>8.0f}{r.pct(0.95):>8.0f}{r.pct(0.99):>8.0f}"
            f"{len(r.latencies) / r.seconds:>7.1f}   {cells}"
        )
        if r.errors:
            print(f"      errors: {dict((e, r.errors.count(e)) for e in set(r.errors))}")


def bench_settings(workdir: Path, **overrides: Any) -> Settings:
    """The assistant on free ports in `workdir`, with the limits a load test needs."""
    return stack.on_free_ports(Settings(), workdir).model_copy(
        update={
            # Every simulated shopper comes from 127.0.0.1: lift the per-IP limit, keep
            # the per-session one (a shopper here sends far less than its burst).
            "gateway_ip_rate": 1e6,
            "gateway_ip_burst": 1_000_000,
            "gateway_session_rate": 100.0,
            "gateway_session_burst": 100,
        }
        | overrides
    )


async def main_async(args: argparse.Namespace) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="knt-load-"))
    settings = bench_settings(workdir)
    print(f"starting the assistant on free ports (work dir {workdir}) ...", flush=True)
    with stack.throwaway(settings, workdir) as sup:
        groups = {name: proc.pid for name, proc in sup.procs.items()} | {"bench": os.getpgrp()}
        names = list(groups)
        warmup = argparse.Namespace(duration=3.0, think=0.0, questions=args.questions)
        warm = await measure("REST", 2, warmup, settings, groups)
        await measure("WS", 2, warmup, settings, groups)
        print(
            f"warmed up ({len(warm.latencies)} replies). {args.duration:.0f} s per run; each "
            f"shopper asks {args.questions} questions, {args.think:g} s ± 50 % apart, then "
            f"leaves; {os.cpu_count()} cores\n"
        )
        runs = []
        for n in args.levels:
            for mode in ("REST", "WS"):
                runs.append(await measure(mode, n, args, settings, groups))
                report(runs[-1:], names)
        print()
        report(runs, names)
        print()
        for n in args.levels:
            rest, ws = (r for r in runs if r.shoppers == n)
            extra = ws.pct(0.5) - rest.pct(0.5)
            print(
                f"N={n:>3}: gateway adds {extra:+.1f} ms at p50 (target <= 10), "
                f"p95 {ws.pct(0.95):.0f} ms, errors {len(ws.errors)}"
                + ("  (target at N=50: no errors, p95 <= 1000 ms)" if n == 50 else "")
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--levels", type=int, nargs="+", default=[10, 50, 100])
    parser.add_argument("--duration", type=float, default=30.0, help="seconds per run")
    parser.add_argument("--think", type=float, default=3.0, help="seconds between questions")
    parser.add_argument("--questions", type=int, default=4, help="questions per shopper")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
