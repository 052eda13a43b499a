from __future__ import annotations

from pathlib import Path

import pytest

from bot.settings import PROJECT_ROOT, Settings

DATA = PROJECT_ROOT / "tests" / "data"


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
