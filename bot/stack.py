"""The assistant's processes as the supervisor starts them, built from settings."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlparse

from pydantic import SecretStr

from bot.rasa_auth import rasa_auth_headers
from bot.rasa_model import RASA_BIN, model_path, rasa_env
from bot.settings import PROJECT_ROOT, Settings
from bot.supervisor import ProcessSpec, StartupError, Supervisor, free_port


def order_backend(settings: Settings) -> ProcessSpec:
    host, port = settings.orders_host, settings.orders_port
    return ProcessSpec(
        name="orders",
        argv=[sys.executable, "-m", "bot.orders", "serve"],
        host=host,
        port=port,
        ready_url=f"http://{host}:{port}/healthz",
        env=settings_env(settings),
    )


def settings_env(settings: Settings) -> dict[str, str]:
    """Every setting as the environment variable that sets it, so a child process sees
    exactly this process's settings (they may differ from the environment, e.g. the
    free ports chosen by tests)."""
    env = {"HF_HUB_OFFLINE": "1"}
    for name, value in settings.model_dump().items():
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        env[name.upper()] = json.dumps(value) if isinstance(value, list) else str(value)
    return env


def action_server(settings: Settings) -> ProcessSpec:
    host, port = settings.action_server_host, settings.action_server_port
    return ProcessSpec(
        name="actions",
        # rasa-sdk's server, with its log lines redacted (bot/action_server.py)
        argv=[
            sys.executable,
            "-m",
            "bot.action_server",
            "--actions",
            "actions",
            "--port",
            str(port),
        ],
        host=host,
        port=port,
        ready_url=f"http://{host}:{port}/health",
        env={**settings_env(settings), "SANIC_HOST": host},
    )


def rasa_server(settings: Settings, model: Path) -> ProcessSpec:
    url = urlparse(settings.rasa_url)
    host, port = url.hostname or "127.0.0.1", url.port or 5005
    return ProcessSpec(
        name="rasa",
        argv=[
            # Rasa's own CLI behind a launcher that adds the API secret from the environment
            # (never on the command line) and one speed fix (see rasa_runtime/launch.py).
            str(RASA_BIN.parent / "python"),
            "-m",
            "rasa_runtime.launch",
            "run",
            "--model",
            str(model),
            "--enable-api",
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
        ready_url=f"http://{host}:{port}/status",
        ready_headers=rasa_auth_headers(settings),
        env={
            **rasa_env(),
            **rasa_endpoints_env(settings),
            "RASA_TOKEN": settings.rasa_token.get_secret_value(),
            # The one Rasa of this assistant: a lock in the lock store when it (re)starts
            # was left by a killed Rasa, so the launcher drops them (never set this where
            # several Rasa processes share a lock store: see rasa_runtime/launch.py).
            "RASA_ONLY_INSTANCE": "1",
            "TICKET_LOCK_LIFETIME": str(ticket_lock_lifetime(settings)),
        },
        ready_timeout=180,
    )


def ticket_lock_lifetime(settings: Settings) -> int:
    """Seconds a conversation's lock ticket lasts (Rasa's default: 60). A ticket must
    outlive its turn, or the conversation's next message would run beside it; a turn takes
    far less than the gateway's wait for it (the actions' backend calls give up within
    about 15 s), so: that wait + 5 s. It bounds how long a ticket left by a killed Rasa
    holds its conversation where the launcher cannot clear it (several Rasa processes
    sharing one lock store: give them all the same value)."""
    return math.ceil(settings.gateway_rasa_timeout_seconds) + 5


def rasa_endpoints_env(settings: Settings) -> dict[str, str]:
    """What endpoints.yml needs from settings: the action server and the token Rasa sends
    it, the tracker store and the lock store (rasa_runtime/launch.py turns the two store
    URLs into the variables endpoints.yml reads)."""
    return {
        "ACTION_SERVER_URL": settings.action_server_url,
        "ACTION_SERVER_TOKEN": settings.action_server_token.get_secret_value(),
        "RASA_TRACKER_STORE_URL": settings.rasa_tracker_store_url,
        "RASA_LOCK_STORE_URL": settings.rasa_lock_store_url,
    }


def gateway(settings: Settings) -> ProcessSpec:
    host, port = settings.gateway_host, settings.gateway_port
    return ProcessSpec(
        name="gateway",
        argv=[sys.executable, "-m", "bot.gateway"],
        host=host,
        port=port,
        ready_url=f"http://{host}:{port}/healthz",
        env=settings_env(settings),
    )


def everything(settings: Settings, model: Path) -> list[ProcessSpec]:
    """The whole assistant, in start order (the gateway last: it fronts the others)."""
    return [
        order_backend(settings),
        action_server(settings),
        rasa_server(settings, model),
        gateway(settings),
    ]


def on_free_ports(base: Settings, workdir: Path) -> Settings:
    """`base` moved to free local ports and throwaway SQLite files under `workdir`
    (for tests and benchmarks that must not touch a running assistant)."""
    orders_port, gateway_port = free_port(), free_port()
    return base.model_copy(
        update={
            "rasa_url": f"http://127.0.0.1:{free_port()}",
            "action_server_port": free_port(),
            "orders_port": orders_port,
            "orders_url": f"http://127.0.0.1:{orders_port}",
            "gateway_port": gateway_port,
            "gateway_allowed_origins": [f"http://127.0.0.1:{gateway_port}"],
            "staff_allowed_origins": [f"http://127.0.0.1:{gateway_port}"],
            "database_url": f"sqlite:///{workdir / 'app.db'}",
            "orders_database_url": f"sqlite:///{workdir / 'orders.db'}",
            "rasa_tracker_store_url": f"sqlite:///{workdir / 'rasa.db'}",
        }
    )


def supervisor(
    settings: Settings, log_dir: Path, state_file: Path, echo: bool = False
) -> Supervisor:
    """A supervisor for the assistant's processes with the crash limits of `settings`."""
    return Supervisor(
        PROJECT_ROOT,
        log_dir=log_dir,
        echo=echo,
        state_file=state_file,
        max_crashes=settings.supervisor_max_crashes,
        crash_window=settings.supervisor_crash_window_seconds,
    )


def seed_demo_orders(settings: Settings) -> None:
    """`bot orders seed` against the order database of `settings` (demo orders, once)."""
    subprocess.run(
        [sys.executable, "-m", "bot.orders", "seed"],
        cwd=PROJECT_ROOT,
        check=True,
        env={**os.environ, **settings_env(settings)},
        capture_output=True,
    )


@contextmanager
def throwaway(base: Settings, workdir: Path) -> Iterator[Supervisor]:
    """The whole assistant on free ports with seeded demo orders in `workdir`, stopped
    on exit. `base` must already be `on_free_ports`."""
    model = model_path(base.rasa_model_dir)
    if not model.is_file():
        raise StartupError(f"no trained Rasa model {model.name}: run `make train`")
    seed_demo_orders(base)
    with supervisor(base, log_dir=workdir / "logs", state_file=workdir / "supervisor.json") as sup:
        sup.start(everything(base, model), on_status=lambda _: None)
        yield sup
