"""The gateways' Redis client: redis-py's asyncio API, set up the way the shared parts
expect (short timeouts, one quick retry), and the errors that mean Redis is out of reach.

Any URL redis-py takes works: `redis://`, `rediss://` (TLS), `unix://`, with a user,
password and database number.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import MasterDownError, OutOfMemoryError, ReadOnlyError
from redis.exceptions import TimeoutError as RedisTimeoutError

# Redis answers in well under a millisecond: a gateway waits this long at most before it
# carries on without it (counting limits itself, taking its own lock only).
TIMEOUT_SECONDS = 2.0

# What a lost, stopped or silent Redis raises, or one that takes no writes for now (a
# primary demoted in a failover, a replica cut from its primary, a full one with
# noeviction). Anything else (a failing script, a bad command) is a bug and is not caught
# as "Redis is away".
UNAVAILABLE = (
    RedisConnectionError,
    RedisTimeoutError,
    ReadOnlyError,
    OutOfMemoryError,
    MasterDownError,
)


# A Redis that timed out is not asked again for this long: a frozen one (taking
# connections, answering nothing) would otherwise cost each message TIMEOUT_SECONDS per
# call (a lock, a rate limit, a publish) instead of once per window.
SKIP_AFTER_TIMEOUT_SECONDS = 5.0


class SkippingRedis(Redis):
    """redis-py's client, with a circuit breaker: after a timeout, every command fails at
    once (as unreachable) for `skip_seconds`; then one command is tried (the others
    still fail at once until it is answered), and if it times out too, the window
    starts again."""

    skip_seconds = SKIP_AFTER_TIMEOUT_SECONDS
    _skip_until = 0.0

    async def execute_command(self, *args: Any, **options: Any) -> Any:
        now = time.monotonic()
        if now < self._skip_until:
            raise RedisConnectionError(
                f"not asked: Redis timed out less than {self.skip_seconds:.0f} s ago"
            )
        tripped = self._skip_until > 0
        if tripped:  # this call is the one trial: the others keep failing at once
            self._skip_until = now + TIMEOUT_SECONDS + 1.0
        try:
            result = await super().execute_command(*args, **options)  # type: ignore[no-untyped-call]
        except RedisTimeoutError:
            self._skip_until = time.monotonic() + self.skip_seconds
            raise
        except asyncio.CancelledError:
            if tripped:  # the trial was cut short (its caller left): the next call is one
                self._skip_until = time.monotonic()
            raise
        except BaseException:
            if tripped:  # not a timeout: Redis answered or is plainly down; others may try
                self._skip_until = 0.0
            raise
        self._skip_until = 0.0
        return result


def connect(
    url: str, *, retries: int = 1, skip_seconds: float = SKIP_AFTER_TIMEOUT_SECONDS
) -> Redis:
    """A client with a pool of connections to `url` (connected on first use).

    `retries`: a connection that went away while idle fails at once, so a command is
    tried once more on a new one; a timeout is never tried again (the command may have
    run). A subscriber takes 0: it must notice each loss, as pub/sub keeps nothing.
    `skip_seconds`: how long the client fails at once after a timeout (SkippingRedis)."""
    client = SkippingRedis.from_url(
        url,
        socket_timeout=TIMEOUT_SECONDS,
        socket_connect_timeout=TIMEOUT_SECONDS,
        retry=Retry(NoBackoff(), retries, supported_errors=(RedisConnectionError,)),
    )
    assert isinstance(client, SkippingRedis)  # from_url builds the class it is called on
    client.skip_seconds = skip_seconds
    return client
