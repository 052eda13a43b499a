"""Token buckets per key (a session, an IP address): in this process's memory, or in
Redis when several gateways share the limits."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from redis.asyncio import Redis

from bot.gateway.redis_client import UNAVAILABLE
from bot.logthrottle import Throttled

log = logging.getLogger(__name__)


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """`rate` messages per second sustained, `burst` at once, for each key."""

    MAX_KEYS = 50_000  # then forget buckets that have refilled (they carry no state)

    def __init__(
        self,
        rate: float,
        burst: int,
        clock: Callable[[], float] = time.monotonic,
        name: str = "",
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be > 0 and burst >= 1")
        self.name = name  # its buckets' keys in Redis
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}

    def _refilled(self, key: str, now: float) -> _Bucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self.MAX_KEYS:
                self._forget_full(now)
            bucket = self._buckets[key] = _Bucket(float(self.burst), now)
        bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate)
        bucket.updated = now
        return bucket

    def retry_after(self, key: str) -> float:
        """0 if `key` may send now, else the seconds until it may."""
        bucket = self._refilled(key, self._clock())
        return 0.0 if bucket.tokens >= 1 else (1 - bucket.tokens) / self.rate

    def take(self, key: str) -> None:
        self._refilled(key, self._clock()).tokens -= 1

    def _forget_full(self, now: float) -> None:
        full = [
            k
            for k, b in self._buckets.items()
            if b.tokens + (now - b.updated) * self.rate >= self.burst
        ]
        for k in full:
            del self._buckets[k]


# Takes one token from every bucket named in KEYS, or none: "0" if taken, else the seconds
# until all could be taken. ARGV holds each bucket's rate and burst in turn. The time is
# Redis's own, so gateways with drifting clocks count alike.
TAKE_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local wait, tokens = 0, {}
for i, key in ipairs(KEYS) do
  local rate, burst = tonumber(ARGV[2 * i - 1]), tonumber(ARGV[2 * i])
  local b = redis.call('HMGET', key, 't', 'u')
  local left = tonumber(b[1]) or burst
  local updated = tonumber(b[2]) or now
  left = math.min(burst, left + math.max(0, now - updated) * rate)
  tokens[i] = left
  if left < 1 then wait = math.max(wait, (1 - left) / rate) end
end
if wait > 0 then return tostring(wait) end
for i, key in ipairs(KEYS) do
  local rate, burst = tonumber(ARGV[2 * i - 1]), tonumber(ARGV[2 * i])
  redis.call('HSET', key, 't', tostring(tokens[i] - 1), 'u', tostring(now))
  redis.call('PEXPIRE', key, math.ceil(burst / rate * 1000) + 1000)
end
return '0'
"""


class Buckets:
    """Takes from several limiters' buckets at once, all or none: in this process, or in
    Redis (`redis`) so every gateway counts the same buckets. Without Redis at hand it
    counts in this process meanwhile (limits hold per gateway) rather than refuse."""

    def __init__(self, redis: Redis | None = None, prefix: str = "") -> None:
        self.redis = redis
        self.prefix = prefix
        self._take = redis.register_script(TAKE_SCRIPT) if redis is not None else None
        self._unreachable = Throttled(log)

    async def take(self, *wants: tuple[RateLimiter, str]) -> float:
        """0 if one token was taken from each bucket, else the seconds to wait (and none
        was taken)."""
        if self._take is not None:
            keys = [f"{self.prefix}:rate:{limiter.name}:{key}" for limiter, key in wants]
            args: list[str | int] = []
            for limiter, _ in wants:
                args += [repr(limiter.rate), limiter.burst]
            try:
                return float(await self._take(keys=keys, args=args))
            except UNAVAILABLE as exc:
                self._unreachable.warning("rate limits counted in this gateway only: %s", exc)
        wait = max(limiter.retry_after(key) for limiter, key in wants)
        if wait <= 0:
            for limiter, key in wants:
                limiter.take(key)
        return wait
