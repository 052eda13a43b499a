"""`make bench`'s report (bench/report.py): a real bench run into bench/report.md's shape,
a failed or absent bench reported as such, and the CPU accounting load.py relies on."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.settings import PROJECT_ROOT

BENCH = PROJECT_ROOT / "bench"
sys.path.insert(0, str(BENCH))

from proc_usage import Watcher  # noqa: E402
from report_markdown import render  # noqa: E402


@pytest.mark.slow
def test_a_real_bench_becomes_a_section_beside_its_baselines_and_targets(tmp_path: Path) -> None:
    out = tmp_path / "report.md"
    subprocess.run(
        [sys.executable, str(BENCH / "report.py"), "--only", "faq_eval", "--out", str(out)],
        cwd=PROJECT_ROOT,
        check=True,
        capture_output=True,
        timeout=900,
    )
    md = out.read_text()
    data = json.loads(out.with_suffix(".json").read_text())
    assert f"**{os.cpu_count()} cores**" in md
    assert data["machine"]["cores"] == os.cpu_count()
    assert (
        data["machine"]["commit"]
        in subprocess.run(
            ["git", "log", "--format=%H"], cwd=PROJECT_ROOT, capture_output=True, text=True
        ).stdout
    )
    systems = data["benches"]["faq_eval"]["figures"]["systems"]
    assert [s["name"].split(":")[0] for s in systems] == ["engine", "baseline", "baseline"]
    # The engine's row in the targets table, with the best baseline beside it and a verdict.
    test = systems[0]["held_out"]["test"]
    best_baseline = max(s["held_out"]["test"]["overall"] for s in systems[1:])
    row = next(line for line in md.splitlines() if line.startswith("| FAQ held-out `test`"))
    assert f"{test['top1']:.3f} / {test['overall']:.3f}" in row
    assert f"best baseline overall {best_baseline:.3f}" in row
    assert row.endswith("| met |") or row.endswith("| **not met** |")
    # What was not run says so instead of showing numbers.
    assert "no load figures" in md
    assert "QUICK RUN" not in md

    # --merge runs a bench again into that report: the others stay, the new run is named.
    kept = {**data["benches"]["faq_eval"], "name": "memory", "status": "ok", "output": "kept"}
    data["benches"]["memory"] = kept
    out.with_suffix(".json").write_text(json.dumps(data))
    subprocess.run(
        [
            sys.executable,
            str(BENCH / "report.py"),
            "--merge",
            "--only",
            "faq_eval",
            "--out",
            str(out),
        ],
        cwd=PROJECT_ROOT,
        check=True,
        capture_output=True,
        timeout=900,
    )
    merged = json.loads(out.with_suffix(".json").read_text())
    assert merged["machine"] == data["machine"]
    assert merged["benches"]["memory"] == kept
    assert merged["benches"]["faq_eval"]["rerun"]["commit"] == data["machine"]["commit"]
    assert "Run again later into this report" in out.read_text()


def test_a_failed_or_absent_bench_is_reported_with_the_end_of_its_output() -> None:
    bench = {
        "script": "bench/load.py",
        "status": "failed (exit 1)",
        "output": "starting ...\nSystemExit: PostgreSQL did not answer",
        "seconds": 3.0,
        "machine_cpu_pct": 50.0,
        "own_cpu_pct": 40.0,
    }
    md = render(
        {
            "machine": {
                "cores": 2,
                "cpu_model": "test CPU",
                "memory_gb": 4.0,
                "date": "2026-01-01 00:00 UTC",
                "commit": "0" * 40,
                "uncommitted_files": 0,
                "python": "3.11",
                "loadavg_at_start": [0.0, 0.0, 0.0],
            },
            "quick": True,
            "benches_left_out": [],
            "seconds": 60.0,
            "benches": {
                "load": {"name": "load", **bench},
                "memory": {"name": "memory", "script": "bench/memory.py", "status": "missing"},
            },
        }
    )
    assert "QUICK RUN" in md
    assert "_bench/load.py failed (exit 1); the end of its output:_" in md
    assert "SystemExit: PostgreSQL did not answer" in md
    assert "_bench/memory.py is not in the repository: no figures._" in md
    assert "| load | `bench/load.py` | failed (exit 1) |" in md


def test_the_watcher_counts_a_process_group_s_cpu_time() -> None:
    # A child in its own session (as the supervisor starts each server) that spends 0.6 s
    # of CPU, however busy the machine is, then sleeps until stopped.
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import time\nwhile time.process_time() < 0.6: pass\nprint('done', flush=True)\n"
            "time.sleep(600)",
        ],
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:

        async def watched() -> float:
            stop = asyncio.Event()
            task = asyncio.create_task(Watcher({"child": child.pid}).watch(stop))
            assert child.stdout is not None
            await asyncio.to_thread(child.stdout.readline)  # "done": its CPU is spent
            stop.set()
            usage = await task
            return usage.cpu_s["child"]

        seen = asyncio.run(watched())
        # Interpreter start-up before the first sample is not counted; ticks are 10 ms.
        assert 0.3 <= seen <= 1.5, seen
    finally:
        child.kill()
        child.wait()
