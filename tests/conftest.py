from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.settings import PROJECT_ROOT, Settings

# Unset ENVIRONMENT means production, which refuses the development secrets the tests
# use: set it before any Settings() is built here or in a child process the tests start.
os.environ["ENVIRONMENT"] = "local"

DATA = PROJECT_ROOT / "tests" / "data"
CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
]


@pytest.fixture(scope="session")
def settings() -> Settings:
    return Settings()


@pytest.fixture(scope="session")
def engine(settings: Settings):  # type: ignore[no-untyped-def]
    """The real engine with the project's trained encoder and warm caches (`make train`)."""
    from bot.faq import FaqEngine

    return FaqEngine.load(settings)


@pytest.fixture(scope="session")
def live(settings: Settings, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """The real order backend, action server, Rasa server and gateway, once per session."""
    from .live import live_stack

    with live_stack(settings, tmp_path_factory.mktemp("live")) as running:
        yield running


@pytest.fixture(scope="session")
def live_gateway(live):  # type: ignore[no-untyped-def]
    """The gateway of the live stack; `.url` is its base URL (storefront at `/`)."""
    return live


@pytest.fixture
def corpus_dir(tmp_path: Path) -> Path:
    """A writable copy of the shipped corpus."""
    target = tmp_path / "faq_corpus"
    target.mkdir()
    for f in (PROJECT_ROOT / "faq_corpus").glob("*.yml"):
        (target / f.name).write_text(f.read_text(encoding="utf-8"), encoding="utf-8")
    return target


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's headless Chromium driven by Playwright (never Playwright's own download)."""
    if not CHROMIUM.exists():
        pytest.fail(f"no Chromium at {CHROMIUM}: `make test` installs it (apt chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def changeable_order(live_gateway: Any) -> tuple[str, str]:
    """An order of our own still in production with its one change unused: the demo
    orders are shared by the whole test session, and other suites use up their changes."""
    import uuid
    from datetime import UTC, datetime

    from sqlalchemy.orm import Session

    from bot.orders.db import create_orders_engine
    from bot.orders.models import Customer, Item, Order, Payment

    number = f"KNT-{uuid.uuid4().int % 90000 + 10000}"
    email = f"wendy-{uuid.uuid4().hex[:8]}@example.com"
    now = datetime.now(UTC)
    engine = create_orders_engine(live_gateway.settings.orders_database_url)
    try:
        with Session(engine) as session, session.begin():
            session.add(
                Order(
                    order_number=number,
                    customer=Customer(email=email, name="Wendy Browser", created_at=now),
                    status="in_production",
                    placed_at=now,
                    items=[
                        Item(
                            product="Solitaire Diamond Ring",
                            gemstone="diamond",
                            metal="white gold",
                            ring_size="6",
                        )
                    ],
                    payment=Payment(method="card"),
                )
            )
    finally:
        engine.dispose()
    return number, email
