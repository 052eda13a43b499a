"""Start the assistant's processes together, keep them running, stop them together.

- Each process gets a readiness URL; a port already in use is refused up front with the
  name of the process that wanted it. A process that does not come up at the start is
  reported (a configuration error): restarts are for processes that were running.
- A process that dies is restarted (after 0.5 s, 1 s, 2 s ... at most 10 s) while the others
  keep serving. One that crashes `max_crashes` times within `crash_window` seconds is given
  up on: `wait()` returns and `failure` says which process and where its log is.
- No child outlives the supervisor, however it ends. Ctrl-C, SIGTERM and SIGHUP (to it or to
  its process group) stop every child. Killed outright, it cannot stop them itself, so each
  child asks the kernel for a SIGTERM when its parent goes (PR_SET_PDEATHSIG): the servers
  shut down cleanly on it, their own workers included. Each child runs in its own process
  group, so the whole group (e.g. Sanic's workers with `--workers N`) is stopped with it.
- The processes' state is kept in a JSON file (atomically replaced on every change), whose
  path the children get in SUPERVISOR_STATE_FILE: {"processes": {name: {"state":
  "running|restarting|stopped|failed", "restarts": n, "pid": pid}}}. "restarting" means
  started (or restarted) and not ready yet.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
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
from types import FrameType
from typing import IO, Any

import httpx

STATE_FILE_ENV = "SUPERVISOR_STATE_FILE"
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
FIRST_BACKOFF_SECONDS = 0.5
MAX_BACKOFF_SECONDS = 10.0
POLL_SECONDS = 0.2
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


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


def _die_with_parent() -> Callable[[], None] | None:
    """A preexec_fn that makes the child get SIGTERM when its parent ends (Linux only).

    The kernel sends it when the *thread* that forked the child ends, so children are only
    started from threads that outlive them: the main thread and the watchers, which end
    after every child is stopped. The function is looked up here, before the fork: the
    child between fork and exec must not import or take locks."""
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    parent = os.getpid()

    def preexec() -> None:
        prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
        # The parent may have died between fork and prctl: then no signal will come.
        if os.getppid() != parent:
            os.kill(os.getpid(), signal.SIGKILL)

    return preexec


def _print(message: str) -> None:
    print(message, flush=True)


def _signal_group(pid: int, sig: signal.Signals) -> None:
    """Signal the process group a child leads (it and whatever it started)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


@dataclass
class _Process:
    spec: ProcessSpec
    proc: subprocess.Popen[bytes] | None = None
    state: str = "restarting"
    restarts: int = 0
    crashes: list[float] = field(default_factory=list)
    log: IO[bytes] | None = None
    # Why the last restart could not even start the process (then `proc` is the old, dead
    # one, whose group must not be signalled again: its id may belong to someone else now).
    spawn_error: str | None = None


class Supervisor:
    def __init__(
        self,
        cwd: Path,
        log_dir: Path | None = None,
        echo: bool = True,
        *,
        state_file: Path | None = None,
        max_crashes: int = 5,
        crash_window: float = 120.0,
    ) -> None:
        self.cwd = cwd
        self.log_dir = log_dir
        self.echo = echo
        self.state_file = state_file
        self.max_crashes = max_crashes
        self.crash_window = crash_window
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.failure: str | None = None
        self._children: dict[str, _Process] = {}
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._gave_up = threading.Event()
        self._watchers: list[threading.Thread] = []
        self._notify: Callable[[str], None] = _print
        self._interrupted = False
        self._previous_handlers: dict[int, Any] = {}

    # --- starting -----------------------------------------------------------------------

    def start(self, specs: list[ProcessSpec], on_status: Callable[[str], None] = _print) -> None:
        """Start every process, wait until each is ready, then keep them running."""
        taken = [s for s in specs if port_in_use(s.host, s.port)]
        if taken:
            names = ", ".join(f"{s.name} needs {s.host}:{s.port}" for s in taken)
            raise StartupError(
                f"port already in use ({names}). Stop what is using it (e.g. `lsof -i :"
                f"{taken[0].port}`) or choose another port in .env."
            )
        self._notify = on_status
        for spec in specs:
            self._spawn(spec)
        for spec in specs:
            self._wait_ready(spec, on_status)
        for spec in specs:
            watcher = threading.Thread(
                target=self._watch, args=(spec.name,), name=f"watch-{spec.name}", daemon=True
            )
            self._watchers.append(watcher)
            watcher.start()

    def log_path(self, name: str) -> Path | None:
        return self.log_dir / f"{name}.log" if self.log_dir is not None else None

    def _spawn(self, spec: ProcessSpec) -> None:
        with self._lock:
            if self._stopping.is_set():
                return
            child = self._children.get(spec.name)
            if child is None:
                child = self._children[spec.name] = _Process(spec)
            else:
                child.spec = spec
                child.restarts += 1
            log = self._log(child)
            env = {**os.environ, **spec.env}
            if self.state_file is not None:
                env[STATE_FILE_ENV] = str(self.state_file)
            piped = self.echo or log is None
            proc = subprocess.Popen(
                spec.argv,
                cwd=self.cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE if piped else log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent(),
            )
            if piped:
                threading.Thread(
                    target=self._pump, args=(spec.name, proc, log), daemon=True
                ).start()
            child.proc = proc
            child.spawn_error = None
            child.state = "restarting"
            self.procs[spec.name] = proc
            self._write_state()

    def _log(self, child: _Process) -> IO[bytes] | None:
        path = self.log_path(child.spec.name)
        if path is None:
            return None
        if child.log is None:
            path.parent.mkdir(parents=True, exist_ok=True)
            child.log = open(path, "ab")  # noqa: SIM115 (kept open for the process's lifetime)
        return child.log

    def _pump(self, name: str, proc: subprocess.Popen[bytes], log: IO[bytes] | None) -> None:
        """Copy a child's output to its log file and, when echoing, to the terminal. It
        keeps reading even when the terminal is gone (SIGHUP): a child that cannot write
        its output would hang."""
        assert proc.stdout is not None
        for line in proc.stdout:
            if log is not None:
                with contextlib.suppress(OSError, ValueError):
                    log.write(line)
                    log.flush()
            if self.echo:
                with contextlib.suppress(OSError, ValueError):
                    sys.stdout.write(f"{name:>8} | {line.decode(errors='replace')}")
                    sys.stdout.flush()

    def _say(self, message: str) -> None:
        with contextlib.suppress(OSError, ValueError):
            self._notify(message)

    def _wait_ready(self, spec: ProcessSpec, on_status: Callable[[str], None]) -> None:
        deadline = time.monotonic() + spec.ready_timeout
        started = time.monotonic()
        while time.monotonic() < deadline:
            proc = self.procs[spec.name]
            if proc.poll() is not None:
                where = f" (see {self.log_path(spec.name)})" if self.log_dir else ""
                raise StartupError(f"{spec.name} exited with code {proc.returncode}{where}")
            if self._ready(spec):
                self._set_state(spec.name, "running")
                on_status(
                    f"{spec.name} ready in {time.monotonic() - started:.1f} s "
                    f"at http://{spec.host}:{spec.port}"
                )
                return
            time.sleep(0.5)
        raise StartupError(f"{spec.name} was not ready after {spec.ready_timeout:.0f} s")

    @staticmethod
    def _ready(spec: ProcessSpec) -> bool:
        try:
            r = httpx.get(spec.ready_url, headers=spec.ready_headers, timeout=2)
        except httpx.HTTPError:
            return False
        return r.status_code == 200

    # --- keeping them running -------------------------------------------------------------

    def _watch(self, name: str) -> None:
        """Restart `name` whenever it dies, until the supervisor stops or gives up on it."""
        while not self._stopping.wait(POLL_SECONDS):
            with self._lock:
                child = self._children[name]
                proc = child.proc
                if proc is None or child.state in ("stopped", "failed"):
                    continue
                code = proc.poll()
                if code is None:
                    continue
                backoff = self._crashed(child, code)
            if backoff is None or self._stopping.wait(backoff):
                continue
            with self._lock:
                if child.proc is not proc or child.state != "restarting":
                    continue  # stopped or restarted by someone else meanwhile
                try:
                    self._spawn(child.spec)
                except (OSError, subprocess.SubprocessError) as exc:
                    # Counted as a crash on the next round, so the crash limit ends a loop
                    # of these with a clear message instead of a dead watcher.
                    child.spawn_error = f"{type(exc).__name__}: {exc}"
                    continue
                restarted = child.proc
            self._await_restart(child, restarted)

    def _crashed(self, child: _Process, code: int) -> float | None:
        """Book a crash (under the lock); the delay before the restart, or None when the
        process has crashed too often and is given up on."""
        name = child.spec.name
        assert child.proc is not None
        # Whatever the dead process left in its group (e.g. a Sanic worker holding the port).
        if child.spawn_error is None:
            _signal_group(child.proc.pid, signal.SIGKILL)
        what = (
            f"could not be started ({child.spawn_error})"
            if child.spawn_error
            else f"exited with code {code}"
        )
        now = time.monotonic()
        child.crashes = [t for t in child.crashes if now - t < self.crash_window] + [now]
        crashes = len(child.crashes)
        where = self.log_path(name)
        log_note = f"its log: {where}" if where else "its output is above"
        if crashes >= self.max_crashes:
            child.state = "failed"
            self._write_state()
            self.failure = (
                f"{name} crashed {crashes} times within {self.crash_window:.0f} s (last: "
                f"{what}), so everything is stopped. Fix the cause ({log_note}), "
                "then start again."
            )
            self._gave_up.set()
            return None
        backoff = min(FIRST_BACKOFF_SECONDS * 2.0 ** (crashes - 1), MAX_BACKOFF_SECONDS)
        child.state = "restarting"
        self._write_state()
        self._say(
            f"{name} {what}; restarting it in {backoff:g} s "
            f"(crash {crashes} of {self.max_crashes} allowed within "
            f"{self.crash_window:.0f} s; {log_note})"
        )
        return backoff

    def _await_restart(self, child: _Process, proc: subprocess.Popen[bytes] | None) -> None:
        """Wait until a restarted process is ready; one that is not ready in time is killed
        (the watcher then counts it as a crash)."""
        if proc is None:
            return
        spec = child.spec
        started = time.monotonic()
        while time.monotonic() - started < spec.ready_timeout:
            if self._stopping.is_set() or child.proc is not proc or proc.poll() is not None:
                return
            if self._ready(spec):
                with self._lock:
                    if child.proc is proc and child.state == "restarting":
                        child.state = "running"
                        self._write_state()
                self._say(f"{spec.name} ready again in {time.monotonic() - started:.1f} s")
                return
            self._stopping.wait(0.5)
        self._say(f"{spec.name} was not ready after {spec.ready_timeout:.0f} s; killing it")
        _signal_group(proc.pid, signal.SIGKILL)

    def _set_state(self, name: str, state: str) -> None:
        with self._lock:
            self._children[name].state = state
            self._write_state()

    def _write_state(self) -> None:
        if self.state_file is None:
            return
        processes = {
            name: {
                "state": child.state,
                "restarts": child.restarts,
                "pid": child.proc.pid if child.proc is not None else 0,
            }
            for name, child in self._children.items()
        }
        tmp = self.state_file.with_name(f".{self.state_file.name}.{os.getpid()}.tmp")
        try:
            self.state_file.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_text(json.dumps({"processes": processes}, indent=1))
            os.replace(tmp, self.state_file)
        except OSError as exc:  # a full disk must not stop the restarts
            self._say(f"cannot write {self.state_file}: {exc}")

    def states(self) -> dict[str, str]:
        with self._lock:
            return {name: child.state for name, child in self._children.items()}

    # --- stopping -------------------------------------------------------------------------

    def stop_one(self, name: str, grace: float = 10.0) -> None:
        """Stop one process on purpose: it is not restarted until `restart`."""
        with self._lock:
            child = self._children[name]
            child.state = "stopped"
            self._write_state()
            proc = child.proc
        if proc is not None:
            self._terminate([proc], grace)

    def restart(self, spec: ProcessSpec) -> None:
        self.stop_one(spec.name)
        self._spawn(spec)
        self._wait_ready(spec, lambda _: None)

    def dead(self) -> list[str]:
        return [name for name, p in self.procs.items() if p.poll() is not None]

    def wait(self) -> None:
        """Block until the supervisor gives up on a process, or Ctrl-C, SIGTERM or SIGHUP."""
        try:
            while not self._gave_up.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass

    def stop(self, grace: float = 10.0) -> None:
        """Stop every process: SIGTERM to each process group, SIGKILL after `grace`."""
        self._stopping.set()
        with self._lock:
            procs = [c.proc for c in self._children.values() if c.proc is not None]
        self._terminate(procs, grace)
        for watcher in self._watchers:
            watcher.join(timeout=5)
        with self._lock:
            for child in self._children.values():
                if child.state != "failed":
                    child.state = "stopped"
            self._write_state()
            for child in self._children.values():
                if child.log is not None:
                    child.log.close()
                    child.log = None

    @staticmethod
    def _terminate(procs: list[subprocess.Popen[bytes]], grace: float) -> None:
        # SIGTERM to the process itself: the servers stop their own workers (a worker that
        # got it too would tear its event loop down mid-shutdown). What is left of its
        # group afterwards is killed.
        for proc in procs:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace
        for proc in procs:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal_group(proc.pid, signal.SIGKILL)
                proc.wait()
            # Whatever the process left behind in its group.
            _signal_group(proc.pid, signal.SIGKILL)

    # --- signals --------------------------------------------------------------------------

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        # The first Ctrl-C, SIGTERM or SIGHUP unwinds to `__exit__`, which stops every
        # child; the rest (closing a terminal sends SIGHUP after make's SIGTERM...) must
        # not interrupt that.
        if self._interrupted or self._stopping.is_set():
            return
        self._interrupted = True
        raise KeyboardInterrupt

    def __enter__(self) -> Supervisor:
        if threading.current_thread() is threading.main_thread():
            for sig in STOP_SIGNALS:
                self._previous_handlers[sig] = signal.signal(sig, self._on_signal)
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.stop()
        finally:
            for sig, handler in self._previous_handlers.items():
                signal.signal(sig, handler)
