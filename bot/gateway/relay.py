"""Live frames for sockets on every gateway, through one Redis pub/sub channel.

A frame is delivered to this gateway's own sockets first, then published once; every
other gateway delivers it to its own sockets (each skips what it published itself, so
no socket gets a frame twice). Pub/sub keeps nothing: what a gateway misses while it
is cut off from Redis is in the transcript store, and once it is subscribed again it
closes its sockets so the widgets and consoles reconnect and load it again.

Each frame is signed with a key derived from GATEWAY_SECRET (which every gateway of a
deployment shares): a client that can publish on the channel but lacks the secret
cannot send frames to shoppers or consoles; such frames are dropped and logged.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from bot.gateway.redis_client import UNAVAILABLE
from bot.logthrottle import Throttled

log = logging.getLogger(__name__)

Handler = Callable[[str, dict[str, Any]], Awaitable[None]]
RESUBSCRIBE_MAX_SECONDS = 5.0
# Each gateway publishes a beat this often and hears its own: a subscription silent for
# SILENCE_SECONDS is taken as lost (a connection cut without a word from the network).
BEAT_SECONDS = 5.0
SILENCE_SECONDS = 15.0
SIGNATURE_CHARS = 64  # hex HMAC-SHA256 before each frame's JSON


def frame_key(gateway_secret: str) -> bytes:
    """The relay's signing key: derived, so a frame's signature never helps forge a
    session token signed with the secret itself."""
    return hmac.new(gateway_secret.encode(), b"knt relay frames v1", hashlib.sha256).digest()


class Relay:
    def __init__(
        self, redis: Redis, subscriber: Redis, prefix: str, gateway_id: str, *, key: bytes
    ) -> None:
        """`subscriber`: a client of its own that never reconnects by itself (a lost
        subscription must be noticed: what was published meanwhile is gone). `key`:
        `frame_key(GATEWAY_SECRET)`, the same on every gateway."""
        self.redis = redis
        self.subscriber = subscriber
        # Pub/sub ignores the database number: two deployments on one Redis told apart
        # only by "/1" and "/2" would hear each other without it in the channel's name.
        db = redis.connection_pool.connection_kwargs.get("db", 0)
        self.channel = f"{prefix}:{db}:live"
        self.gateway_id = gateway_id
        self.state = "connecting"  # "ok", or why not: shown by /healthz
        self._handlers: dict[str, Handler] = {}
        self._resync: list[Callable[[], Awaitable[None]]] = []
        self._unpublished = Throttled(log)
        self._key = key
        self._forged = Throttled(log)

    def on(self, kind: str, handler: Handler) -> None:
        """`handler(key, frame)` delivers frames of this kind to this gateway's sockets."""
        self._handlers[kind] = handler

    def on_resync(self, fn: Callable[[], Awaitable[None]]) -> None:
        """Called once the subscription is back after a loss."""
        self._resync.append(fn)

    async def publish(self, kind: str, key: str, frame: dict[str, Any]) -> None:
        body = json.dumps({"g": self.gateway_id, "k": kind, "key": key, "f": frame})
        data = self._sign(body) + body
        try:
            await self.redis.publish(self.channel, data)
        except UNAVAILABLE as exc:
            # The other gateways' sockets miss it; they resync when Redis is back.
            self._unpublished.warning("a live frame reached this gateway only: %s", exc)
        except RedisError as exc:
            # Redis answers but refuses (an ACL without PUBLISH on the channel, say): a
            # deployment error, said loudly; the shopper's own turn still goes on here.
            self._unpublished.warning(
                "Redis refused a live frame (check GATEWAY_REDIS_URL's user and ACL): %s", exc
            )

    async def run(self) -> None:
        """Stay subscribed (a background task): deliver, and subscribe again when lost."""
        beat = asyncio.create_task(self._beat())
        try:
            await self._subscribed()
        finally:
            beat.cancel()

    async def _beat(self) -> None:
        while True:
            await self.publish("beat", "", {})
            await asyncio.sleep(BEAT_SECONDS)

    async def _subscribed(self) -> None:
        lost, pause = False, 0.1
        while True:
            messages = self._messages()
            try:
                while True:
                    try:
                        data = await asyncio.wait_for(anext(messages), SILENCE_SECONDS)
                    except TimeoutError:
                        raise RedisTimeoutError(
                            f"nothing heard from Redis in {SILENCE_SECONDS:.0f} s"
                        ) from None
                    if not data:  # subscribed
                        self.state, pause = "ok", 0.1
                        if lost:
                            lost = False
                            log.warning("Redis is back: live sockets reconnect to catch up")
                            for fn in self._resync:
                                await fn()
                        continue
                    await self._dispatch(data)
            except UNAVAILABLE as exc:
                if not lost:
                    log.warning("live delivery between gateways lost: %s", exc)
                self.state, lost = f"unreachable: {type(exc).__name__}", True
            except RedisError as exc:
                # Redis answers but refuses to subscribe (an ACL without SUBSCRIBE, say):
                # not a reason to stop trying quietly; it works once the ACL is fixed.
                if not lost:
                    log.error(
                        "Redis refused the live channel (check GATEWAY_REDIS_URL's user "
                        "and ACL): %s",
                        exc,
                    )
                self.state, lost = f"refused: {type(exc).__name__}", True
            finally:
                await messages.aclose()
            await asyncio.sleep(pause)
            pause = min(RESUBSCRIBE_MAX_SECONDS, pause * 2)

    async def _messages(self) -> AsyncGenerator[bytes]:
        """Each message's data on the channel; b"" once subscribed."""
        async with self.subscriber.pubsub() as pubsub:
            await pubsub.subscribe(self.channel)
            async for message in pubsub.listen():
                if message["type"] == "subscribe":
                    yield b""
                elif message["type"] == "message":
                    yield message["data"]

    def _sign(self, body: str) -> str:
        return hmac.new(self._key, body.encode(), hashlib.sha256).hexdigest()

    async def _dispatch(self, data: bytes) -> None:
        text = data.decode("utf-8", "replace")
        signature, body = text[:SIGNATURE_CHARS], text[SIGNATURE_CHARS:]
        if not hmac.compare_digest(signature, self._sign(body)):
            self._forged.warning(
                "dropped a live frame without a valid signature: something publishes on "
                "%s without GATEWAY_SECRET (another deployment, or a client it should not be)",
                self.channel,
            )
            return
        try:
            message = json.loads(body)
            if message["g"] == self.gateway_id:
                return  # delivered here before it was published
            handler = self._handlers.get(message["k"])
            if handler is not None:
                await handler(str(message["key"]), message["f"])
        except Exception:
            # One bad frame must not end the subscription.
            log.exception("a live frame from another gateway could not be delivered")
