"""The assistant's processes as the supervisor starts them, built from settings."""

from __future__ import annotations

import sys
from pathlib import Path
from urllib.parse import urlparse

from bot.rasa_model import RASA_BIN, rasa_env
from bot.settings import PROJECT_ROOT, Settings
from bot.supervisor import ProcessSpec


def order_backend(settings: Settings) -> ProcessSpec:
    host, port = settings.orders_host, settings.orders_port
    return ProcessSpec(
        name="orders",
        argv=[sys.executable, "-m", "bot.orders", "serve"],
        host=host,
        port=port,
        ready_url=f"http://{host}:{port}/healthz",
        env=_settings_env(settings),
    )


def _settings_env(settings: Settings) -> dict[str, str]:
    """The settings a child process must share with this one (they may differ from
    the environment, e.g. free ports chosen by tests)."""
    return {
        "DATABASE_URL": settings.database_url,
        "ORDERS_DATABASE_URL": settings.orders_database_url,
        "ORDERS_HOST": settings.orders_host,
        "ORDERS_PORT": str(settings.orders_port),
        "ORDERS_URL": settings.orders_url,
        "ORDERS_API_TOKEN": settings.orders_api_token.get_secret_value(),
        "HF_HUB_OFFLINE": "1",
    }


def action_server(settings: Settings) -> ProcessSpec:
    host, port = settings.action_server_host, settings.action_server_port
    return ProcessSpec(
        name="actions",
        argv=[sys.executable, "-m", "rasa_sdk", "--actions", "actions", "--port", str(port)],
        host=host,
        port=port,
        ready_url=f"http://{host}:{port}/health",
        env={**_settings_env(settings), "SANIC_HOST": host},
    )


def rasa_server(settings: Settings, model: Path) -> ProcessSpec:
    url = urlparse(settings.rasa_url)
    host, port = url.hostname or "127.0.0.1", url.port or 5005
    token = settings.rasa_token.get_secret_value()
    return ProcessSpec(
        name="rasa",
        argv=[
            str(RASA_BIN),
            "run",
            "--model",
            str(model),
            "--enable-api",
            "--auth-token",
            token,
            "--interface",
            host,
            "--port",
            str(port),
            "--endpoints",
            str(PROJECT_ROOT / "endpoints.yml"),
            "--credentials",
            str(PROJECT_ROOT / "credentials.yml"),
        ],
        host=host,
        port=port,
        ready_url=f"http://{host}:{port}/status?token={token}",
        env={**rasa_env(), "ACTION_SERVER_URL": settings.action_server_url},
        ready_timeout=180,
    )
