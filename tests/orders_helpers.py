"""Shared by the order backend's tests: real databases (a SQLite file, a throw-away
PostgreSQL database), settings, and the demo orders' proofs of ownership."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import create_engine, delete, func, select, text
from sqlalchemy.exc import OperationalError

from bot import stack
from bot.orders.db import Database
from bot.orders.models import Base
from bot.orders.seed import seed
from bot.settings import PROJECT_ROOT, Settings
from bot.supervisor import Supervisor, free_port

TOKEN = "test-orders-token-0123456789-abcdef"  # 32+ bytes: valid in production too
AUTH = {"Authorization": f"Bearer {TOKEN}"}
PG_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"
BACKENDS = ["sqlite", "postgresql"]

DEMO = {
    "KNT-1001": "ava@example.com",
    "KNT-1002": "ben@example.com",
    "KNT-1003": "cara@example.com",
    "KNT-1004": "dan@example.com",
    "KNT-1005": "eve@example.com",
}


def proof(number: str) -> dict[str, str]:
    return {"order_number": number, "email": DEMO[number]}


def settings_for(url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "orders_database_url": url,
        "orders_api_token": SecretStr(TOKEN),
        "environment": "local",
        **overrides,
    }
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def production_settings_for(url: str, **overrides: Any) -> Settings:
    """Settings as a production deployment has them: every secret real and distinct."""
    secrets = {
        name: SecretStr(f"{name}-{uuid.uuid4().hex}")
        for name in ("rasa_token", "orders_staff_token", "gateway_secret", "action_server_token")
    }
    return settings_for(url, environment="production", **{**secrets, **overrides})


@contextmanager
def postgres_database() -> Iterator[str]:
    """A new, uniquely named PostgreSQL database, dropped afterwards. Unreachable
    PostgreSQL fails the test (never skips): these suites must run on both databases."""
    name = f"knt_orders_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(f"{PG_SERVER}/postgres", isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except OperationalError as exc:
        admin.dispose()
        pytest.fail(
            f"PostgreSQL is not reachable at {PG_SERVER} (user postgres, trust auth): {exc}\n"
            "The order backend's tests run on SQLite and PostgreSQL; start PostgreSQL "
            "(e.g. `service postgresql start`).",
            pytrace=False,
        )
    try:
        yield f"{PG_SERVER}/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def database_url(backend: str, folder: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{folder / f'orders-{uuid.uuid4().hex[:8]}.db'}"
    else:
        with postgres_database() as url:
            yield url


@contextmanager
def order_servers(url: str, log_dir: Path, count: int = 1, **overrides: Any) -> Iterator[list[str]]:
    """`count` real order backends (`python -m bot.orders serve`, as `make run` starts
    it) on free ports over the one database `url`; yields their base URLs. Afterwards no
    log may hold a traceback."""
    specs = []
    for i in range(count):
        spec = stack.order_backend(settings_for(url, orders_port=free_port(), **overrides))
        specs.append(dataclasses.replace(spec, name=f"orders-{i + 1}") if i else spec)
    with Supervisor(PROJECT_ROOT, log_dir=log_dir, echo=False) as sup:
        sup.start(specs, on_status=lambda _: None)
        yield [f"http://{spec.host}:{spec.port}" for spec in specs]
    for spec in specs:
        log = (log_dir / f"{spec.name}.log").read_text()
        assert "Traceback" not in log, log


def wipe(url: str) -> None:
    db = Database(url)
    try:
        with db.write_sessions.begin() as session:
            for table in reversed(Base.metadata.sorted_tables):
                session.execute(delete(table))
    finally:
        db.dispose()


def seed_demo(url: str, today: date) -> None:
    db = Database(url)
    try:
        assert seed(db.write_sessions, today).seeded
    finally:
        db.dispose()


def count(url: str, model: type[Base], **where: Any) -> int:
    db = Database(url)
    try:
        with db.read() as session:
            query = select(func.count()).select_from(model).filter_by(**where)
            return int(session.scalar(query) or 0)
    finally:
        db.dispose()


def rows(url: str, model: type[Base], **where: Any) -> list[Any]:
    db = Database(url)
    try:
        with db.read() as session:
            return list(session.scalars(select(model).filter_by(**where)))
    finally:
        db.dispose()
