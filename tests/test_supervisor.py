"""The process supervisor behind `make run`: readiness, refusal of taken ports, and that
stopping it (Ctrl-C or SIGTERM) stops every child."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time

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
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


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
