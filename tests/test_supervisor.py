"""The process supervisor behind `make run`: readiness, refusal of taken ports, restarts
with a crash limit, the state file, and that however it ends (Ctrl-C, SIGTERM, SIGHUP,
SIGKILL) no child outlives it. tests/test_supervisor_signals.py does the same to `bot run`
with the whole assistant."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import httpx
import pytest

from bot.settings import PROJECT_ROOT
from bot.supervisor import ProcessSpec, StartupError, Supervisor, free_port, port_in_use


def http_server(name: str, port: int) -> ProcessSpec:
    return ProcessSpec(
        name=name,
        argv=[sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
        host="127.0.0.1",
        port=port,
        ready_url=f"http://127.0.0.1:{port}/",
        ready_timeout=20,
    )


def alive(pid: int) -> bool:
    """Running (a zombie, dead but not yet reaped by whoever adopted it, is not)."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return raw[raw.rindex(")") + 2] not in "ZX"


def test_starts_waits_for_ready_and_stops_all(tmp_path):
    ports = [free_port(), free_port()]
    with Supervisor(tmp_path, log_dir=tmp_path / "logs", echo=False) as sup:
        sup.start(
            [http_server("one", ports[0]), http_server("two", ports[1])], on_status=lambda _: None
        )
        assert all(port_in_use("127.0.0.1", p) for p in ports)
        pids = [p.pid for p in sup.procs.values()]
    time.sleep(0.2)
    assert not any(alive(pid) for pid in pids)
    assert (tmp_path / "logs" / "one.log").exists()


def test_refuses_a_taken_port_naming_the_process(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with Supervisor(tmp_path, echo=False) as sup, pytest.raises(StartupError) as err:
            sup.start([http_server("gateway", port)], on_status=lambda _: None)
        assert f"gateway needs 127.0.0.1:{port}" in str(err.value)
        assert sup.procs == {}  # nothing was started


def test_a_child_that_dies_at_start_is_reported(tmp_path):
    spec = ProcessSpec(
        "broken",
        [sys.executable, "-c", "raise SystemExit(3)"],
        "127.0.0.1",
        free_port(),
        "http://127.0.0.1:9/",
        ready_timeout=10,
    )
    with (
        Supervisor(tmp_path, log_dir=tmp_path, echo=False) as sup,
        pytest.raises(StartupError) as err,
    ):
        sup.start([spec], on_status=lambda _: None)
    assert "broken exited with code 3" in str(err.value)


def test_sigterm_to_the_supervisor_stops_its_children(tmp_path):
    port = free_port()
    script = textwrap.dedent(f"""
        import sys
        from pathlib import Path
        from bot.supervisor import ProcessSpec, Supervisor
        spec = ProcessSpec("web", [sys.executable, "-m", "http.server", "{port}", "--bind",
                           "127.0.0.1"], "127.0.0.1", {port}, "http://127.0.0.1:{port}/")
        with Supervisor(Path("{tmp_path}"), log_dir=Path("{tmp_path}"), echo=False) as sup:
            sup.start([spec])
            print(sup.procs["web"].pid, flush=True)
            sup.wait()
    """)
    proc = subprocess.Popen(
        [sys.executable, "-c", script], cwd=PROJECT_ROOT, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    lines = [proc.stdout.readline() for _ in range(2)]
    child = int(lines[-1])
    assert alive(child)
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=20)
    time.sleep(0.2)
    assert not alive(child)
    assert not port_in_use("127.0.0.1", port)


def read_state(path) -> dict:
    return json.loads(path.read_text())["processes"]


def eventually(check, timeout: float = 20.0, every: float = 0.1):
    """The first truthy result of `check()` within `timeout` seconds, or fail."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(every)
    raise AssertionError(f"not true after {timeout} s: {check}")


def answers(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def test_a_process_that_dies_is_restarted_and_the_others_keep_serving(tmp_path):
    ports = [free_port(), free_port()]
    state_file = tmp_path / "state.json"
    with Supervisor(tmp_path, log_dir=tmp_path, echo=False, state_file=state_file) as sup:
        sup.start(
            [http_server("one", ports[0]), http_server("two", ports[1])], on_status=lambda _: None
        )
        before = read_state(state_file)
        assert {n: (p["state"], p["restarts"]) for n, p in before.items()} == {
            "one": ("running", 0),
            "two": ("running", 0),
        }
        os.kill(before["one"]["pid"], signal.SIGKILL)
        assert eventually(lambda: read_state(state_file)["one"]["state"] == "restarting")
        assert answers(ports[1])  # the other one serves while one restarts
        after = eventually(lambda: (s := read_state(state_file))["one"]["state"] == "running" and s)
        assert after["one"]["restarts"] == 1
        assert after["one"]["pid"] not in (before["one"]["pid"], 0)
        assert after["two"] == before["two"]
        assert answers(ports[0])
    assert {p["state"] for p in read_state(state_file).values()} == {"stopped"}


def test_a_process_that_keeps_crashing_is_given_up_naming_it_and_its_log(tmp_path):
    port = free_port()
    flag = tmp_path / "started-once"
    # Serves; once restarted, it crashes 0.3 s after each start.
    script = textwrap.dedent(f"""
        import http.server, pathlib, sys, threading, time
        server = http.server.HTTPServer(("127.0.0.1", {port}), http.server.SimpleHTTPRequestHandler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        flag = pathlib.Path({str(flag)!r})
        if flag.exists():
            time.sleep(0.3)
            sys.exit(7)
        flag.touch()
        time.sleep(600)
    """)
    spec = ProcessSpec(
        "flaky", [sys.executable, "-c", script], "127.0.0.1", port, f"http://127.0.0.1:{port}/"
    )
    state_file = tmp_path / "state.json"
    with Supervisor(
        tmp_path, log_dir=tmp_path / "logs", echo=False, state_file=state_file, max_crashes=3
    ) as sup:
        sup.start([spec], on_status=lambda _: None)
        os.kill(sup.procs["flaky"].pid, signal.SIGKILL)
        started = time.monotonic()
        sup.wait()  # returns when the supervisor gives up
        assert time.monotonic() - started < 15  # backoff 0.5 s, then 1 s
        assert sup.failure is not None
        assert sup.failure.startswith(
            "flaky crashed 3 times within 120 s (last: exited with code 7)"
        )
        assert str(tmp_path / "logs" / "flaky.log") in sup.failure
        assert read_state(state_file)["flaky"] == {
            "state": "failed",
            "restarts": 2,
            "pid": sup.procs["flaky"].pid,
        }
    assert read_state(state_file)["flaky"]["state"] == "failed"
    assert not port_in_use("127.0.0.1", port)


def test_a_process_that_cannot_even_be_started_again_is_given_up_with_the_reason(tmp_path):
    """The restart itself fails (here: its program is gone): counted as a crash, so the
    supervisor gives up with the reason instead of watching a dead process forever."""
    port = free_port()
    with Supervisor(tmp_path, log_dir=tmp_path / "logs", echo=False, max_crashes=2) as sup:
        sup.start([http_server("web", port)], on_status=lambda _: None)
        child = sup._children["web"]
        child.spec = ProcessSpec(
            "web", [str(tmp_path / "no-such-program")], "127.0.0.1", port, child.spec.ready_url
        )
        os.kill(sup.procs["web"].pid, signal.SIGKILL)
        started = time.monotonic()
        sup.wait()
        assert time.monotonic() - started < 15
        assert sup.failure is not None and sup.failure.startswith("web crashed 2 times")
        assert "could not be started (FileNotFoundError" in sup.failure


def test_a_process_stopped_on_purpose_stays_stopped_until_restarted(tmp_path):
    port = free_port()
    state_file = tmp_path / "state.json"
    spec = http_server("web", port)
    with Supervisor(tmp_path, log_dir=tmp_path, echo=False, state_file=state_file) as sup:
        sup.start([spec], on_status=lambda _: None)
        sup.stop_one("web")
        time.sleep(1.5)  # well past the first restart's backoff
        assert read_state(state_file)["web"]["state"] == "stopped"
        assert not answers(port)
        sup.restart(spec)
        assert read_state(state_file)["web"]["state"] == "running"
        assert read_state(state_file)["web"]["restarts"] == 1
        assert answers(port)


SUPERVISED = """
import sys
from pathlib import Path
from bot.supervisor import ProcessSpec, Supervisor
port, work = int(sys.argv[1]), Path(sys.argv[2])
spec = ProcessSpec("web", [sys.executable, "-m", "http.server", str(port), "--bind",
                   "127.0.0.1"], "127.0.0.1", port, f"http://127.0.0.1:{port}/")
with Supervisor(work, log_dir=work, echo=False, state_file=work / "state.json") as sup:
    sup.start([spec], on_status=lambda _: None)
    print(sup.procs["web"].pid, flush=True)
    sup.wait()
"""


@pytest.mark.parametrize(
    "sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT, signal.SIGKILL], ids=lambda s: s.name
)
def test_however_the_supervisor_ends_its_child_ends_too(tmp_path, sig):
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-c", SUPERVISED, str(port), str(tmp_path)],
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    assert proc.stdout is not None
    child = int(proc.stdout.readline())
    assert alive(child)
    os.kill(proc.pid, sig)
    proc.wait(timeout=20)
    # SIGKILL: the kernel sends the child SIGTERM (PR_SET_PDEATHSIG); the others: the
    # supervisor stops it.
    eventually(lambda: not alive(child), timeout=10)
    assert not port_in_use("127.0.0.1", port)


RACE = """
import os, signal, sys
from bot.supervisor import _die_with_parent
preexec = _die_with_parent()  # made for this process as the parent
if os.fork() == 0:
    grandchild = os.fork()
    if grandchild == 0:
        preexec()  # its parent is not the one it was made for: as if that one had died
        os._exit(0)
    _, status = os.waitpid(grandchild, 0)
    print(os.WTERMSIG(status) if os.WIFSIGNALED(status) else "exited", flush=True)
    os._exit(0)
os.wait()
"""


def test_a_child_whose_parent_died_before_it_asked_for_the_death_signal_ends_itself():
    out = subprocess.run(
        [sys.executable, "-c", RACE], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=20
    )
    assert out.stdout.strip() == str(int(signal.SIGKILL)), out.stderr


def test_a_killed_action_server_is_restarted_though_its_worker_held_the_port(tmp_path):
    """With `--workers N` the action server serves from Sanic worker processes (`make run`
    serves from one process): after kill -9 of the main process a worker, orphaned, would
    keep the port, and every restart would fail to bind."""
    from dataclasses import replace

    from bot import stack
    from bot.settings import Settings

    settings = stack.on_free_ports(Settings(), tmp_path)
    spec = stack.action_server(settings)
    spec = replace(spec, argv=[*spec.argv, "--workers", "1"])
    state_file = tmp_path / "state.json"
    with Supervisor(PROJECT_ROOT, log_dir=tmp_path, echo=False, state_file=state_file) as sup:
        sup.start([spec], on_status=lambda _: None)
        main = sup.procs["actions"].pid
        workers = [
            int(p.name)
            for p in Path("/proc").iterdir()
            if p.name.isdigit() and p.name != str(main) and group_of(int(p.name)) == main
        ]
        assert workers  # Sanic's worker (and multiprocessing's resource tracker)
        os.kill(main, signal.SIGKILL)
        eventually(
            lambda: (
                (s := read_state(state_file)["actions"])["state"] == "running" and s["pid"] != main
            ),
            timeout=120,
        )
        assert not any(alive(pid) for pid in workers)
        health = f"http://127.0.0.1:{settings.action_server_port}/health"
        assert httpx.get(health, timeout=5).status_code == 200


def group_of(pid: int) -> int | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(raw[raw.rindex(")") + 2 :].split()[2])
