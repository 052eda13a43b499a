"""A small asyncio Redis client (RESP2): the handful of commands the gateways share state
with (scripts, SET, PUBLISH) on one connection, and a subscription on its own connection.

The app runtime carries no Redis package, and the gateway needs little of one; a lost
connection is opened again on the next command.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

Reply = Any  # str | int | bytes | None | list[Reply]


class RedisError(Exception):
    """Redis answered with an error (a bad command or a failing script)."""


class RedisUnavailable(ConnectionError):
    """Redis could not be reached or did not answer in time."""


@dataclass(frozen=True)
class RedisAddress:
    host: str
    port: int
    db: int
    username: str | None
    password: str | None

    @classmethod
    def parse(cls, url: str) -> RedisAddress:
        parts = urlsplit(url)
        if parts.scheme != "redis":
            raise ValueError(f"not a redis:// URL: {url!r}")
        path = parts.path.strip("/")
        return cls(
            host=parts.hostname or "127.0.0.1",
            port=parts.port or 6379,
            db=int(path) if path else 0,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
        )


def encode(args: tuple[object, ...]) -> bytes:
    out = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = arg if isinstance(arg, bytes) else str(arg).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


async def read_reply(reader: asyncio.StreamReader) -> Reply:
    """One reply; an error reply is returned as a RedisError (raised by the caller, so an
    error inside an array does not leave the rest of it unread)."""
    line = await reader.readuntil(b"\r\n")
    kind, rest = line[:1], line[1:-2]
    if kind == b"+":
        return rest.decode()
    if kind == b"-":
        return RedisError(rest.decode())
    if kind == b":":
        return int(rest)
    if kind == b"$":
        size = int(rest)
        if size < 0:
            return None
        return (await reader.readexactly(size + 2))[:-2]
    if kind == b"*":
        size = int(rest)
        if size < 0:
            return None
        return [await read_reply(reader) for _ in range(size)]
    raise RedisUnavailable(f"unexpected reply from Redis: {line[:40]!r}")


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, address: RedisAddress) -> _Connection:
        reader, writer = await asyncio.open_connection(address.host, address.port)
        conn = cls(reader, writer)
        if address.password is not None:
            auth = (address.username, address.password) if address.username else (address.password,)
            await conn.call("AUTH", *auth)
        if address.db:
            await conn.call("SELECT", address.db)
        return conn

    async def call(self, *args: object) -> Reply:
        self.writer.write(encode(args))
        await self.writer.drain()
        reply = await read_reply(self.reader)
        if isinstance(reply, RedisError):
            raise reply
        return reply

    def close(self) -> None:
        self.writer.close()


class Redis:
    """Commands one at a time on one connection (Redis answers in well under a
    millisecond, so the gateways' few calls per message need no pool)."""

    def __init__(self, url: str, timeout: float = 2.0) -> None:
        self.address = RedisAddress.parse(url)
        self.timeout = timeout
        self._conn: _Connection | None = None
        self._lock = asyncio.Lock()

    async def call(self, *args: object) -> Reply:
        async with self._lock:
            # A connection that went away while idle fails at once: one more try on a new
            # one. A timeout is never tried again (the command may have run).
            for attempt in (1, 2):
                fresh = self._conn is None
                try:
                    if self._conn is None:
                        self._conn = await asyncio.wait_for(
                            _Connection.open(self.address), self.timeout
                        )
                    return await asyncio.wait_for(self._conn.call(*args), self.timeout)
                except RedisError:
                    raise
                except (OSError, EOFError, asyncio.IncompleteReadError, TimeoutError) as exc:
                    self._drop()
                    if fresh or attempt == 2 or isinstance(exc, TimeoutError):
                        raise RedisUnavailable(
                            f"Redis at {self.address.host}:{self.address.port}: "
                            f"{type(exc).__name__} {exc}".strip()
                        ) from exc
            raise AssertionError("unreachable")

    async def script(self, source: str, keys: list[str], args: list[object]) -> Reply:
        """Run a Lua script (EVALSHA, loading it once per connection when Redis lacks it)."""
        sha = hashlib.sha1(source.encode()).hexdigest()
        try:
            return await self.call("EVALSHA", sha, len(keys), *keys, *args)
        except RedisError as exc:
            if not str(exc).startswith("NOSCRIPT"):
                raise
        return await self.call("EVAL", source, len(keys), *keys, *args)

    async def subscribe(self, *channels: str) -> AsyncGenerator[tuple[str, bytes]]:
        """(channel, data) of each message, on a connection of its own; yields
        ("", b"") once subscribed; RedisUnavailable when the connection is lost."""
        try:
            conn = await asyncio.wait_for(_Connection.open(self.address), self.timeout)
        except (OSError, TimeoutError) as exc:
            raise RedisUnavailable(f"subscribing to Redis: {type(exc).__name__} {exc}") from exc
        try:
            conn.writer.write(encode(("SUBSCRIBE", *channels)))
            await conn.writer.drain()
            confirmed = 0
            while True:
                reply = await read_reply(conn.reader)
                if not isinstance(reply, list) or len(reply) != 3:
                    continue
                kind = reply[0]
                if kind == b"subscribe":
                    confirmed += 1
                    if confirmed == len(channels):
                        yield "", b""
                elif kind == b"message":
                    yield reply[1].decode(), reply[2]
        except (OSError, EOFError, asyncio.IncompleteReadError) as exc:
            raise RedisUnavailable(f"Redis subscription lost: {type(exc).__name__}") from exc
        finally:
            conn.close()

    def _drop(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    async def aclose(self) -> None:
        async with self._lock:
            self._drop()
