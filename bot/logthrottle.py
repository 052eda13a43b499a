"""Log lines that a client can cause at will, at most one per interval."""

from __future__ import annotations

import logging
import time
from typing import Any


class Throttled:
    """A warning at most every `every` seconds, saying how many were held back: a flood of
    refused connections must not flood the log (nor cost the event loop a line each)."""

    def __init__(self, logger: logging.Logger, every: float = 10.0) -> None:
        self.logger = logger
        self.every = every
        self._last = float("-inf")
        self._held = 0

    def warning(self, message: str, *args: Any) -> None:
        now = time.monotonic()
        if now - self._last < self.every:
            self._held += 1
            return
        self._last = now
        held, self._held = self._held, 0
        if held:
            message += " (and %d more like it since the last such line)"
            args = (*args, held)
        self.logger.warning(message, *args)


def clip(value: str | None, limit: int = 100) -> str:
    """A client-given value as it may appear in a log line: cut short."""
    text = value or ""
    return text if len(text) <= limit else text[:limit] + "…"
