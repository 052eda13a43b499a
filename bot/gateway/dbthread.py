"""The thread(s) the gateway runs its synchronous database calls in."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")


class DbThread:
    def __init__(self, database_url: str) -> None:
        # One database thread for SQLite: its writers take turns anyway, and concurrent
        # write transactions from several threads end in SQLite's busy-wait back-off
        # (sleeps of up to 100 ms), which is where the latency went.
        sqlite = database_url.startswith("sqlite")
        self._pool = ThreadPoolExecutor(max_workers=1 if sqlite else 8, thread_name_prefix="db")

    async def __call__(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a store call in the database thread(s) and wait for its result."""
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    def close(self) -> None:
        self._pool.shutdown(wait=True)
