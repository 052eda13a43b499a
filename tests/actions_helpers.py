"""Shared by the action tests: a real order backend process of their own (which a test
may pause with SIGSTOP), Trackers built the way Rasa sends them, and orders made for
one test."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.orm import Session

from bot import stack
from bot.orders.db import create_orders_engine
from bot.orders.models import Customer, Item, Order, Payment, Shipment
from bot.settings import PROJECT_ROOT, Settings
from bot.shopper import process_wide

DOMAIN = yaml.safe_load((PROJECT_ROOT / "domain.yml").read_text())
RINGS = [("Solitaire Diamond Ring", "diamond"), ("Halo Sapphire Ring", "sapphire")]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Backend:
    """The order backend as its own process group (so SIGSTOP pauses all of it)."""

    settings: Settings
    process: subprocess.Popen[bytes]

    def pause(self) -> None:
        os.killpg(self.process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        os.killpg(self.process.pid, signal.SIGCONT)

    @contextmanager
    def paused(self) -> Iterator[None]:
        self.pause()
        try:
            yield
        finally:
            self.resume()


@contextmanager
def order_backend(base: Settings, workdir: Path, **overrides: Any) -> Iterator[Backend]:
    """A seeded order backend on a free port with its own SQLite file in `workdir`."""
    port = free_port()
    settings = base.model_copy(
        update={
            "environment": "local",
            "orders_port": port,
            "orders_url": f"http://127.0.0.1:{port}",
            "orders_database_url": f"sqlite:///{workdir / 'orders.db'}",
            "database_url": f"sqlite:///{workdir / 'app.db'}",
            **overrides,
        }
    )
    stack.seed_demo_orders(settings)
    spec = stack.order_backend(settings)
    log = (workdir / "orders.log").open("wb")
    process = subprocess.Popen(
        spec.argv,
        cwd=PROJECT_ROOT,
        env={**os.environ, **spec.env},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    backend = Backend(settings, process)
    try:
        _wait_ready(spec.ready_url, process, workdir / "orders.log")
        yield backend
    finally:
        with suppress(ProcessLookupError):  # already gone (it failed to start)
            os.killpg(process.pid, signal.SIGCONT)
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()


def _wait_ready(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the order backend exited:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    pytest.fail(f"the order backend was not ready in 60 s:\n{log.read_text()[-3000:]}")


@contextmanager
def actions_use(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """The actions' process-wide services built from `settings` (as the action server's
    environment would give them)."""
    for key, value in stack.settings_env(settings).items():
        monkeypatch.setenv(key, value)
    process_wide.reset()
    try:
        yield settings
    finally:
        process_wide.reset()


def tracker(
    text: Any = "",
    intent: Any = "inform",
    slots: dict[str, Any] | None = None,
    just_set: dict[str, Any] | None = None,
    form: str | None = None,
    sender: str = "shopper",
    metadata: Any = None,
    entities: list[Any] | None = None,
) -> Tracker:
    """A tracker as Rasa sends it: `just_set` are the slot candidates the form extracted
    from the latest message (slot events after the last user event); `metadata` is what
    the gateway attached to the message."""
    all_slots = {name: None for name in DOMAIN["slots"]} | {"requested_slot": None}
    all_slots |= (slots or {}) | (just_set or {})
    latest: dict[str, Any] = {"text": text, "intent": {"name": intent}, "entities": entities or []}
    if metadata is not None:
        latest["metadata"] = metadata
    events: list[dict[str, Any]] = [{"event": "user", "text": text, "parse_data": latest}]
    events += [{"event": "slot", "name": k, "value": v} for k, v in (just_set or {}).items()]
    return Tracker(
        sender,
        all_slots,
        latest,
        events,
        False,
        None,
        {"name": form} if form else {},
        "action_listen",
    )


async def run(action: Any, t: Tracker) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(the slots the action set, the messages it sent)."""
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, t, DOMAIN)
    slots = {e["name"]: e["value"] for e in events if e.get("event") == "slot"}
    return slots, dispatcher.messages


def verified(order: str, email: str) -> dict[str, Any]:
    return {
        "verified_order": order,
        "verified_email": email,
        "verified_at": time.time(),
        "order_number": order,
        "email": email,
    }


def client(ip: str | None = None) -> dict[str, str]:
    """The metadata the gateway attaches: a client IP and a fresh session."""
    return {
        "client_ip": ip or f"198.51.100.{uuid.uuid4().int % 250 + 1}",
        "session": uuid.uuid4().hex,
    }


def new_order(settings: Settings, status: str = "in_production", items: int = 1) -> tuple[str, str]:
    """An order of one test's own (number, e-mail), in production or shipped 5 days ago,
    with `items` rings: the demo orders are shared, and other tests use up their change,
    return or cancel (or lock them by guessing)."""
    number = f"KNT-{uuid.uuid4().int % 90000 + 10000}"
    email = f"t-{uuid.uuid4().hex[:10]}@example.com"
    now = datetime.now(UTC)
    shipped = status in ("shipped", "delivered")
    engine = create_orders_engine(settings.orders_database_url)
    try:
        with Session(engine) as session, session.begin():
            session.add(
                Order(
                    order_number=number,
                    customer=Customer(email=email, name="Test Shopper", created_at=now),
                    status=status,
                    placed_at=now - timedelta(days=30 if shipped else 2),
                    items=[
                        Item(
                            product=product,
                            gemstone=gemstone,
                            metal="white gold",
                            ring_size="6",
                        )
                        for product, gemstone in RINGS[:items]
                    ],
                    payment=Payment(method="card"),
                    shipment=Shipment(
                        carrier="FedEx",
                        tracking_number="794612345678",
                        shipped_at=now - timedelta(days=5),
                    )
                    if shipped
                    else None,
                )
            )
    finally:
        engine.dispose()
    return number, email
