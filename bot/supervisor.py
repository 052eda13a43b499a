"""Start the assistant's processes together, watch them, stop them together.

Each process gets a readiness URL; a port already in use is refused up front with the
name of the process that wanted it. If any process dies, or on Ctrl-C, all are stopped.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx


class StartupError(RuntimeError):
    """A process could not be started or did not become ready; the message says why."""


@dataclass
class ProcessSpec:
    name: str
    argv: list[str]
    host: str
    port: int
    ready_url: str
    env: dict[str, str] = field(default_factory=dict)
    ready_headers: dict[str, str] = field(default_factory=dict)
    ready_timeout: float = 120.0


def port_in_use(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _raise_keyboard_interrupt(*_: object) -> None:
    raise KeyboardInterrupt


class Supervisor:
    def __init__(self, cwd: Path, log_dir: Path | None = None, echo: bool = True) -> None:
        self.cwd = cwd
        self.log_dir = log_dir
        self.echo = echo
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self._logs: list[IO[bytes]] = []

    def start(self, specs: list[ProcessSpec], on_status: Callable[[str], None] = print) -> None:
        taken = [s for s in specs if port_in_use(s.host, s.port)]
        if taken:
            names = ", ".join(f"{s.name} needs {s.host}:{s.port}" for s in taken)
            raise StartupError(
                f"port already in use ({names}). Stop what is using it (e.g. `lsof -i :"
                f"{taken[0].port}`) or choose another port in .env."
            )
        for spec in specs:
            self._spawn(spec)
        for spec in specs:
            self._wait_ready(spec, on_status)

    def _spawn(self, spec: ProcessSpec) -> None:
        env = {**os.environ, **spec.env}
        if self.log_dir is not None:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            log = open(self.log_dir / f"{spec.name}.log", "ab")  # noqa: SIM115 (kept open)
            self._logs.append(log)
            proc = subprocess.Popen(
                spec.argv, cwd=self.cwd, env=env, stdout=log, stderr=log, start_new_session=True
            )
        else:
            proc = subprocess.Popen(
                spec.argv,
                cwd=self.cwd,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            threading.Thread(target=self._pump, args=(spec.name, proc), daemon=True).start()
        self.procs[spec.name] = proc

    def _pump(self, name: str, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            if self.echo:
                sys.stdout.write(f"{name:>8} | {line.decode(errors='replace')}")
                sys.stdout.flush()

    def _wait_ready(self, spec: ProcessSpec, on_status: Callable[[str], None]) -> None:
        deadline = time.monotonic() + spec.ready_timeout
        started = time.monotonic()
        while time.monotonic() < deadline:
            proc = self.procs[spec.name]
            if proc.poll() is not None:
                where = f" (see {self.log_dir / (spec.name + '.log')})" if self.log_dir else ""
                raise StartupError(f"{spec.name} exited with code {proc.returncode}{where}")
            try:
                r = httpx.get(spec.ready_url, headers=spec.ready_headers, timeout=2)
                if r.status_code == 200:
                    on_status(
                        f"{spec.name} ready in {time.monotonic() - started:.1f} s "
                        f"at http://{spec.host}:{spec.port}"
                    )
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise StartupError(f"{spec.name} was not ready after {spec.ready_timeout:.0f} s")

    def stop_one(self, name: str, grace: float = 10.0) -> None:
        proc = self.procs[name]
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()

    def restart(self, spec: ProcessSpec) -> None:
        self.stop_one(spec.name)
        self._spawn(spec)
        self._wait_ready(spec, lambda _: None)

    def dead(self) -> list[str]:
        return [name for name, p in self.procs.items() if p.poll() is not None]

    def wait(self) -> None:
        """Block until a process exits, Ctrl-C or SIGTERM."""
        try:
            while not self.dead():
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass

    def stop(self, grace: float = 10.0) -> None:
        """Stop every process: SIGTERM to each process group, SIGKILL after `grace`."""
        for proc in self.procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for proc in self.procs.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        for log in self._logs:
            log.close()

    def __enter__(self) -> Supervisor:
        # A SIGTERM to this process (e.g. `kill`, a service manager) must stop the children
        # too: they run in their own sessions and would otherwise be orphaned.
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
