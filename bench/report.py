"""`make bench`: runs every benchmark, then writes bench/report.md and bench/report.json.

Each bench runs as its own process (with `--json` where it has it) and prints as it goes;
the report then puts every figure beside its baseline from the same run and its target
(met / not met), with the machine's facts (cores, memory, CPU model, date, commit) and
how busy the machine was with other work meanwhile. Benches that print only text
(bench/turn_cost.py, bench/memory.py) are included verbatim. A bench that fails is
reported as failed (with the end of its output) and the others still run; the exit
status is then 1.

Usage: .venv/bin/python bench/report.py [--quick] [--only NAME ...] [--skip NAME ...]
                                        [--out bench/report.md] [--render-only] [--merge]
(`--merge --only load`: run the load bench again into the existing report, e.g. on a
quieter machine; the report names the re-run benches with their own date and commit.)
`--quick`: short runs and few levels, to check the report end to end (its numbers are
not the benchmark's; the report says so at the top).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from proc_usage import CLK_TCK, machine_busy_ticks
from report_markdown import render

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"


@dataclass(frozen=True)
class Bench:
    name: str
    script: str
    full: list[str]  # arguments of the real run
    quick: list[str]  # arguments of a --quick run
    json: bool = True  # takes --json PATH
    timeout_min: float = 60


BENCHES = [
    Bench("faq_eval", "faq_eval.py", [], []),
    Bench("faq_latency", "faq_latency.py", [], ["--rounds", "1"]),
    Bench("nlu_cv", "nlu_cv.py", [], ["--folds", "2"]),
    Bench("rasa_e2e", "rasa_e2e.py", [], ["--limit", "20"]),
    Bench(
        "load",
        "load.py",
        # 20 s per run, not load.py's 30: 2 x 10 runs, and the whole report in ~45 min.
        ["--rasa", "1", "2", "--levels", "10", "50", "100", "200", "500", "--duration", "20"],
        [
            "--rasa",
            "1",
            "2",
            "--levels",
            "10",
            "50",
            "--rest-levels",
            "10",
            "--closed",
            "4",
            "--duration",
            "6",
        ],
        timeout_min=90,
    ),
    Bench("tracker_store", "tracker_store.py", [], ["--conversations", "3"]),
    Bench("turn_cost", "turn_cost.py", [], ["--conversations", "4", "--turns", "10"], json=False),
    Bench("handoff_latency", "handoff_latency.py", [], ["--levels", "0", "10", "--rounds", "5"]),
    Bench("staff_suggest", "staff_suggest.py", [], ["--rounds", "1"]),
    Bench("memory", "memory.py", [], [], json=False),  # someone else's: text only
    Bench("train_time", "train_time.py", [], []),
]


def machine() -> dict[str, Any]:
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = next(
        (line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if "model name" in line),
        platform.processor() or "unknown",
    )
    meminfo = Path("/proc/meminfo").read_text().split()
    mem_gb = int(meminfo[meminfo.index("MemTotal:") + 1]) / 2**20
    commit = git("rev-parse", "HEAD")
    changed = git("status", "--porcelain", "--untracked-files=no")
    return {
        "cores": os.cpu_count(),
        "cpu_model": model,
        "memory_gb": round(mem_gb, 1),
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": commit,
        "uncommitted_files": len(changed.splitlines()),
        "python": platform.python_version(),
        "loadavg_at_start": os.getloadavg(),
    }


def git(*args: str) -> str:
    out = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
    return out.stdout.strip()


def accepts_json(script: Path) -> bool:
    """Whether a bench someone else owns has grown a --json option (its --help says so)."""
    out = subprocess.run(
        [sys.executable, str(script), "--help"], capture_output=True, text=True, timeout=120
    )
    return "--json" in out.stdout


def run_bench(bench: Bench, quick: bool, scratch: Path) -> dict[str, Any]:
    """One bench as a subprocess, its output echoed and kept; its JSON when it wrote one."""
    script = BENCH / bench.script
    result: dict[str, Any] = {"name": bench.name, "script": f"bench/{bench.script}"}
    if not script.is_file():
        result.update(status="missing", output="")
        print(f"== {bench.name}: bench/{bench.script} is not there: skipped", flush=True)
        return result
    argv = [sys.executable, str(script), *(bench.quick if quick else bench.full)]
    json_path = scratch / f"{bench.name}.json"
    if bench.json or accepts_json(script):
        argv += ["--json", str(json_path)]
    result["command"] = " ".join(["python", f"bench/{bench.script}", *argv[2:]]).replace(
        str(json_path), "PATH"
    )
    print(f"\n== {bench.name}: {result['command']}", flush=True)
    env = {**os.environ, "ENVIRONMENT": os.environ.get("ENVIRONMENT", "local")}
    env |= {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}
    busy0, ours0, began = machine_busy_ticks(), children_cpu_s(), time.monotonic()
    lines: list[str] = []
    # Its own session, so that a bench that overruns is stopped with everything it started.
    proc = subprocess.Popen(
        argv,
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    reader = threading.Thread(target=echo, args=(proc, bench.name, lines), daemon=True)
    reader.start()
    timed_out = False
    try:
        code = proc.wait(timeout=bench.timeout_min * 60)
    except subprocess.TimeoutExpired:
        timed_out = True
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            code = proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            code = proc.wait()
    reader.join(timeout=10)
    seconds = time.monotonic() - began
    machine_s = (machine_busy_ticks() - busy0) / CLK_TCK
    ours_s = children_cpu_s() - ours0
    result.update(
        status="timed out" if timed_out else ("ok" if code == 0 else f"failed (exit {code})"),
        seconds=seconds,
        output="\n".join(lines),
        # CPU on the whole machine while it ran, and of this bench's own processes (those
        # waited for: PostgreSQL's and Redis's work for it counts as the machine's).
        machine_cpu_pct=100 * machine_s / seconds if seconds else 0.0,
        own_cpu_pct=100 * ours_s / seconds if seconds else 0.0,
    )
    if json_path.is_file():
        result["figures"] = json.loads(json_path.read_text())
    return result


def echo(proc: subprocess.Popen[str], name: str, lines: list[str]) -> None:
    """Print a bench's output as it comes, and keep it."""
    assert proc.stdout is not None
    for line in proc.stdout:
        print(f"  {name} | {line}", end="", flush=True)
        lines.append(line.rstrip("\n"))


def children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short runs, few levels")
    names = [b.name for b in BENCHES]
    parser.add_argument("--only", nargs="+", choices=names, metavar="NAME", help=str(names))
    parser.add_argument("--skip", nargs="+", choices=names, default=[], metavar="NAME")
    parser.add_argument("--out", type=Path, default=BENCH / "report.md")
    parser.add_argument(
        "--merge",
        action="store_true",
        help="re-run the chosen benches (--only) into the existing report, keeping the others",
    )
    parser.add_argument(
        "--render-only",
        action="store_true",
        help="run nothing: write the .md again from the .json beside it (same figures)",
    )
    args = parser.parse_args()
    if args.render_only:
        data = json.loads(args.out.with_suffix(".json").read_text())
        args.out.write_text(render(data))
        print(f"wrote {args.out} from {args.out.with_suffix('.json')}")
        return 0
    chosen = [b for b in BENCHES if (not args.only or b.name in args.only)]
    chosen = [b for b in chosen if b.name not in args.skip]
    facts = machine()
    started = time.monotonic()
    results = []
    with tempfile.TemporaryDirectory(prefix="knt-bench-") as tmp:
        for bench in chosen:
            results.append(run_bench(bench, args.quick, Path(tmp)))
    if args.merge:
        # The earlier run's figures stay; the re-run benches say when and where they ran.
        report = json.loads(args.out.with_suffix(".json").read_text())
        for result in results:
            result["rerun"] = {"date": facts["date"], "commit": facts["commit"]}
            report["benches"][result["name"]] = result
    else:
        report = {
            "machine": facts,
            "quick": args.quick,
            "benches_left_out": [b.name for b in BENCHES if b not in chosen],
            "seconds": time.monotonic() - started,
            "benches": {r["name"]: r for r in results},
        }
    args.out.write_text(render(report))
    args.out.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nwrote {args.out} and {args.out.with_suffix('.json')}")
    failed = [r["name"] for r in results if r["status"] not in ("ok", "missing")]
    if failed:
        print(f"failed: {', '.join(failed)} (see the report)", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
