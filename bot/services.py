"""Process-wide services, built on first use (never at import) and then shared.

The action server calls these from its actions, so the FAQ engine is loaded once per
process, not per message. Tests call `reset()` after changing the environment.
"""

from __future__ import annotations

from functools import lru_cache

from bot.faq.engine import FaqEngine
from bot.faq.text import Lemmatizer
from bot.faq.unanswered import UnansweredLog
from bot.order_client import OrderClient
from bot.settings import Settings, get_settings


def settings() -> Settings:
    return get_settings()


@lru_cache(maxsize=1)
def faq_engine() -> FaqEngine:
    return FaqEngine.load(get_settings())


@lru_cache(maxsize=1)
def unanswered_log() -> UnansweredLog:
    return UnansweredLog(get_settings().database_url)


@lru_cache(maxsize=1)
def order_client() -> OrderClient:
    return OrderClient(get_settings())


def lemmatizer() -> Lemmatizer:
    """The FAQ engine's spaCy lemmatizer (one pipeline per process)."""
    return faq_engine().lemmatizer


def reset() -> None:
    for cached in (get_settings, faq_engine, unanswered_log, order_client):
        cached.cache_clear()
