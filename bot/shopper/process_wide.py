"""The action server's process-wide services, built on first use (never at import) and
then shared: the FAQ engine (loaded once per process, not per message), the FAQ
text, the unanswered-question log and the order backend's client. Settings come from
`bot.settings.get_settings()`, the one way to get them. Tests call `reset()` after
changing the environment.
"""

from __future__ import annotations

from functools import lru_cache

from bot.faq.corpus import Corpus, load_corpus
from bot.faq.engine import FaqEngine
from bot.faq.text import Lemmatizer
from bot.faq.unanswered import UnansweredLog
from bot.settings import get_settings
from bot.shopper.order_backend import OrderClient


@lru_cache(maxsize=1)
def faq_engine() -> FaqEngine:
    return FaqEngine.load(get_settings(), corpus=faq_corpus())  # one FAQ text per process


@lru_cache(maxsize=1)
def faq_corpus() -> Corpus:
    """The store's FAQ text alone (no model): what refusals quote as the store's rules."""
    return load_corpus(get_settings().faq_corpus_dir)


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
    for cached in (get_settings, faq_engine, faq_corpus, unanswered_log, order_client):
        cached.cache_clear()
