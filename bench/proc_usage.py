"""CPU time and memory of the processes a benchmark runs, read from /proc.

A process is counted under a name when it is in the process group of one of the
supervised processes (each is its own session: the process with its children), when it
is the benchmark itself, when it is a PostgreSQL backend serving one of the benchmark's
databases (its title names the database), or the Redis server. Every process is
measured from the first sample it appears in, so a child started (or a backend
connected) during a run counts all of its time, and one that ended counts up to its
last sample.

For the supervised processes themselves (not their children) also their main thread's
time on a CPU and waiting for one (/proc/PID/schedstat): a Python server's event loop runs
there, so running + waiting near 100 % of the time is a loop that cannot keep up.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")
LOAD_GENERATOR = "load generator"
POSTGRES = "postgres"
REDIS = "redis"


@dataclass(frozen=True)
class Proc:
    comm: str
    pgid: int
    ticks: int  # user + system
    rss_pages: int


def read_procs() -> dict[int, Proc]:
    procs = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue  # ended while we looked
        comm = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        # fields counted after the name: pgrp is stat's 5th, utime/stime 14th/15th, rss 24th
        procs[int(entry)] = Proc(
            comm, int(fields[2]), int(fields[11]) + int(fields[12]), int(fields[21])
        )
    return procs


def main_thread_ns(pid: int) -> tuple[int, int]:
    """Nanoseconds the main thread of `pid` ran on a CPU and waited for one."""
    try:
        run, wait, _slices = Path(f"/proc/{pid}/schedstat").read_text().split()
    except (OSError, ValueError):
        return 0, 0
    return int(run), int(wait)


def machine_busy_ticks() -> int:
    """Ticks all cores spent not idle since boot (/proc/stat's first line)."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return sum(values[:8]) - idle


@dataclass
class Usage:
    """What one watched interval cost: CPU seconds and peak resident MB per name."""

    seconds: float = 0.0
    cpu_s: dict[str, float] = field(default_factory=dict)
    peak_mb: dict[str, float] = field(default_factory=dict)
    machine_cpu_s: float = 0.0  # every process on the machine, ours or not
    loop_run_s: dict[str, float] = field(default_factory=dict)  # main threads on a CPU
    loop_wait_s: dict[str, float] = field(default_factory=dict)  # ... waiting for one

    def cpu_pct(self, name: str) -> float:
        """Share of one core, in per cent."""
        return 100 * self.cpu_s.get(name, 0.0) / self.seconds if self.seconds else 0.0

    def loop_pct(self, name: str) -> tuple[float, float]:
        """Per cent of the time the main thread ran, and waited for a CPU."""
        if not self.seconds:
            return 0.0, 0.0
        run, wait = self.loop_run_s.get(name, 0.0), self.loop_wait_s.get(name, 0.0)
        return 100 * run / self.seconds, 100 * wait / self.seconds


class Watcher:
    """Samples /proc every `interval` seconds while `watch` runs."""

    def __init__(
        self,
        groups: dict[str, int],
        databases: list[str] | None = None,
        redis: bool = False,
        interval: float = 0.5,
    ) -> None:
        self.by_pgid = {pgid: name for name, pgid in groups.items()}
        self.leaders = {pgid: name for name, pgid in groups.items()} | {os.getpid(): LOAD_GENERATOR}
        self.databases = databases or []
        self.redis = redis
        self.interval = interval
        self._postgres: dict[int, bool] = {}  # backend pid -> serves one of our databases

    def name_of(self, pid: int, proc: Proc) -> str | None:
        if pid == os.getpid():
            return LOAD_GENERATOR
        if proc.pgid in self.by_pgid:
            return self.by_pgid[proc.pgid]
        if proc.comm == "postgres" and self.databases:
            if pid not in self._postgres:
                try:
                    title = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
                except OSError:
                    title = ""
                self._postgres[pid] = any(f" {db} " in title for db in self.databases)
            return POSTGRES if self._postgres[pid] else None
        if proc.comm == "redis-server" and self.redis:
            return REDIS
        return None

    async def watch(self, stop: asyncio.Event) -> Usage:
        first: dict[int, int] = {}
        last: dict[int, tuple[str, int]] = {}
        peak: dict[str, int] = {}
        loops0 = {pid: main_thread_ns(pid) for pid in self.leaders}
        began, busy0 = time.monotonic(), machine_busy_ticks()
        start = True
        while True:
            pages: dict[str, int] = {}
            for pid, proc in read_procs().items():
                name = self.name_of(pid, proc)
                if name is None:
                    continue
                # A process first seen after the start began during the run: all its time.
                first.setdefault(pid, proc.ticks if start else 0)
                last[pid] = (name, proc.ticks)
                pages[name] = pages.get(name, 0) + proc.rss_pages
            for name, n in pages.items():
                peak[name] = max(peak.get(name, 0), n)
            start = False
            if stop.is_set():
                break
            with contextlib.suppress(TimeoutError):  # the next sample is due
                await asyncio.wait_for(stop.wait(), self.interval)
        usage = Usage(
            seconds=time.monotonic() - began,
            machine_cpu_s=(machine_busy_ticks() - busy0) / CLK_TCK,
        )
        for pid, (name, ticks) in last.items():
            usage.cpu_s[name] = usage.cpu_s.get(name, 0.0) + (ticks - first[pid]) / CLK_TCK
        usage.peak_mb = {name: n * PAGE / 2**20 for name, n in peak.items()}
        for pid, name in self.leaders.items():
            (run0, wait0), (run, wait) = loops0[pid], main_thread_ns(pid)
            if run >= run0:  # else the process was restarted meanwhile: not comparable
                usage.loop_run_s[name] = (run - run0) / 1e9
                usage.loop_wait_s[name] = (wait - wait0) / 1e9
        return usage


async def idle(groups: dict[str, int], below_pct: float = 10.0, deadline: float = 90.0) -> bool:
    """Wait until the processes of `groups` together use less than `below_pct` of one core
    over a second (queued work from the last run has drained); False at the deadline."""
    watcher = Watcher(groups)
    until = time.monotonic() + deadline
    while time.monotonic() < until:
        stop = asyncio.Event()
        task = asyncio.create_task(watcher.watch(stop))
        await asyncio.sleep(1.0)
        stop.set()
        usage = await task
        busy = sum(usage.cpu_s.get(name, 0.0) for name in groups)
        if 100 * busy / usage.seconds < below_pct:
            return True
    return False
