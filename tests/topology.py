"""The scaled topology on this machine, for tests (issue 12): one order backend (demo
orders), action servers A and B, Rasa A (-> actions A) and Rasa B (-> actions B) on one
PostgreSQL tracker store and one Redis lock store, and gateways A and B in front of both
Rasa servers on one PostgreSQL database and one Redis. Every process is started from the
project's own specs (bot/stack.py) and stopped, and every database and Redis key removed,
however the test ends."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bot import stack
from bot.rasa_model import model_path
from bot.settings import PROJECT_ROOT, Settings
from bot.supervisor import ProcessSpec, _die_with_parent, free_port

from .live import Gateway, gateway_process, stop_group
from .orders_helpers import postgres_database
from .widget_client import WidgetClient

REDIS_URL = "redis://127.0.0.1:6379/0"
SHOP = "http://shop.test"  # the storefront's origin (the widget's socket)
CONSOLE = "http://console.test"  # where the staff console is served from
# Two Rasa servers loading their models at once on two shared cores take far longer than
# one alone (about 12 s): a generous deadline, never a fixed wait.
RASA_READY_SECONDS = 600


@dataclass(frozen=True)
class Server:
    """One server process of the topology and where it serves."""

    name: str
    url: str
    proc: subprocess.Popen[bytes]
    log: Path

    def kill(self) -> None:
        """kill -9 to its whole process group: no shutdown, nothing cleaned up."""
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


@dataclass(frozen=True)
class Topology:
    settings: Settings  # the gateways' (both Rasa servers, the shared database and Redis)
    tracker_store_url: str  # Rasa's PostgreSQL database (SQLAlchemy URL, psycopg 3)
    orders: Server
    actions_a: Server
    actions_b: Server
    rasa_a: Server
    rasa_b: Server
    gateway_a: Gateway
    gateway_b: Gateway


def shared_rasa(spec: ProcessSpec) -> ProcessSpec:
    """A Rasa server that shares its lock store with another one. `bot run`'s only Rasa
    drops every lock at start (RASA_ONLY_INSTANCE, rasa_runtime/launch.py); here that
    could delete a lock the other Rasa holds for a live turn."""
    env = {k: v for k, v in spec.env.items() if k != "RASA_ONLY_INSTANCE"}
    return dataclasses.replace(spec, env=env, ready_timeout=RASA_READY_SECONDS)


def spawn(spec: ProcessSpec, log: Path) -> subprocess.Popen[bytes]:
    """Start `spec` in its own process group (so its workers are stopped with it) that the
    kernel stops if this test process dies."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        return subprocess.Popen(
            spec.argv,
            cwd=PROJECT_ROOT,
            env={**os.environ, **spec.env},
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent(),
        )


def wait_ready(spec: ProcessSpec, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + spec.ready_timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"{spec.name} exited with code {proc.returncode}; see {log}")
        try:
            r = httpx.get(spec.ready_url, headers=spec.ready_headers, timeout=2)
            if r.status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"{spec.name} was not ready in {spec.ready_timeout:.0f} s; see {log}"
            )
        time.sleep(0.5)


@contextmanager
def servers(specs: list[ProcessSpec], logs: Path) -> Iterator[dict[str, Server]]:
    """All of `specs` started at once (the two Rasa servers load side by side), yielded
    once each one is ready, stopped on exit."""
    started: dict[str, Server] = {}
    try:
        for spec in specs:
            log = logs / f"{spec.name}.log"
            url = f"http://{spec.host}:{spec.port}"
            started[spec.name] = Server(spec.name, url, spawn(spec, log), log)
        for spec in specs:
            server = started[spec.name]
            wait_ready(spec, server.proc, server.log)
        yield started
    finally:
        for server in started.values():
            stop_group(server.proc)


def redis_ok(health: httpx.Response) -> bool:
    """A gateway is ready here once it is subscribed to Redis (it then hears the other)."""
    return bool(health.json().get("redis") == "ok")


def delete_redis_keys(prefix: str) -> None:
    found = subprocess.run(
        ["redis-cli", "-u", REDIS_URL, "--scan", "--pattern", f"{prefix}:*"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    if found:
        subprocess.run(
            ["redis-cli", "-u", REDIS_URL, "DEL", *found], check=True, capture_output=True
        )


@contextmanager
def scaled_topology(base: Settings, workdir: Path) -> Iterator[Topology]:
    model = model_path(base.rasa_model_dir)
    if not model.is_file():
        raise RuntimeError(f"no trained Rasa model {model.name}: run `make train`")
    logs = workdir / "logs"
    with ExitStack() as running:
        # Exits run in reverse: processes stop first, then Redis keys, then databases.
        orders_db = running.enter_context(postgres_database())
        app_db = running.enter_context(postgres_database())
        tracker_db = running.enter_context(postgres_database())
        gateway_prefix = f"knt-topology-{uuid.uuid4().hex[:10]}"
        lock_prefix = f"knttopology{uuid.uuid4().hex[:10]}"  # Rasa wants letters and digits
        running.callback(delete_redis_keys, gateway_prefix)
        running.callback(delete_redis_keys, lock_prefix)

        common = stack.on_free_ports(base, workdir).model_copy(
            update={
                "orders_database_url": orders_db,
                "database_url": app_db,
                "rasa_tracker_store_url": tracker_db,
                "rasa_lock_store_url": f"{REDIS_URL}?key_prefix={lock_prefix}",
                "gateway_redis_url": REDIS_URL,
                "gateway_redis_prefix": gateway_prefix,
                "gateway_allowed_origins": [SHOP],
                "staff_allowed_origins": [CONSOLE],
                # The hand-off is claimed within the test; no "nobody is free" notice.
                "staff_claim_timeout_seconds": 600,
            }
        )
        side_a = common.model_copy(update={"action_server_port": free_port()})
        side_b = common.model_copy(
            update={
                "action_server_port": free_port(),
                "rasa_url": f"http://127.0.0.1:{free_port()}",
            }
        )
        stack.seed_demo_orders(common)
        specs = [
            stack.order_backend(common),
            _named(stack.action_server(side_a), "actions-a"),
            _named(stack.action_server(side_b), "actions-b"),
            _named(shared_rasa(stack.rasa_server(side_a, model)), "rasa-a"),
            _named(shared_rasa(stack.rasa_server(side_b, model)), "rasa-b"),
        ]
        up = running.enter_context(servers(specs, logs))
        # Both gateways ask both Rasa servers (each conversation its own first one); their
        # health check of "the" action server asks A's.
        gateways = side_a.model_copy(update={"rasa_urls": f"{side_a.rasa_url},{side_b.rasa_url}"})
        gateway_a = running.enter_context(
            gateway_process(
                gateways.model_copy(update={"gateway_port": free_port()}),
                logs / "gateway-a.log",
                ready=redis_ok,
            )
        )
        gateway_b = running.enter_context(
            gateway_process(
                gateways.model_copy(update={"gateway_port": free_port()}),
                logs / "gateway-b.log",
                ready=redis_ok,
            )
        )
        yield Topology(
            settings=gateways,
            tracker_store_url=tracker_db,
            orders=up["orders"],
            actions_a=up["actions-a"],
            actions_b=up["actions-b"],
            rasa_a=up["rasa-a"],
            rasa_b=up["rasa-b"],
            gateway_a=gateway_a,
            gateway_b=gateway_b,
        )


def _named(spec: ProcessSpec, name: str) -> ProcessSpec:
    return dataclasses.replace(spec, name=name)


class RecordingTab(WidgetClient):
    """A shopper's widget that keeps every frame it receives, to count them afterwards."""

    def __init__(self, ws: Any) -> None:
        super().__init__(ws)
        self.frames: list[dict[str, Any]] = []

    @classmethod
    def open(cls, url: str, origin: str) -> RecordingTab:
        return cls(WidgetClient.connect(url, origin).ws)

    def recv(self, timeout: float) -> dict[str, Any]:
        frame = super().recv(timeout)
        self.frames.append(frame)
        return frame
