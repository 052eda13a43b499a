"""One lock per conversation, so its turns (Rasa replies, claims, hand-backs) never
interleave: an asyncio lock in this process, and with Redis a lock every gateway takes.

The Redis lock is a key holding its owner's random token, set only if absent, with a
time-to-live that the owner keeps extending while it holds it: a gateway that dies
holding one frees it within `ttl` seconds. Only the owner's token deletes it.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

from redis.asyncio import Redis

from bot.gateway.redis_client import UNAVAILABLE
from bot.logthrottle import Throttled

log = logging.getLogger(__name__)

RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
EXTEND = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""


class ConversationLocks:
    def __init__(self, redis: Redis | None = None, prefix: str = "", ttl: float = 15.0) -> None:
        self.redis = redis
        self.prefix = prefix
        if redis is not None:
            self._release = redis.register_script(RELEASE)
            self._extend = redis.register_script(EXTEND)
        self.ttl_ms = int(ttl * 1000)
        # One asyncio lock per conversation, dropped when nobody holds it: this process's
        # own turns queue here instead of polling Redis.
        self._local: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()
        self._unreachable = Throttled(log)

    def _lock(self, conversation_id: str) -> asyncio.Lock:
        lock = self._local.get(conversation_id)
        if lock is None:
            lock = self._local[conversation_id] = asyncio.Lock()
        return lock

    @asynccontextmanager
    async def hold(self, conversation_id: str, *, shared: bool = False) -> AsyncIterator[None]:
        """The conversation's lock. `shared`: only the lock every gateway takes will do
        (one of UNAVAILABLE without it), for work any gateway could be doing at the same
        moment (the retry loop); a shopper's own turn goes on without it."""
        async with self._lock(conversation_id):
            if self.redis is None:
                yield
                return
            key, token = f"{self.prefix}:lock:{conversation_id}", secrets.token_hex(16)
            held = await self._acquire(self.redis, key, token, shared)
            keeper = asyncio.create_task(self._keep(self.redis, key, token)) if held else None
            try:
                yield
            finally:
                if keeper is not None:
                    keeper.cancel()
                    with suppress(asyncio.CancelledError):
                        await keeper
                    with suppress(*UNAVAILABLE):  # it expires on its own then
                        await self._release(keys=[key], args=[token])

    async def _acquire(self, redis: Redis, key: str, token: str, shared: bool) -> bool:
        """Wait for the lock (a turn takes seconds at most); False if Redis cannot be
        reached: the turn then goes on under this process's lock alone (one gateway's
        order kept, and Rasa's own lock store still orders its turns)."""
        pause = 0.01
        while True:
            try:
                if await redis.set(key, token, nx=True, px=self.ttl_ms):
                    return True
            except UNAVAILABLE as exc:
                if shared:
                    raise
                self._unreachable.warning("conversation lock taken in this gateway only: %s", exc)
                return False
            await asyncio.sleep(pause)
            pause = min(0.2, pause * 2)

    async def _keep(self, redis: Redis, key: str, token: str) -> None:
        while True:
            await asyncio.sleep(self.ttl_ms / 3000)
            try:
                if not await self._extend(keys=[key], args=[token, self.ttl_ms]):
                    log.error("the lock %s expired while held (Redis lost it or was slow)", key)
                    return
            except UNAVAILABLE as exc:
                log.warning("could not extend %s: %s", key, exc)
