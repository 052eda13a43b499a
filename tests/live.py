"""The whole assistant on free ports for tests: order backend (seeded, throwaway SQLite),
action server and Rasa server with the trained model."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bot import stack
from bot.rasa_model import model_path
from bot.settings import PROJECT_ROOT, Settings
from bot.supervisor import Supervisor, free_port


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
    model = model_path(base.rasa_model_dir)
    if not model.is_file():
        raise RuntimeError(f"no trained Rasa model {model.name}: run `make train`")
    orders_port = free_port()
    settings = base.model_copy(
        update={
            "rasa_url": f"http://127.0.0.1:{free_port()}",
            "action_server_port": free_port(),
            "orders_port": orders_port,
            "orders_url": f"http://127.0.0.1:{orders_port}",
            "database_url": f"sqlite:///{workdir / 'app.db'}",
            "orders_database_url": f"sqlite:///{workdir / 'orders.db'}",
        }
    )
    env = stack._settings_env(settings)
    subprocess.run(
        [sys.executable, "-m", "bot.orders", "seed"],
        cwd=PROJECT_ROOT,
        check=True,
        env={**os.environ, **env},
        capture_output=True,
    )
    with Supervisor(PROJECT_ROOT, log_dir=workdir / "logs", echo=False) as sup:
        sup.start(
            [
                stack.order_backend(settings),
                stack.action_server(settings),
                stack.rasa_server(settings, model),
            ],
            on_status=lambda _: None,
        )
        yield Live(settings, sup)
