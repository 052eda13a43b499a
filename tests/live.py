"""The whole assistant on free ports for tests: order backend (seeded, throwaway SQLite),
action server, Rasa server with the trained model, and the gateway."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bot import stack
from bot.settings import Settings
from bot.supervisor import Supervisor


@dataclass
class Live:
    settings: Settings
    supervisor: Supervisor

    def say(self, sender: str, text: str) -> list[dict[str, Any]]:
        r = httpx.post(
            f"{self.settings.rasa_url}/webhooks/rest/webhook",
            json={"sender": sender, "message": text},
            timeout=60,
        )
        r.raise_for_status()
        replies: list[dict[str, Any]] = r.json()
        return replies

    @property
    def url(self) -> str:
        """The gateway: demo storefront, widget and its WebSocket."""
        return f"http://{self.settings.gateway_host}:{self.settings.gateway_port}"

    def stop_orders(self) -> None:
        self.supervisor.stop_one("orders")

    def start_orders(self) -> None:
        self.supervisor.restart(stack.order_backend(self.settings))


def texts(replies: list[dict[str, Any]]) -> str:
    return "\n".join(r.get("text", "") for r in replies if r.get("text"))


def new_sender() -> str:
    return f"test-{uuid.uuid4().hex[:10]}"


@contextmanager
def live_stack(base: Settings, workdir: Path) -> Iterator[Live]:
    settings = stack.on_free_ports(base, workdir)
    with stack.throwaway(settings, workdir) as sup:
        yield Live(settings, sup)
