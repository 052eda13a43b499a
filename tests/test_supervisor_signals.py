"""`bot run` with the whole assistant, started as `make run` starts it (a shell runs
`bot orders seed && bot run` and leads the process group) but on free ports: however it
ends — Ctrl-C, SIGTERM or SIGHUP to it or to its process group, or killed outright — no
process it started is left and every port is free; a Rasa killed in the middle of a form
is restarted, alone, and the form goes on."""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlparse

import pytest

from bot import stack
from bot.settings import PROJECT_ROOT, Settings
from bot.supervisor import port_in_use

from .live import rasa_say

pytestmark = pytest.mark.slow

BOT = PROJECT_ROOT / ".venv" / "bin" / "bot"
NAMES = {"orders", "actions", "rasa", "gateway"}
T = TypeVar("T")


def eventually(check: Callable[[], T], timeout: float, what: str) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.2)
    raise AssertionError(f"{what}: still not so after {timeout:.0f} s")


def _stat(pid: int) -> list[str] | None:
    """Fields of /proc/PID/stat after the command (state, ppid, pgrp, ...); None when the
    process is gone or a zombie (dead, only not yet reaped)."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = raw[raw.rindex(")") + 2 :].split()
    return None if fields[0] in ("Z", "X") else fields


def in_groups(groups: set[int]) -> set[int]:
    """Live processes in any of these process groups (a child and what it started)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat(int(entry.name))
            if fields is not None and int(fields[2]) in groups:
                found.add(int(entry.name))
    return found


@dataclass
class Running:
    shell: subprocess.Popen[bytes]  # stands for make: it leads the process group
    settings: Settings
    state_file: Path
    output: Path

    def state(self) -> dict[str, dict[str, Any]]:
        processes: dict[str, dict[str, Any]] = json.loads(self.state_file.read_text())["processes"]
        return processes

    def supervisor_pid(self) -> int:
        fields = _stat(self.state()["orders"]["pid"])
        assert fields is not None
        return int(fields[1])

    def ports(self) -> list[int]:
        s = self.settings
        return [s.orders_port, s.action_server_port, urlparse(s.rasa_url).port or 0, s.gateway_port]

    def say(self, sender: str, text: str) -> list[dict[str, Any]]:
        return rasa_say(self.settings, sender, text)

    def tail(self) -> str:
        return "\n".join(self.output.read_text(errors="replace").splitlines()[-40:])


def all_running(run: Running) -> bool:
    try:
        state = run.state()
    except (FileNotFoundError, json.JSONDecodeError):
        return False
    return set(state) == NAMES and all(p["state"] == "running" for p in state.values())


@contextmanager
def bot_run(workdir: Path) -> Iterator[Running]:
    settings = stack.on_free_ports(Settings(), workdir)
    state_file, output = workdir / "state.json", workdir / "bot-run.out"
    command = (
        f"{BOT} orders seed && {BOT} run --log-dir {shlex.quote(str(workdir / 'logs'))} "
        f"--state-file {shlex.quote(str(state_file))}"
    )
    with output.open("wb") as out:
        shell = subprocess.Popen(
            ["/bin/sh", "-c", command],
            cwd=PROJECT_ROOT,
            env={**os.environ, **stack.settings_env(settings), "ENVIRONMENT": "local"},
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    run = Running(shell, settings, state_file, output)
    children: set[int] = set()
    try:
        deadline = time.monotonic() + 300
        while not all_running(run):
            assert shell.poll() is None, f"bot run ended:\n{run.tail()}"
            assert time.monotonic() < deadline, f"not running after 300 s:\n{run.tail()}"
            time.sleep(0.5)
        children = {p["pid"] for p in run.state().values()}
        yield run
    finally:
        # Whatever a failed test left: this run's processes, by their ids.
        with suppress(ProcessLookupError):
            os.killpg(shell.pid, signal.SIGKILL)
        with suppress(FileNotFoundError, json.JSONDecodeError):
            children |= {p["pid"] for p in run.state().values()}
        for pid in in_groups(children):
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        shell.wait(timeout=30)


def send(run: Running, sig: signal.Signals, to: str) -> None:
    if to == "group":  # what a terminal (Ctrl-C, closing it), `timeout` or a container stop does
        os.killpg(run.shell.pid, sig)
    else:
        os.kill(run.supervisor_pid(), sig)


@pytest.mark.parametrize(
    "sig, to",
    [
        (signal.SIGINT, "group"),  # Ctrl-C
        (signal.SIGTERM, "supervisor"),
        (signal.SIGTERM, "group"),
        (signal.SIGHUP, "supervisor"),
        (signal.SIGHUP, "group"),  # the terminal closed
        (signal.SIGKILL, "supervisor"),
        (signal.SIGKILL, "group"),
    ],
    ids=lambda v: v.name if isinstance(v, signal.Signals) else v,
)
def test_however_bot_run_ends_nothing_it_started_is_left(tmp_path, sig, to):
    with bot_run(tmp_path) as run:
        groups = {p["pid"] for p in run.state().values()}
        started = in_groups(groups)
        # One process per name at least (more when one has children, e.g. Rasa's or
        # multiprocessing's helpers): every one of them must be gone at the end.
        assert len(started) >= len(NAMES)
        ports = run.ports()
        assert all(port_in_use("127.0.0.1", port) for port in ports)
        send(run, sig, to)
        run.shell.wait(timeout=60)
        eventually(lambda: not in_groups(groups), 60, f"processes left: {in_groups(groups)}")
        assert not started & in_groups(groups)
        eventually(
            lambda: not any(port_in_use("127.0.0.1", port) for port in ports),
            10,
            "a port is still taken",
        )
        if sig != signal.SIGKILL:  # the supervisor lived to write it
            # It writes the state once its children are gone (the ports are free before).
            eventually(
                lambda: {p["state"] for p in run.state().values()} == {"stopped"},
                30,
                "the supervisor never wrote its children's state as stopped",
            )


def test_a_killed_rasa_is_restarted_alone_and_the_form_goes_on(tmp_path):
    with bot_run(tmp_path) as run:
        before = run.state()
        rasa = before["rasa"]["pid"]
        # Rasa's API secret is not on its command line (every local user can read that).
        cmdline = Path(f"/proc/{rasa}/cmdline").read_bytes()
        token = run.settings.rasa_token.get_secret_value().encode()
        assert token not in cmdline
        assert b"--jwt-secret" not in cmdline and b"--auth-token" not in cmdline

        sender = f"test-{uuid.uuid4().hex[:10]}"
        asked = run.say(sender, "/cancel_order")
        assert "order number" in asked[0]["text"]

        os.kill(rasa, signal.SIGKILL)
        killed = time.monotonic()
        eventually(lambda: run.state()["rasa"]["state"] == "restarting", 10, "no restart")
        after = eventually(
            lambda: (s := run.state())["rasa"]["state"] == "running" and s, 240, "Rasa is down"
        )
        back = time.monotonic()
        # The form resumes where it was: the tracker was in the SQL store, not in memory.
        went_on = run.say(sender, "KNT-1001")
        answered = time.monotonic()
        assert "e-mail" in went_on[0]["text"], went_on
        assert answered - back < 2.0, f"answered {answered - back:.1f} s after Rasa was back"
        print(f"Rasa back {back - killed:.1f} s after kill -9, answered {answered - back:.2f} s on")

        assert after["rasa"]["restarts"] == 1
        assert after["rasa"]["pid"] != rasa
        assert {n: p for n, p in after.items() if n != "rasa"} == {
            n: p for n, p in before.items() if n != "rasa"
        }
        assert all(p["state"] == "running" for p in after.values())
        out = run.output.read_text(errors="replace")
        assert "rasa exited with code -9; restarting it in 0.5 s" in out
        assert "rasa ready again in" in out
