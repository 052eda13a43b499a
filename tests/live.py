"""The whole assistant on free ports for tests: order backend (seeded, throwaway SQLite),
action server, Rasa server with the trained model, and the gateway."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bot import stack
from bot.settings import PROJECT_ROOT, Settings
from bot.supervisor import Supervisor


@dataclass
class Live:
    settings: Settings
    supervisor: Supervisor

    def say(self, sender: str, text: str) -> list[dict[str, Any]]:
        return rasa_say(self.settings, sender, text)

    @property
    def url(self) -> str:
        """The gateway: demo storefront, widget and its WebSocket."""
        return f"http://{self.settings.gateway_host}:{self.settings.gateway_port}"

    def stop_orders(self) -> None:
        self.supervisor.stop_one("orders")

    def start_orders(self) -> None:
        self.supervisor.restart(stack.order_backend(self.settings))


def rasa_say(
    settings: Settings, sender: str, text: str, timeout: float = 60
) -> list[dict[str, Any]]:
    """Rasa's replies to `text` from `sender`, through its REST channel."""
    r = httpx.post(
        f"{settings.rasa_url}/webhooks/rest/webhook",
        json={"sender": sender, "message": text},
        timeout=timeout,
    )
    r.raise_for_status()
    replies: list[dict[str, Any]] = r.json()
    return replies


def stop_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM to a server's process group (its workers too), SIGKILL if slow."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def texts(replies: list[dict[str, Any]]) -> str:
    return "\n".join(r.get("text", "") for r in replies if r.get("text"))


def new_sender() -> str:
    return f"test-{uuid.uuid4().hex[:10]}"


@contextmanager
def live_stack(base: Settings, workdir: Path) -> Iterator[Live]:
    settings = stack.on_free_ports(base, workdir)
    with stack.throwaway(settings, workdir) as sup:
        yield Live(settings, sup)


@dataclass(frozen=True)
class Gateway:
    """A gateway process of a test, and where it serves."""

    url: str
    proc: subprocess.Popen[bytes]

    def kill(self) -> None:
        """kill -9: no shutdown, no clean-up of what it held."""
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)


@contextmanager
def gateway_process(
    settings: Settings, log: Path, ready: Callable[[httpx.Response], bool] = lambda _r: True
) -> Iterator[Gateway]:
    """One more gateway (`python -m bot.gateway`, its own process) with `settings`, e.g.
    other limits or database than the live stack's, once its /healthz answers as `ready`
    wants (by default: any answer, it serves)."""
    env = {**os.environ, **stack.settings_env(settings)}
    url = f"http://{settings.gateway_host}:{settings.gateway_port}"
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "bot.gateway"],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"the gateway exited ({proc.returncode}); see {log}")
            try:
                if ready(httpx.get(f"{url}/healthz", timeout=2)):
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the gateway did not start in 120 s; see {log}")
            time.sleep(0.3)
        yield Gateway(url, proc)
    finally:
        stop_group(proc)
