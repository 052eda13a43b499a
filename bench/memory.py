"""Memory of one full set of the assistant's processes (issue 12: target <= 1.2 GB).

Starts the whole assistant as `make run` does (bot/stack.py's four processes under the
supervisor: order backend, action server, Rasa, gateway) on free ports with throwaway
SQLite databases and seeded demo orders, twice in the same run: first as it was started
before issue 12 (the action server as Sanic's manager process plus one worker, both
importing the actions and the FAQ engine: `--workers 1`; Rasa without the launcher's
memory fixes: RASA_MEMORY_FIXES=0), then as `make run` starts it now. Each time it warms
every process up through the gateway's WebSocket as the widget talks to it (FAQ questions
and an order-status flow with verification, so the FAQ engine, spaCy, Rasa's model and
the order backend's code are loaded), then prints every process and each of its children:

- PSS as the kernel counts it (/proc/PID/smaps_rollup): a page that n processes map
  counts 1/n in each. Processes outside the set count too: another Rasa on the machine
  (other tests) takes its share of TensorFlow's pages and makes ours look smaller;
- PSS among the set's processes only (from /proc/PID/pagemap, needs root): the same split
  over the set alone, so its total is the set's resident pages each counted once, whatever
  else runs -- the number to hold against the target;
- USS (pages only that process maps) and RSS (shared pages in full, in every process).

Then the totals side by side with the target. Not counted: the supervisor (this script
plays `bot run`'s part).

Usage: .venv/bin/python bench/memory.py [--only old|now]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from websockets.sync.client import ClientConnection, connect

from bot import stack
from bot.rasa_model import model_path
from bot.settings import PROJECT_ROOT, Settings
from bot.supervisor import ProcessSpec

TARGET_MB = 1200  # 1.2 GB, in MB of 10^6 bytes (the stricter reading)
MB = 1_000_000
PAGE = os.sysconf("SC_PAGE_SIZE")
TURN_TIMEOUT = 120.0  # seconds; the first turn loads models on two shared cores

# Conversations of (what the shopper types, a piece of text the bot's reply must hold): the
# warm-up fails loudly rather than measure processes that never loaded their models.
WARM_UP = [
    [
        ("how long does shipping take?", ""),
        ("can i still cancel my ring?", ""),
        ("where is my order?", "order number"),
        ("KNT-1002", ""),
        ("ben@example.com", "FedEx"),
        ("do you resize rings?", ""),
    ],
    [("has order KNT-1001 shipped? my email is ava@example.com", "KNT-1001")],
]


@dataclass
class Proc:
    pid: int
    what: str
    pss: int  # bytes, as the kernel counts it; RSS when PSS cannot be read
    uss: int  # bytes only this process maps (private); 0 when unknown
    rss: int
    in_set: int | None = None  # PSS among the set's processes only (None: no pagemap)


@dataclass
class Measured:
    label: str
    source: str  # "PSS" or "RSS"
    # supervised process name -> its main process first, then the others of its group
    processes: dict[str, list[Proc]] = field(default_factory=dict)
    # other processes on the machine that map TensorFlow (PSS gives them a share of it)
    tensorflow_elsewhere: list[int] = field(default_factory=list)

    @property
    def procs(self) -> list[Proc]:
        return [p for procs in self.processes.values() for p in procs]

    @property
    def total(self) -> int:
        return sum(p.pss for p in self.procs)

    @property
    def total_in_set(self) -> int | None:
        shares = [p.in_set for p in self.procs]
        return None if None in shares else sum(s or 0 for s in shares)

    def of(self, name: str, in_set: bool = False) -> int:
        procs = self.processes.get(name, [])
        return sum((p.in_set or 0) if in_set else p.pss for p in procs)


# --- /proc ---------------------------------------------------------------------------------
def rollup(pid: int) -> tuple[int, int, int, str]:
    """PSS, USS and RSS of a process in bytes, from smaps_rollup; RSS from status (and 0
    for USS) where that cannot be read, with "RSS" as the source."""
    try:
        fields = {
            line.split(":")[0]: int(line.split()[1]) * 1024
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]
        }
        private = fields["Private_Clean"] + fields["Private_Dirty"]
        return fields["Pss"], private, fields["Rss"], "PSS"
    except (OSError, KeyError):
        pass
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1]) * 1024
            return rss, 0, rss, "RSS"
    return 0, 0, 0, "RSS"


def resident_frames(pid: int) -> np.ndarray | None:
    """The physical page frames a process has resident, each once (/proc/PID/pagemap;
    without root the frame numbers read as 0, and this returns None)."""
    present, pfn_mask = np.uint64(1 << 63), np.uint64((1 << 55) - 1)
    chunks = []
    try:
        maps = Path(f"/proc/{pid}/maps").read_text().splitlines()
        with open(f"/proc/{pid}/pagemap", "rb") as pagemap:
            for line in maps:
                start, end = (int(x, 16) for x in line.split()[0].split("-"))
                if start >= 1 << 47:  # [vsyscall]: not in pagemap
                    continue
                pagemap.seek(start // PAGE * 8)
                entries = np.frombuffer(pagemap.read((end - start) // PAGE * 8), np.uint64)
                chunks.append(entries[(entries & present) != 0] & pfn_mask)
    except OSError:
        return None
    frames = np.unique(np.concatenate(chunks)) if chunks else np.zeros(0, np.uint64)
    return None if frames.size and not frames.any() else frames


def share_in_set(frames: dict[int, np.ndarray]) -> dict[int, int]:
    """Each process's PSS counted among these processes only: a page that n of them map
    counts 1/n in each, whatever runs beside them. The shares add up to the set's
    resident pages, each counted once."""
    every = np.concatenate(list(frames.values()))
    unique, counts = np.unique(every, return_counts=True)
    return {
        pid: round(float((1.0 / counts[np.searchsorted(unique, own)]).sum()) * PAGE)
        for pid, own in frames.items()
    }


def maps_tensorflow(pid: int) -> bool:
    try:
        return "libtensorflow" in Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return False


def group_members(pgid: int) -> list[int]:
    """Every live process of a process group (a supervised process and what it started:
    the supervisor stops them together)."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(entry.name))
    return sorted(members, key=lambda pid: (pid != pgid, pid))


def describe(pid: int) -> str:
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return "?"
    text = " ".join(a.decode(errors="replace") for a in argv if a)
    if "resource_tracker" in text:
        return "multiprocessing's resource tracker"
    if "spawn_main" in text:
        return "a process spawned by multiprocessing (Sanic)"
    text = text.replace(str(PROJECT_ROOT) + "/", "")
    return text if len(text) <= 52 else text[:49] + "..."


def measure(label: str, groups: dict[str, int]) -> Measured:
    result = Measured(label, "PSS")
    frames: dict[int, np.ndarray] = {}
    for name, pgid in groups.items():
        procs = []
        for pid in group_members(pgid):
            pss, uss, rss, source = rollup(pid)
            if source != "PSS":
                result.source = "RSS"
            procs.append(Proc(pid, describe(pid), pss, uss, rss))
            own = resident_frames(pid)
            if own is not None:
                frames[pid] = own
        result.processes[name] = procs
    if len(frames) == len(result.procs):
        shares = share_in_set(frames)
        for p in result.procs:
            p.in_set = shares[p.pid]
    ours = {p.pid for p in result.procs}
    result.tensorflow_elsewhere = [
        int(e.name)
        for e in Path("/proc").iterdir()
        if e.name.isdigit() and int(e.name) not in ours and maps_tensorflow(int(e.name))
    ]
    return result


# --- warm-up through the gateway ------------------------------------------------------------
def recv(ws: ClientConnection, deadline: float) -> dict[str, Any]:
    frame: dict[str, Any] = json.loads(ws.recv(timeout=max(0.01, deadline - time.monotonic())))
    return frame


def turn(ws: ClientConnection, text: str) -> str:
    """Send one shopper message, return the bot's text of that turn (until typing goes off)."""
    msg_id = uuid.uuid4().hex
    ws.send(json.dumps({"type": "message", "id": msg_id, "text": text}))
    deadline = time.monotonic() + TURN_TIMEOUT
    said: list[str] = []
    while True:
        frame = recv(ws, deadline)
        if frame.get("type") == "error":
            raise RuntimeError(f"the gateway refused {text!r}: {frame}")
        message = frame.get("message") or {}
        if frame.get("type") == "message" and message.get("role") == "bot":
            if (message.get("custom") or {}).get("failed"):
                raise RuntimeError(f"no answer to {text!r}: see the logs")
            said.append(message.get("text") or "")
        if frame.get("type") == "typing" and frame.get("on") is False and said:
            return "\n".join(said)


def warm_up(settings: Settings) -> None:
    gateway = f"{settings.gateway_host}:{settings.gateway_port}"
    origin: Any = f"http://{gateway}"  # websockets types it as its Origin (a str)
    for conversation in WARM_UP:
        ws = connect(f"ws://{gateway}/ws", origin=origin, open_timeout=30)
        with ws:
            ws.send(json.dumps({"type": "hello", "token": None}))
            frame = recv(ws, time.monotonic() + 30)
            if frame.get("type") != "session":
                raise RuntimeError(f"the gateway did not open a session: {frame}")
            for text, expected in conversation:
                reply = turn(ws, text)
                if expected not in reply:
                    raise RuntimeError(f"{text!r} got {reply!r}, which lacks {expected!r}")


# --- one full set of processes ---------------------------------------------------------------
def as_before(spec: ProcessSpec) -> ProcessSpec:
    """A process as it was started before issue 12: the action server as Sanic's manager
    process plus a worker, Rasa without the launcher's memory fixes (jax kept out, heap
    trimmed after loading: rasa_runtime/launch.py)."""
    if spec.name == "actions":
        spec.argv = [*spec.argv, "--workers", "1"]
    if spec.name == "rasa":
        spec.env = {**spec.env, "RASA_MEMORY_FIXES": "0"}
    return spec


def run_set(label: str, old: bool) -> Measured:
    workdir = Path(tempfile.mkdtemp(prefix="knt-memory-"))
    try:
        settings = stack.on_free_ports(Settings(), workdir)
        model = model_path(settings.rasa_model_dir)
        if not model.is_file():
            raise SystemExit(f"no trained Rasa model {model.name}: run `make train`")
        specs = stack.everything(settings, model)
        if old:
            specs = [as_before(s) for s in specs]
        stack.seed_demo_orders(settings)
        print(f"\n{label}: starting the assistant on free ports in {workdir} ...", flush=True)
        log_dir, state = workdir / "logs", workdir / "supervisor.json"
        with stack.supervisor(settings, log_dir, state) as sup:
            sup.start(specs, on_status=lambda line: print(f"  {line}", flush=True))
            started = time.monotonic()
            warm_up(settings)
            print(f"  warmed up in {time.monotonic() - started:.1f} s", flush=True)
            if sup.dead():
                raise SystemExit(f"died during the warm-up: {sup.dead()} (logs in {log_dir})")
            return measure(label, {name: proc.pid for name, proc in sup.procs.items()})
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


# --- report ----------------------------------------------------------------------------------
def mb(n: int | None) -> str:
    return f"{n / MB:>7.0f}" if n is not None else f"{'-':>7}"


def report(runs: list[Measured]) -> None:
    source = "PSS" if all(r.source == "PSS" for r in runs) else "RSS (PSS unavailable)"
    print(
        f"\nMemory after the warm-up, MB (10^6 bytes): {source} as the kernel counts it "
        "(/proc/PID/smaps_rollup), PSS among the set's processes only (/proc/PID/pagemap), "
        "USS (pages only that process maps) and RSS (shared pages in full, in each)."
    )
    for r in runs:
        print(f"\n{r.label}")
        print(f"  {'process':<58}{source:>7} {'in set':>7} {'USS':>7} {'RSS':>7}")
        for name, procs in r.processes.items():
            for i, p in enumerate(procs):
                head = f"{name:<8}" if i == 0 else f"{'':<8}  + child"
                line = f"  {head} pid {p.pid:<7} {p.what}"
                print(f"{line[:60]:<60}{mb(p.pss)} {mb(p.in_set)} {mb(p.uss)} {mb(p.rss)}")
            if len(procs) > 1:
                label = f"= {name} with its children"
                print(f"  {'':<8}  {label:<48}{mb(r.of(name))} {mb(r.of(name, in_set=True))}")
        print(f"  {'total':<58}{mb(r.total)} {mb(r.total_in_set)}")
        if r.tensorflow_elsewhere:
            print(
                f"  ({len(r.tensorflow_elsewhere)} other process(es) on this machine map "
                f"TensorFlow too, pids {r.tensorflow_elsewhere[:5]}: the kernel's PSS gives "
                "them a share of its pages, so its total is lower than with one set alone)"
            )

    names = list(dict.fromkeys(n for r in runs for n in r.processes))
    heads = [r.label.split(":")[0] for r in runs]
    print(f"\nEach process with its children, MB: {source} (kernel) and PSS in the set")
    print(f"  {'':<10}" + "".join(f"{h + ' ' + source:>12}{h + ' in set':>14}" for h in heads))
    for name in names:
        cells = "".join(f"{mb(r.of(name)):>12}{mb(r.of(name, in_set=True)):>14}" for r in runs)
        print(f"  {name:<10}{cells}")
    cells = "".join(f"{mb(r.total):>12}{mb(r.total_in_set):>14}" for r in runs)
    print(f"  {'total':<10}{cells}   target <= {TARGET_MB}")
    for r in runs:
        totals = [(f"{source} (kernel)", r.total), ("PSS in the set", r.total_in_set)]
        verdicts = ", ".join(
            f"{what} {n / 1e9:.2f} GB ({'meets' if n <= TARGET_MB * MB else 'misses'})"
            for what, n in totals
            if n is not None
        )
        print(f"  {r.label}: {verdicts} the target of 1.2 GB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--only", choices=["old", "now"], help="measure one set only (default: both)"
    )
    args = parser.parse_args()
    runs = []
    if args.only in (None, "old"):
        runs.append(run_set("old: as started before issue 12", old=True))
    if args.only in (None, "now"):
        runs.append(run_set("now: as `make run` starts it now", old=False))
    report(runs)


if __name__ == "__main__":
    main()
