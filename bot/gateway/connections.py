"""Open widget connections per client IP, capped: in this process, or in Redis so the
cap holds across gateways.

In Redis each IP has a sorted set of its open connections (`gateway id:number`), each
scored with the moment it expires; the gateway pushes that moment forward for its own
connections on every heartbeat. A gateway that dies stops doing so, and its
connections stop counting within `ttl` seconds.
"""

from __future__ import annotations

import itertools
import logging

from redis.asyncio import Redis

from bot.gateway.redis_client import UNAVAILABLE
from bot.logthrottle import Throttled

log = logging.getLogger(__name__)

OPEN = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
"""
REFRESH = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
for i, key in ipairs(KEYS) do
  redis.call('ZADD', key, now + tonumber(ARGV[1]), ARGV[i + 1])
  redis.call('PEXPIRE', key, ARGV[1])
end
return #KEYS
"""


class ConnectionCap:
    def __init__(
        self,
        limit: int,
        redis: Redis | None = None,
        prefix: str = "",
        gateway_id: str = "",
        ttl: float = 30.0,
    ) -> None:
        self.limit = limit
        self.redis = redis
        self.prefix = prefix
        if redis is not None:
            self._open_script = redis.register_script(OPEN)
            self._refresh_script = redis.register_script(REFRESH)
        self.gateway_id = gateway_id
        self.ttl_ms = int(ttl * 1000)
        self._numbers = itertools.count(1)
        self._open: dict[str, int] = {}  # this gateway's open connections per IP
        self._tickets: dict[str, str] = {}  # ticket -> IP, kept alive by refresh()
        self._unreachable = Throttled(log)

    def _key(self, ip: str) -> str:
        return f"{self.prefix}:conns:{ip}"

    async def open(self, ip: str) -> str | None:
        """A ticket for one more connection from `ip`, or None when it has `limit`."""
        ticket = f"{self.gateway_id}:{next(self._numbers)}"
        if self.redis is not None:
            try:
                if not await self._open_script(
                    keys=[self._key(ip)], args=[self.limit, self.ttl_ms, ticket]
                ):
                    return None
                self._tickets[ticket] = ip
                self._open[ip] = self._open.get(ip, 0) + 1
                return ticket
            except UNAVAILABLE as exc:
                self._unreachable.warning("connections capped in this gateway only: %s", exc)
        if self._open.get(ip, 0) >= self.limit:
            return None
        self._open[ip] = self._open.get(ip, 0) + 1
        return ticket

    async def close(self, ip: str, ticket: str) -> None:
        left = self._open.get(ip, 1) - 1
        if left > 0:
            self._open[ip] = left
        else:
            self._open.pop(ip, None)
        if self._tickets.pop(ticket, None) is not None and self.redis is not None:
            try:
                await self.redis.zrem(self._key(ip), ticket)
            except UNAVAILABLE as exc:  # it expires within ttl all the same
                self._unreachable.warning("could not release a connection in Redis: %s", exc)

    async def refresh(self) -> None:
        """The heartbeat: this gateway's connections are still open."""
        if self.redis is None or not self._tickets:
            return
        tickets = list(self._tickets.items())
        await self._refresh_script(
            keys=[self._key(ip) for _, ip in tickets], args=[self.ttl_ms, *(t for t, _ in tickets)]
        )

    @property
    def heartbeat_seconds(self) -> float:
        return self.ttl_ms / 3000
