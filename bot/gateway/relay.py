"""Live frames for sockets on every gateway, through one Redis pub/sub channel.

A frame is delivered to this gateway's own sockets first, then published once; every
other gateway delivers it to its own sockets (each skips what it published itself, so
no socket gets a frame twice). Pub/sub keeps nothing: what a gateway misses while it
is cut off from Redis is in the transcript store, and once it is subscribed again it
closes its sockets so the widgets and consoles reconnect and load it again.

Each frame is signed with a key derived from GATEWAY_SECRET (which every gateway of a
deployment shares), with its sender's sequence number and send time: a client that can
publish on the channel but lacks the secret can neither send frames to shoppers or
consoles nor replay old ones; such frames are dropped and logged. A gateway that could
not publish a frame tells the others, once Redis takes frames again, to resync their
sockets.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
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
# A frame older than this (by its signed send time) is not delivered: a replay. Gateways'
# clocks must agree within it (NTP does far better).
FRAME_MAX_AGE_SECONDS = 30.0
RESYNC = "resync"  # "I missed frames": every other gateway resyncs its sockets
RESYNC_QUIET_SECONDS = 5.0  # a gateway's sockets are closed for a resync once in this long
BEAT = "beat"
# A frame signed before this gateway started (allowing for this much clock skew between
# gateways) is not delivered: nobody here was connected then, so it can only be a replay.
CLOCK_SKEW_SECONDS = 2.0


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
        self._sequence = 0  # of this gateway's frames, signed with them
        self._seen: dict[str, dict[int, float]] = {}  # gateway -> {sequence: sent at}
        self._pruned_at = time.time()
        self._missed = False  # a frame could not be published since the last resync
        self._resynced_at = float("-inf")
        self._resyncing: set[asyncio.Task[None]] = set()
        self._started_at = time.time()

    def on(self, kind: str, handler: Handler) -> None:
        """`handler(key, frame)` delivers frames of this kind to this gateway's sockets."""
        self._handlers[kind] = handler

    def on_resync(self, fn: Callable[[], Awaitable[None]]) -> None:
        """Called once the subscription is back after a loss."""
        self._resync.append(fn)

    async def publish(self, kind: str, key: str, frame: dict[str, Any]) -> None:
        if self._missed and kind not in (RESYNC, BEAT):
            # A frame this gateway could not publish never reached the others' sockets:
            # once Redis takes frames again, they reconnect and load what they missed
            # (one resync for however many frames are sent at that moment).
            self._missed = False
            await self.publish(RESYNC, "", {})
        self._sequence += 1
        body = json.dumps(
            {
                "g": self.gateway_id,
                "n": self._sequence,
                "t": time.time(),
                "k": kind,
                "key": key,
                "f": frame,
            }
        ).encode()
        try:
            await self.redis.publish(self.channel, self._sign(body) + body)
            return
        except UNAVAILABLE as exc:
            self._unpublished.warning("a live frame reached this gateway only: %s", exc)
        except RedisError as exc:
            # Redis answers but refuses (an ACL without PUBLISH on the channel, say): a
            # deployment error, said loudly; the shopper's own turn still goes on here.
            self._unpublished.warning(
                "Redis refused a live frame (check GATEWAY_REDIS_URL's user and ACL): %s", exc
            )
        if kind != BEAT:  # a lost beat carried nothing a socket needed
            self._missed = True

    def _resync_sockets(self) -> None:
        """Close this gateway's sockets (they reconnect and load the transcript), in a task
        of its own: delivery goes on meanwhile, whatever a socket's close takes. Once per
        RESYNC_QUIET_SECONDS at most: several gateways' resyncs close the sockets once."""
        now = time.monotonic()
        if now - self._resynced_at < RESYNC_QUIET_SECONDS:
            return
        self._resynced_at = now

        async def resync() -> None:
            for fn in self._resync:
                await fn()

        task = asyncio.create_task(resync())
        self._resyncing.add(task)
        task.add_done_callback(self._resyncing.discard)

    async def run(self) -> None:
        """Stay subscribed (a background task): deliver, and subscribe again when lost."""
        beat = asyncio.create_task(self._beat())
        try:
            await self._subscribed()
        finally:
            beat.cancel()

    async def _beat(self) -> None:
        while True:
            await self.publish(BEAT, "", {})
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
                            self._resync_sockets()
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

    def _sign(self, body: bytes) -> bytes:
        return hmac.new(self._key, body, hashlib.sha256).hexdigest().encode()

    async def _dispatch(self, data: bytes) -> None:
        try:
            signature, body = data[:SIGNATURE_CHARS], data[SIGNATURE_CHARS:]
            if not hmac.compare_digest(signature, self._sign(body)):
                self._forged.warning(
                    "dropped a live frame without a valid signature: something publishes "
                    "on %s without GATEWAY_SECRET (another deployment, or a client that "
                    "should not reach Redis)",
                    self.channel,
                )
                return
            message = json.loads(body)
            sender = str(message["g"])
            if sender == self.gateway_id:
                return  # delivered here before it was published
            if not self._fresh(sender, int(message["n"]), float(message["t"])):
                self._forged.warning("dropped a replayed or stale live frame from %s", sender)
                return
            if message["k"] == RESYNC:
                log.warning("gateway %s missed frames: live sockets reconnect to catch up", sender)
                self._resync_sockets()
                return
            handler = self._handlers.get(message["k"])
            if handler is not None:
                await handler(str(message["key"]), message["f"])
        except Exception:
            # One bad frame must not end the subscription.
            log.exception("a live frame from another gateway could not be delivered")

    def _fresh(self, sender: str, sequence: int, sent_at: float) -> bool:
        """A signed frame is taken once and only while recent: a copy of one (replayed by
        whoever can publish) is not. Frames of one gateway may arrive out of order (its
        publishes use several connections), so each is remembered, not just the latest."""
        now = time.time()
        if abs(now - sent_at) > FRAME_MAX_AGE_SECONDS:
            return False
        if sent_at < self._started_at - CLOCK_SKEW_SECONDS:
            return False
        seen = self._seen.setdefault(sender, {})
        if sequence in seen:
            return False
        seen[sequence] = sent_at
        if now - self._pruned_at > FRAME_MAX_AGE_SECONDS:  # older ones fail the age check
            self._pruned_at = now
            oldest = now - FRAME_MAX_AGE_SECONDS
            for gateway, frames in list(self._seen.items()):
                for n in [n for n, t in frames.items() if t < oldest]:
                    del frames[n]
                if not frames:
                    del self._seen[gateway]
        return True
