"""Two gateways side by side (issue 12): two real gateway processes (`python -m
bot.gateway`) on one PostgreSQL database and one Redis, in front of the live stack's
Rasa server, action server and order backend. Shoppers and agents connect to either;
nothing lives in one gateway only."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy import create_engine, select
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from bot.gateway import redis_client
from bot.gateway.connections import ConnectionCap
from bot.gateway.locks import RELEASE, ConversationLocks
from bot.gateway.rasa_client import RasaClient, RasaUnavailable, RasaUnreachable, rank
from bot.gateway.ratelimit import Buckets, RateLimiter
from bot.gateway.relay import Relay, frame_key
from bot.gateway.transcripts import TranscriptStore, chat_messages
from bot.rasa_auth import rasa_auth_headers
from bot.settings import Settings
from bot.staff.desk import StaffHub
from bot.supervisor import free_port

from .live import Gateway
from .live import gateway_process as live_gateway
from .orders_helpers import postgres_database
from .staff_helpers import PASSWORD, add_agent
from .widget_client import WidgetClient

pytestmark = pytest.mark.slow

REDIS_URL = "redis://127.0.0.1:6379/0"
SHOP = "http://shop.test"
CONSOLE = "http://console.test"
DEAD_RASA = f"http://127.0.0.1:{free_port()}"  # nothing listens there
MAX_CONNECTIONS = 4  # per IP, over both gateways
KEY = frame_key("a test's gateway secret")
SESSION_BURST = 5  # messages one session may send (the rate refills next to nothing here)


@dataclass
class Pair:
    settings: Settings
    a: Gateway
    b: Gateway
    prefix: str


def redis_cli(*args: str) -> str:
    done = subprocess.run(
        ["redis-cli", "-u", REDIS_URL, *args],
        check=True,
        capture_output=True,
        text=True,
    )
    return done.stdout


def redis_ok(health: httpx.Response) -> bool:
    """A gateway is ready for these tests once it is subscribed to Redis."""
    return bool(health.json().get("redis") == "ok")


def gateway_process(settings: Settings, port: int, log: Path) -> AbstractContextManager[Gateway]:
    """A gateway through the project's own entry point, on `port`, once Redis is live."""
    return live_gateway(settings.model_copy(update={"gateway_port": port}), log, ready=redis_ok)


@pytest.fixture(scope="module")
def pair(settings, live, tmp_path_factory) -> Iterator[Pair]:  # type: ignore[no-untyped-def]
    prefix = f"knt-test-{uuid.uuid4().hex[:10]}"
    logs = tmp_path_factory.mktemp("gateways")
    with postgres_database() as database_url, ExitStack() as running:
        port_a, port_b = free_port(), free_port()
        s = live.settings.model_copy(
            update={
                "database_url": database_url,
                # Two Rasa servers, one of them never up: the conversations whose server it
                # is move to the other (there is one live Rasa on these 2 cores).
                "rasa_urls": f"{DEAD_RASA},{live.settings.rasa_url}",
                "gateway_redis_url": REDIS_URL,
                "gateway_redis_prefix": prefix,
                "gateway_allowed_origins": [SHOP],
                "staff_allowed_origins": [CONSOLE],
                "gateway_max_connections_per_ip": MAX_CONNECTIONS,
                "gateway_session_burst": SESSION_BURST,
                "gateway_session_rate": 0.001,
                "staff_claim_timeout_seconds": 300,
            }
        )
        try:
            a = running.enter_context(gateway_process(s, port_a, logs / "a.log"))
            b = running.enter_context(gateway_process(s, port_b, logs / "b.log"))
            yield Pair(s, a, b, prefix)
        finally:
            running.close()
            keys = redis_cli("--scan", "--pattern", f"{prefix}:*").split()
            if keys:
                redis_cli("DEL", *keys)


# --- clients ----------------------------------------------------------------------------
def widget(gateway: Gateway) -> WidgetClient:
    return WidgetClient.connect(gateway.url, SHOP)


def about(message_id: str) -> Callable[[dict[str, Any]], bool]:
    """Accepts the frames about one message (its ack or its error)."""
    return lambda frame: frame.get("id") == message_id


def until(ws: WidgetClient, accept: Callable[[dict[str, Any]], bool], timeout: float = 60) -> Any:
    """Frames up to and with the first one `accept` takes."""
    deadline, seen = time.monotonic() + timeout, []
    while True:
        frame = ws.recv(deadline - time.monotonic())
        seen.append(frame)
        if accept(frame):
            return seen


def settled(ws: WidgetClient) -> None:
    """Wait until the tab's hello is done: what was stored while it joined is sent once
    more right after the session frame (by design: the widget keeps one by id)."""
    ws.send_json({"type": "ping"})
    until(ws, lambda f: f["type"] == "pong")


def turn_end(frame: dict[str, Any]) -> bool:
    return frame["type"] == "typing" and frame["on"] is False and "who" not in frame


def quiet(ws: WidgetClient | ClientConnection, seconds: float = 1.0) -> list[dict[str, Any]]:
    """Whatever else arrives within `seconds` (nothing, when delivery is exactly once)."""
    frames, deadline = [], time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        try:
            raw = ws.ws.recv(timeout=left) if isinstance(ws, WidgetClient) else ws.recv(left)
        except TimeoutError:
            break
        frames.append(json.loads(raw))
    return frames


class Console:
    """An agent logged in on one gateway: its API and its live socket."""

    def __init__(self, gateway: Gateway, email: str) -> None:
        self.http = httpx.Client(base_url=gateway.url, headers={"origin": CONSOLE}, timeout=30)
        r = self.http.post("/api/staff/login", json={"email": email, "password": PASSWORD})
        assert r.status_code == 200, r.text
        self.csrf = r.json()["csrf_token"]
        cookie = f"knt_staff={r.cookies['knt_staff']}"
        self.http.headers["cookie"] = cookie
        self.ws = connect(
            gateway.url.replace("http://", "ws://") + "/staff/ws",
            origin=CONSOLE,  # type: ignore[arg-type]
            additional_headers={"cookie": cookie},
        )
        assert self.frame()["type"] == "ready"

    def frame(self, timeout: float = 30) -> dict[str, Any]:
        frame: dict[str, Any] = json.loads(self.ws.recv(timeout=timeout))
        return frame

    def until(self, accept: Callable[[dict[str, Any]], bool], timeout: float = 30) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            frame = self.frame(deadline - time.monotonic())
            if accept(frame):
                return frame

    def send(self, frame: dict[str, Any]) -> None:
        self.ws.send(json.dumps(frame))

    def post(self, path: str, body: Any = None) -> httpx.Response:
        return self.http.post(path, json=body, headers={"x-csrf-token": self.csrf})

    def close(self) -> None:
        self.ws.close()
        self.http.close()


def conversation_of(s: Settings, session_id: str) -> str:
    return TranscriptStore(s.database_url).current(session_id).id


def rasa_user_texts(s: Settings, conversation_id: str) -> list[str]:
    r = httpx.get(
        f"{s.rasa_url}/conversations/{conversation_id}/tracker",
        headers=rasa_auth_headers(s),
        timeout=10,
    )
    r.raise_for_status()
    return [e.get("text") for e in r.json()["events"] if e["event"] == "user"]


# --- tests ------------------------------------------------------------------------------
# --- the shared parts on the real Redis, without gateways ------------------------------
@contextmanager
def redis_prefix() -> Iterator[tuple[Redis, str]]:
    prefix = f"knt-test-{uuid.uuid4().hex[:10]}"
    try:
        yield redis_client.connect(REDIS_URL), prefix
    finally:
        keys = redis_cli("--scan", "--pattern", f"{prefix}:*").split()
        if keys:
            redis_cli("DEL", *keys)


def test_a_conversation_lock_is_released_only_by_its_owner_and_outlives_a_long_turn() -> None:
    async def run(redis: Redis, prefix: str) -> list[str]:
        a, b = ConversationLocks(redis, prefix, ttl=0.6), ConversationLocks(redis, prefix, ttl=0.6)
        order: list[str] = []

        async def turn(locks: ConversationLocks, name: str) -> None:
            async with locks.hold("c1"):
                order.append(f"{name} in")
                await asyncio.sleep(1.5)  # longer than the time-to-live: kept alive
                order.append(f"{name} out")

        await asyncio.gather(turn(a, "a"), turn(b, "b"))
        # Someone else's lock is never deleted by a stale owner's release.
        await redis.set(f"{prefix}:lock:c2", "someone-else", px=5000)
        release = redis.register_script(RELEASE)
        assert await release(keys=[f"{prefix}:lock:c2"], args=["my-old-token"]) == 0
        assert await redis.get(f"{prefix}:lock:c2") == b"someone-else"
        await redis.aclose()
        return order

    with redis_prefix() as (redis, prefix):
        order = asyncio.run(run(redis, prefix))
    assert order in (["a in", "a out", "b in", "b out"], ["b in", "b out", "a in", "a out"])


def test_buckets_take_from_all_or_none() -> None:
    session, ip = RateLimiter(0.001, 2, name="session"), RateLimiter(0.001, 3, name="ip")

    async def run(redis: Redis, prefix: str) -> list[float]:
        one, other = Buckets(redis, prefix), Buckets(redis, prefix)  # two gateways
        waits = [
            await one.take((session, "s1"), (ip, "1.2.3.4")),
            await other.take((session, "s1"), (ip, "1.2.3.4")),
            await one.take((session, "s1"), (ip, "1.2.3.4")),  # s1 is empty
            await other.take((session, "s2"), (ip, "1.2.3.4")),  # the IP's third
            await one.take((session, "s3"), (ip, "1.2.3.4")),  # the IP is empty
        ]
        await redis.aclose()
        return waits

    with redis_prefix() as (redis, prefix):
        waits = asyncio.run(run(redis, prefix))
    assert waits[:2] == [0.0, 0.0] and waits[3] == 0.0
    assert waits[2] > 100 and waits[4] > 100  # refused, and told how long to wait


def test_a_dead_gateways_connections_stop_counting() -> None:
    async def run(redis: Redis, prefix: str) -> None:
        dead = ConnectionCap(2, redis, prefix, "dead", ttl=1.0)
        alive = ConnectionCap(2, redis, prefix, "alive", ttl=1.0)
        assert await dead.open("ip") and await alive.open("ip")
        assert await alive.open("ip") is None  # the cap holds over both
        await asyncio.sleep(0.7)
        await alive.refresh()  # the live gateway's heartbeat; the dead one sends none
        await asyncio.sleep(0.5)
        assert await alive.open("ip") is not None  # the dead one's connection expired
        assert await alive.open("ip") is None  # the live one's still count
        await redis.aclose()

    with redis_prefix() as (redis, prefix):
        asyncio.run(run(redis, prefix))


def test_a_rediss_url_takes_the_gateways_to_redis_over_tls(tmp_path: Path) -> None:
    """`rediss://` URLs (a managed Redis) work: the shared buckets over TLS, with the
    server's certificate checked."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1"),
            *("-addext", "subjectAltName=IP:127.0.0.1"),
        ],
        check=True,
        capture_output=True,
    )
    port = free_port()
    proc = subprocess.Popen(
        [
            *("redis-server", "--port", "0", "--tls-port", str(port), "--bind", "127.0.0.1"),
            *("--tls-cert-file", str(cert), "--tls-key-file", str(key)),
            *("--tls-ca-cert-file", str(cert), "--tls-auth-clients", "no", "--save", ""),
        ],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"rediss://127.0.0.1:{port}/0"
    limiter = RateLimiter(0.001, 1, name="session")

    async def run() -> tuple[list[float], str]:
        trusted = redis_client.connect(f"{url}?ssl_ca_certs={cert}")
        deadline = time.monotonic() + 10
        while True:
            try:
                await trusted.ping()
                break
            except redis_client.UNAVAILABLE:
                assert time.monotonic() < deadline, "redis-server did not start with TLS"
                await asyncio.sleep(0.1)
        one, other = Buckets(trusted, "tls"), Buckets(trusted, "tls")  # two gateways
        waits = [await one.take((limiter, "s1")), await other.take((limiter, "s1"))]
        # A certificate nobody vouches for is refused (TLS is checked, not just spoken).
        untrusted = redis_client.connect(url)
        try:
            await untrusted.ping()
            refused = ""
        except redis_client.UNAVAILABLE as exc:
            refused = str(exc)
        for client in (trusted, untrusted):
            await client.aclose()
        return waits, refused

    try:
        waits, refused = asyncio.run(run())
    finally:
        proc.kill()
        proc.wait()
    assert waits[0] == 0.0 and waits[1] > 100  # the second gateway found the bucket empty
    assert "certificate verify failed" in refused


def test_both_gateways_share_redis_and_say_so(pair: Pair) -> None:
    for gateway in (pair.a, pair.b):
        health = httpx.get(f"{gateway.url}/healthz", timeout=10).json()
        assert health["redis"] == "ok"
        assert health["database"] == "ok"
        assert health["rasa"] == "ok"
        assert health["rasa_servers"] == {
            DEAD_RASA: "unreachable",
            pair.settings.rasa_url: "ok",
        }


def test_a_conversation_sticks_to_its_rasa_server_and_moves_while_it_is_down(live) -> None:  # type: ignore[no-untyped-def]
    alive = live.settings.rasa_url
    servers = [DEAD_RASA, alive]
    ids = (f"sticky-{uuid.uuid4().hex}" for _ in range(1000))
    on_dead = next(c for c in ids if rank(servers, c)[0] == DEAD_RASA)
    on_alive = next(c for c in ids if rank(servers, c)[0] == alive)
    # Every gateway picks the same server, whatever order its setting lists them in.
    assert rank(servers, on_dead) == rank(servers[::-1], on_dead)

    async def talk() -> None:
        client = RasaClient(servers, 30, live.settings.rasa_token.get_secret_value())
        try:
            assert client.order(on_alive) == [alive, DEAD_RASA]
            assert client.order(on_dead) == [DEAD_RASA, alive]
            assert await client.send(on_dead, "Is shipping insured?")
            # Found down: tried last for a while (no connection attempt per message).
            assert client.order(on_dead) == [alive, DEAD_RASA]
            tracker = await client.tracker(on_dead, events="ALL")
            assert [e["text"] for e in tracker["events"] if e["event"] == "user"] == [
                "Is shipping insured?"
            ]
        finally:
            await client.aclose()
        only_dead = RasaClient([DEAD_RASA], 30)
        try:
            with pytest.raises(RasaUnavailable):
                await only_dead.send(on_dead, "hello")
        finally:
            await only_dead.aclose()

    asyncio.run(talk())


def test_a_gateway_out_of_connections_keeps_the_message_and_the_server_up() -> None:
    """A full connection pool is this gateway's overload, not the server's death: the
    message is kept (RasaUnavailable) and the server keeps its place. Each server has its
    own pool: one that hangs leaves the conversations on the other their connections."""

    async def run() -> None:
        accepted = asyncio.Event()

        async def never_answer(reader: asyncio.StreamReader, _: asyncio.StreamWriter) -> None:
            accepted.set()
            await reader.read()  # holds the connection until the client closes it

        async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            while head := await reader.readuntil(b"\r\n\r\n"):
                length = re.search(rb"(?i)content-length: *(\d+)", head)
                await reader.readexactly(int(length.group(1)) if length else 0)
                body = b'[{"recipient_id": "c", "text": "hi"}]'
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
                )
                await writer.drain()

        hung = await asyncio.start_server(never_answer, "127.0.0.1", 0)
        fine = await asyncio.start_server(answer, "127.0.0.1", 0)
        slow = f"http://127.0.0.1:{hung.sockets[0].getsockname()[1]}"
        quick = f"http://127.0.0.1:{fine.sockets[0].getsockname()[1]}"
        client = RasaClient([slow, quick], 30)
        for server in client.servers:
            await client._pools[server].aclose()
            client._pools[server] = httpx.AsyncClient(
                timeout=httpx.Timeout(30, pool=0.2), limits=httpx.Limits(max_connections=1)
            )
        on = {rank(client.servers, c)[0]: c for c in (f"c{i}" for i in range(100))}
        try:
            first = asyncio.create_task(client.send(on[slow], "hello"))
            await asyncio.wait_for(accepted.wait(), 10)  # the one connection is taken
            with pytest.raises(RasaUnavailable) as busy:
                await client.send(on[slow], "hello again")
            assert not isinstance(busy.value, RasaUnreachable)
            assert "busy" in str(busy.value)
            assert client.order(on[slow]) == [slow, quick]
            # The hung server's pool is full; the other server's conversations go on.
            assert await client.send(on[quick], "hello") == [{"recipient_id": "c", "text": "hi"}]
            first.cancel()
        finally:
            await client.aclose()
            hung.close()
            fine.close()

    asyncio.run(run())


def test_agents_of_a_silent_gateway_are_forgotten_and_so_is_the_gateway() -> None:
    async def run() -> None:
        hub = StaffHub()
        await hub._presence("gone", {"agents": [1, 2]})
        await hub._presence("alive", {"agents": [2, 3]})
        assert hub.online() == 3
        ids, _ = hub._remote["gone"]
        hub._remote["gone"] = (ids, time.monotonic() - 1)  # silent past PRESENCE_EXPIRES
        assert hub.online() == 2
        await hub._presence("alive", {"agents": [3]})
        # Every start of a gateway is a new id: the silent ones must not pile up.
        assert set(hub._remote) == {"alive"} and hub.online() == 1

    asyncio.run(run())


def test_a_shoppers_two_tabs_on_two_gateways_see_the_answer_once(pair: Pair) -> None:
    with widget(pair.a) as tab_a:
        session = tab_a.hello()
        with widget(pair.b) as tab_b:
            tab_b.hello(session["token"])
            for tab in (tab_a, tab_b):
                settled(tab)
            sent = tab_a.say("Is shipping insured?")
            on_a = until(tab_a, turn_end)
            on_b = until(tab_b, turn_end)
            for frames in (on_a, on_b):
                echoes = [
                    f
                    for f in frames
                    if f["type"] == "message" and f["message"]["role"] == "shopper"
                ]
                assert [e["message"]["client_id"] for e in echoes] == [sent]
                replies = [
                    f["message"]["id"]
                    for f in frames
                    if f["type"] == "message" and f["message"]["role"] == "bot"
                ]
                assert replies and len(replies) == len(set(replies))
            bot_a = [f["message"]["id"] for f in on_a if f["type"] == "message"]
            bot_b = [f["message"]["id"] for f in on_b if f["type"] == "message"]
            assert bot_a == bot_b  # the same messages, in the same order, once each
            assert [f for f in quiet(tab_a) + quiet(tab_b) if f["type"] == "message"] == []


def test_a_hand_off_on_one_gateway_is_claimed_and_answered_on_the_other(pair: Pair) -> None:
    user = add_agent(pair.settings, "Nora Quinn")
    agent = Console(pair.b, user.email)
    try:
        with widget(pair.a) as shopper:
            session = shopper.hello()
            shopper.say("I want to talk to a person")
            until(shopper, turn_end)
            conversation_id = conversation_of(pair.settings, session["session_id"])
            queued = agent.until(
                lambda f: (
                    f["type"] == "queue" and f["conversation"]["conversation_id"] == conversation_id
                )
            )
            assert queued["conversation"]["state"] == "waiting"

            agent.send({"type": "watch", "conversation_id": conversation_id})
            claimed = agent.post(f"/api/staff/conversations/{conversation_id}/claim")
            assert claimed.status_code == 200, claimed.text
            joined = until(shopper, lambda f: f["type"] == "handoff_state")
            assert any(
                "Nora from our team has joined" in (f["message"].get("text") or "")
                for f in joined
                if f["type"] == "message"
            )

            # Typing crosses both ways.
            shopper.send_json({"type": "typing", "on": True})
            typing = agent.until(lambda f: f["type"] == "typing")
            assert typing == {
                "type": "typing",
                "conversation_id": conversation_id,
                "on": True,
                "who": "shopper",
            }
            agent.send({"type": "typing", "conversation_id": conversation_id, "on": True})
            dots = until(shopper, lambda f: f["type"] == "typing" and f.get("who") == "agent")
            assert dots[-1]["on"] is True and dots[-1]["name"] == "Nora"

            # Messages cross both ways, once each.
            reply = agent.post(
                f"/api/staff/conversations/{conversation_id}/messages",
                {"client_id": uuid.uuid4().hex, "text": "Hi, Nora here. How can I help?"},
            )
            assert reply.status_code == 201, reply.text
            got = until(shopper, lambda f: f["type"] == "message")
            assert got[-1]["message"]["text"] == "Hi, Nora here. How can I help?"
            sent = shopper.say("My ring arrived scratched")
            seen = agent.until(
                lambda f: f["type"] == "message" and f["message"].get("client_id") == sent
            )
            assert seen["message"]["text"] == "My ring arrived scratched"
            # Rasa never saw the message meant for the agent.
            assert "My ring arrived scratched" not in rasa_user_texts(
                pair.settings, conversation_id
            )
            assert [
                f
                for f in quiet(shopper)
                if f["type"] == "message" and f["message"]["role"] == "agent"
            ] == []
    finally:
        agent.close()


def test_logging_out_on_one_gateway_ends_the_console_on_the_other(pair: Pair) -> None:
    user = add_agent(pair.settings, "Omar Reyes")
    on_a = Console(pair.a, user.email)
    try:
        # The same session's console, open on gateway B too.
        on_b = connect(
            pair.b.url.replace("http://", "ws://") + "/staff/ws",
            origin=CONSOLE,  # type: ignore[arg-type]
            additional_headers={"cookie": on_a.http.headers["cookie"]},
        )
        assert json.loads(on_b.recv(timeout=10))["type"] == "ready"
        assert on_a.post("/api/staff/logout").status_code in (200, 204)
        with pytest.raises(ConnectionClosed):
            while True:
                on_b.recv(timeout=10)
        assert on_b.close_code == 4401
    finally:
        on_a.close()


def test_rate_limits_count_over_both_gateways(pair: Pair) -> None:
    with widget(pair.a) as tab_a, widget(pair.b) as tab_b:
        session = tab_a.hello()
        tab_b.hello(session["token"])
        for n in range(SESSION_BURST):
            tab = tab_a if n % 2 else tab_b
            sent = tab.say(f"Do you ship to Canada? ({n})")
            assert until(tab, about(sent))[-1]["type"] == "ack"
            until(tab, turn_end)
        one_more = tab_a.say("And to Mexico?")
        refused = until(tab_a, lambda f: f.get("id") == one_more)[-1]
        assert refused["type"] == "error" and refused["code"] == "rate_limited"
        assert refused["retry_after"] > 0


def open_connections(pair: Pair) -> int:
    """Widget connections from this machine that Redis counts (over both gateways)."""
    return int(redis_cli("ZCARD", f"{pair.prefix}:conns:127.0.0.1").strip() or 0)


def test_staff_logins_are_counted_over_both_gateways(pair: Pair) -> None:
    """Ten logins a minute per address, wherever they land: a guesser spread over the
    gateways gets no more tries than on one."""
    bucket = f"{pair.prefix}:rate:staff-login:127.0.0.1"
    redis_cli("DEL", bucket)  # the other tests' consoles logged in from here too
    try:
        codes = []
        for n in range(11):
            gateway = pair.a if n % 2 else pair.b
            r = httpx.post(
                f"{gateway.url}/api/staff/login",
                json={"email": f"guess{n}@example.com", "password": "not the password"},
                headers={"origin": CONSOLE},
                timeout=30,
            )
            codes.append(r.status_code)
        assert codes[:10] == [401] * 10
        assert codes[10] == 429
    finally:
        redis_cli("DEL", bucket)  # the next tests' consoles log in from here


def test_connections_per_ip_are_capped_over_both_gateways(pair: Pair) -> None:
    deadline = time.monotonic() + 10
    while open_connections(pair):  # the earlier tests' tabs are closed
        assert time.monotonic() < deadline, "closed tabs still count"
        time.sleep(0.2)
    with ExitStack() as open_tabs:
        for n in range(MAX_CONNECTIONS):
            tab = open_tabs.enter_context(widget(pair.a if n % 2 else pair.b))
            tab.hello()
        for gateway in (pair.a, pair.b):
            with widget(gateway) as one_too_many:
                # Said before any hello, then closed.
                frame = one_too_many.recv(10)
                assert frame["type"] == "error" and frame["code"] == "too_many_connections"
                with pytest.raises(ConnectionClosed):
                    one_too_many.recv(10)
                assert one_too_many.close_code == 4429
        assert open_connections(pair) == MAX_CONNECTIONS
    # Closed tabs stop counting (on both gateways).
    deadline = time.monotonic() + 10
    while open_connections(pair):
        assert time.monotonic() < deadline, "closed tabs still count"
        time.sleep(0.2)
    with widget(pair.b) as again:
        again.hello()


def test_two_gateways_racing_on_waiting_messages_answer_each_once(pair: Pair) -> None:
    """Messages kept while Rasa was unreachable (stored as pending, as the gateway stores
    them): both gateways' retry loops find them every second; each is answered once."""
    store = TranscriptStore(pair.settings.database_url)
    conversation = store.open_session(f"race-{uuid.uuid4().hex}")
    texts = [f"Do you offer gift wrapping? ({n})" for n in range(12)]
    ids = [store.add_shopper(conversation, uuid.uuid4().hex, t, t)[0].id for t in texts]
    deadline = time.monotonic() + 120
    while store.pending(conversation.id):
        assert time.monotonic() < deadline, "the waiting messages were never answered"
        time.sleep(0.5)
    time.sleep(2)  # a second gateway's late try would show now
    assert rasa_user_texts(pair.settings, conversation.id) == texts
    engine = create_engine(pair.settings.database_url)
    try:
        with engine.connect() as conn:
            statuses = conn.execute(
                select(chat_messages.c.status).where(chat_messages.c.id.in_(ids))
            ).all()
    finally:
        engine.dispose()
    assert [s for (s,) in statuses] == ["answered"] * len(ids)


@contextmanager
def redis_server(port: int, folder: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A Redis of this test's own (the shared one must never be stopped)."""
    proc = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", ""],
        cwd=folder,
        stdout=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 10
        while (
            subprocess.run(
                ["redis-cli", "-p", str(port), "PING"], capture_output=True, text=True
            ).stdout.strip()
            != "PONG"
        ):
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.1)
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def redis_health(gateway: Gateway) -> str:
    state: str = httpx.get(f"{gateway.url}/healthz", timeout=10).json()["redis"]
    return state


def wait_for(check: Callable[[], bool], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, what
        time.sleep(0.2)


@asynccontextmanager
async def listening(relay: Relay, kind: str) -> AsyncIterator[list[object]]:
    """`relay` subscribed: what it delivers, in order (the "n" of each frame of `kind`, and
    "resync" each time it resyncs its sockets)."""
    seen: list[object] = []

    async def deliver(key: str, frame: dict[str, Any]) -> None:
        seen.append(frame["n"])

    async def resync() -> None:
        seen.append("resync")

    relay.on(kind, deliver)
    relay.on_resync(resync)
    running = asyncio.create_task(relay.run())
    try:
        while relay.state != "ok":
            assert not running.done(), running
            await asyncio.sleep(0.05)
        yield seen
        assert not running.done(), running  # nothing it was sent ended the subscription
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)


async def until_seen(seen: list[object], count: int) -> None:
    while len(seen) < count:
        await asyncio.sleep(0.05)


def shared_relay(prefix: str, gateway_id: str) -> Relay:
    """A relay on the machine's Redis (its own prefix keeps it apart)."""
    return Relay(
        redis_client.connect(REDIS_URL),
        redis_client.connect(REDIS_URL, retries=0),
        prefix,
        gateway_id,
        key=KEY,
    )


def test_a_cut_subscription_is_noticed_and_the_sockets_resync(tmp_path: Path) -> None:
    """Pub/sub keeps nothing: when the subscriber's connection is cut (Redis itself up),
    the relay must not quietly subscribe again, but resync its sockets."""
    port = free_port()
    url = f"redis://127.0.0.1:{port}/0"

    async def run() -> list[object]:
        publisher = redis_client.connect(url)
        here = Relay(publisher, redis_client.connect(url, retries=0), "cut", "here", key=KEY)
        there = Relay(publisher, redis_client.connect(url, retries=0), "cut", "there", key=KEY)
        async with listening(here, "message") as seen:
            await there.publish("message", "c1", {"n": 1})
            await until_seen(seen, 1)
            await publisher.client_kill_filter(_type="pubsub")
            await until_seen(seen, 2)
            await there.publish("message", "c1", {"n": 2})  # on the new subscription
            await until_seen(seen, 3)
            await asyncio.sleep(0.2)  # nothing more arrives
        for client in (publisher, here.subscriber, there.subscriber):
            await client.aclose()
        return seen

    with redis_server(port, tmp_path):
        assert asyncio.run(asyncio.wait_for(run(), 20)) == [1, "resync", 2]


def test_frames_without_the_deployments_signature_or_replayed_are_dropped() -> None:
    """Whoever can publish on the channel but lacks GATEWAY_SECRET (an unsigned frame, one
    signed with another secret, garbage) reaches no socket, nor does a copy of a signed
    frame or an old one; the gateways' own frames do, and the subscription lives on."""
    prefix = f"knt-test-{uuid.uuid4().hex[:10]}"

    async def run() -> list[object]:
        here = shared_relay(prefix, "here")
        ours = Relay(here.redis, here.subscriber, prefix, "ours", key=KEY)
        theirs = Relay(here.redis, here.subscriber, prefix, "theirs", key=frame_key("other"))

        async def raw(body: dict[str, Any], signed: bool = True) -> None:
            data = json.dumps(body).encode()
            await here.redis.publish(here.channel, (ours._sign(data) if signed else b"") + data)

        async with listening(here, "session") as seen:
            frame = {"g": "ours", "k": "session", "key": "s"}
            await raw({**frame, "n": 1, "t": time.time(), "f": {"n": "unsigned"}}, signed=False)
            await here.redis.publish(here.channel, "é" * 70)
            await here.redis.publish(here.channel, b"\xff" * 80)
            await theirs.publish("session", "s", {"n": "other secret"})
            await ours.publish("session", "s", {"n": "signed"})  # sequence 1
            await raw({**frame, "n": 1, "t": time.time(), "f": {"n": "replayed"}})
            await raw({**frame, "n": 99, "t": time.time() - 3600, "f": {"n": "an hour old"}})
            # Signed before this gateway started: nobody here could have wanted it.
            before = here._started_at - 10
            await raw({**frame, "n": 100, "t": before, "f": {"n": "from before the start"}})
            await ours.publish("session", "s", {"n": "signed again"})
            await until_seen(seen, 2)
            await asyncio.sleep(0.3)  # nothing else arrives (Redis keeps the order we sent)
        await here.redis.aclose()
        await here.subscriber.aclose()
        return seen

    assert asyncio.run(asyncio.wait_for(run(), 30)) == ["signed", "signed again"]


def test_a_gateway_that_could_not_publish_has_the_others_resync() -> None:
    """The frames a gateway could not publish never reached the other gateways' sockets:
    once it publishes again, they are told to reconnect and load what they missed, once
    (a lost heartbeat alone carried nothing and asks for no resync)."""
    prefix = f"knt-test-{uuid.uuid4().hex[:10]}"

    async def run() -> list[object]:
        here = shared_relay(prefix, "here")
        cut_off = redis_client.connect(f"redis://127.0.0.1:{free_port()}/0")  # nothing there
        there = Relay(cut_off, here.subscriber, prefix, "there", key=KEY)
        async with listening(here, "session") as seen:
            await there.publish("beat", "", {})  # lost, but only a heartbeat
            there.redis = here.redis
            await there.publish("session", "s", {"n": "no resync for a beat"})
            await until_seen(seen, 1)
            there.redis = cut_off
            await there.publish("session", "s", {"n": "lost"})  # Redis unreachable from there
            there.redis = here.redis  # reachable again
            await asyncio.gather(
                *(there.publish("session", "s", {"n": n}) for n in ("after", "next", "third"))
            )
            await until_seen(seen, 5)
            await asyncio.sleep(0.3)  # no second resync comes
        for client in (here.redis, here.subscriber, cut_off):
            await client.aclose()
        return seen

    seen = asyncio.run(asyncio.wait_for(run(), 30))
    assert seen[0] == "no resync for a beat"
    assert seen.count("resync") == 1
    # Sent at once over several connections: in any order, each once.
    assert sorted(str(n) for n in seen[1:] if n != "resync") == ["after", "next", "third"]


def test_a_redis_that_refuses_the_channel_is_said_and_tried_again(tmp_path: Path) -> None:
    """An ACL without the pub/sub commands is a deployment error: the relay says so (in
    /healthz's state and the log), never raises into a shopper's turn, and does not stop
    trying: once the ACL is fixed it subscribes and resyncs its sockets."""
    port = free_port()
    admin_url = f"redis://127.0.0.1:{port}/0"
    url = f"redis://gw:secret@127.0.0.1:{port}/0"

    async def run() -> tuple[list[str], list[str]]:
        admin = redis_client.connect(admin_url)
        await admin.execute_command(
            "ACL", "SETUSER", "gw", "on", ">secret", "~*", "&*", "+@all", "-subscribe", "-publish"
        )
        relay = Relay(
            redis_client.connect(url), redis_client.connect(url, retries=0), "acl", "g", key=KEY
        )
        events: list[str] = []

        async def resync() -> None:
            events.append("resync")

        relay.on_resync(resync)
        running = asyncio.create_task(relay.run())
        states: list[str] = []
        while not relay.state.startswith("refused"):
            assert not running.done(), running
            await asyncio.sleep(0.05)
        states.append(relay.state)
        await relay.publish("message", "c1", {"n": 1})  # refused: said, not raised
        assert not running.done()
        await admin.execute_command("ACL", "SETUSER", "gw", "+subscribe", "+publish")
        while relay.state != "ok" or not events:
            assert not running.done(), running
            await asyncio.sleep(0.05)
        states.append(relay.state)
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
        for client in (admin, relay.redis, relay.subscriber):
            await client.aclose()
        return states, events

    with redis_server(port, tmp_path):
        states, events = asyncio.run(asyncio.wait_for(run(), 30))
    assert states == ["refused: NoPermissionError", "ok"]
    assert events == ["resync"]


def test_a_gateway_that_loses_redis_says_so_serves_on_and_resyncs_its_sockets(
    pair: Pair, tmp_path: Path
) -> None:
    port = free_port()
    with (
        postgres_database() as database_url,  # gateways on one database share one Redis
        redis_server(port, tmp_path) as redis,
        ExitStack() as running,
    ):
        s = pair.settings.model_copy(
            update={
                "gateway_redis_url": f"redis://127.0.0.1:{port}/0",
                "database_url": database_url,
            }
        )
        gateway = running.enter_context(gateway_process(s, free_port(), tmp_path / "c.log"))
        with widget(gateway) as tab:
            session = tab.hello()
            settled(tab)
            redis.kill()
            redis.wait()
            wait_for(lambda: redis_health(gateway).startswith("unreachable"), "healthz says ok")
            # Alone, the gateway still answers its own shoppers.
            during = tab.probe("Do you ship to Canada?")
            assert during.answered, during
            # A message kept while Rasa was down waits for Redis too: without the lock
            # of every gateway, two retry loops could both send it to Rasa.
            store = TranscriptStore(database_url)
            kept = store.open_session(f"kept-{uuid.uuid4().hex}")
            store.add_shopper(
                kept, uuid.uuid4().hex, "Is shipping insured?", "Is shipping insured?"
            )
            time.sleep(3)  # three rounds of the retry loop
            assert store.pending(kept.id)
            with redis_server(port, tmp_path):
                wait_for(lambda: redis_health(gateway) == "ok", "no resubscription")
                wait_for(lambda: not store.pending(kept.id), "the kept message is not answered")
                # Frames published meanwhile by other gateways were lost to this one's
                # sockets: they are closed so the widget reconnects and loads the history.
                with pytest.raises(ConnectionClosed):
                    until(tab, lambda f: False, timeout=10)
                assert tab.close_code == 1012
                with widget(gateway) as again:
                    back = again.hello(session["token"])
                    texts = [m["text"] for m in back["history"]]
                    assert "Do you ship to Canada?" in texts
                    assert back["history"][-1]["role"] == "bot"


def test_a_redis_that_falls_silent_is_taken_as_lost(pair: Pair, tmp_path: Path) -> None:
    """A frozen Redis keeps its connections open and says nothing (as a network cut
    would): the gateway notices from its own missing beats."""
    port = free_port()
    with (
        postgres_database() as database_url,  # gateways on one database share one Redis
        redis_server(port, tmp_path) as redis,
        ExitStack() as running,
    ):
        s = pair.settings.model_copy(
            update={
                "gateway_redis_url": f"redis://127.0.0.1:{port}/0",
                "database_url": database_url,
            }
        )
        gateway = running.enter_context(gateway_process(s, free_port(), tmp_path / "d.log"))
        with widget(gateway) as tab:
            tab.hello()
            settled(tab)
            os.kill(redis.pid, signal.SIGSTOP)
            try:
                wait_for(
                    lambda: redis_health(gateway).startswith("unreachable"),
                    "a silent Redis still counts as ok",
                    timeout=40,
                )
            finally:
                os.kill(redis.pid, signal.SIGCONT)
            wait_for(lambda: redis_health(gateway) == "ok", "no resubscription", timeout=40)
            with pytest.raises(ConnectionClosed):
                until(tab, lambda f: False, timeout=10)
            assert tab.close_code == 1012


def test_a_frozen_redis_costs_one_timeout_per_window_not_one_per_call(tmp_path: Path) -> None:
    """After a timeout the client fails at once (unreachable, not asked) for its window,
    so the gateway's calls for each message don't each wait for a frozen Redis; after
    the window one call (not every concurrent one) asks again, and once Redis answers
    every call does."""
    port = free_port()

    async def ping(client: Redis) -> str:
        try:
            await client.ping()
            return "ok"
        except RedisTimeoutError:
            return "timeout"
        except RedisConnectionError as exc:
            return "skipped" if "not asked" in str(exc) else f"other: {exc}"

    async def burst(client: Redis) -> list[str]:
        return sorted(await asyncio.gather(*(ping(client) for _ in range(3))))

    async def run(redis: subprocess.Popen[bytes]) -> dict[str, list[str]]:
        client = redis_client.connect(f"redis://127.0.0.1:{port}/0", skip_seconds=1.0)
        assert await client.ping()
        seen: dict[str, list[str]] = {}
        os.kill(redis.pid, signal.SIGSTOP)
        try:
            seen["frozen"] = await burst(client)  # all three were asked before any timeout
            seen["then"] = await burst(client)
            await asyncio.sleep(1.1)  # the window (1 s here) ends
            seen["window over"] = await burst(client)
            await asyncio.sleep(1.1)
            trial = asyncio.create_task(client.ping())  # the trial, cut short by its caller
            await asyncio.sleep(0.2)
            trial.cancel()
            await asyncio.gather(trial, return_exceptions=True)
            seen["trial cancelled"] = await burst(client)  # still one trial, not three
        finally:
            os.kill(redis.pid, signal.SIGCONT)
        deadline = time.monotonic() + 20
        while await ping(client) != "ok":  # the window ends again, one call is answered
            assert time.monotonic() < deadline, "never asked Redis again"
            await asyncio.sleep(0.1)
        seen["back"] = await burst(client)
        await client.aclose()
        return seen

    with redis_server(port, tmp_path) as redis:
        seen = asyncio.run(run(redis))
    assert seen == {
        "frozen": ["timeout"] * 3,
        "then": ["skipped"] * 3,
        "window over": ["skipped", "skipped", "timeout"],
        "trial cancelled": ["skipped", "skipped", "timeout"],
        "back": ["ok"] * 3,
    }


def test_killing_a_gateway_loses_nothing(pair: Pair) -> None:
    """Last in the module: gateway A is gone afterwards."""
    with widget(pair.a) as tab:
        session = tab.hello()
        sent = [tab.say("What is your return policy?")]
        until(tab, turn_end)
        sent.append(tab.say("Do you resize rings?"))
        until(tab, turn_end)
        pair.a.kill()
        with pytest.raises((ConnectionClosed, TimeoutError)):
            tab.recv(10)
    with widget(pair.b) as again:
        back = again.hello(session["token"])
        assert back["session_id"] == session["session_id"]
        history = back["history"]
        shopper = [m["client_id"] for m in history if m["role"] == "shopper"]
        assert shopper == sent
        assert sum(m["role"] == "bot" for m in history) >= 2
        assert history[-1]["role"] == "bot"
        # B goes on answering the same conversation.
        assert again.probe("Is shipping insured?").answered


def _raw_tab_that_never_reads(port: int, session: str) -> socket.socket:
    """A WebSocket client that opens and then never reads: its buffers fill up."""
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall(
        (
            f"GET /ws?sid={session} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    s.recv(1024)
    return s


def test_a_tab_that_stops_reading_holds_up_nobody_else() -> None:
    """Frames from other gateways are delivered one after another: a tab whose buffers are
    full is dropped after a short wait, and the next shopper still gets theirs."""
    import uvicorn
    import websockets
    from starlette.applications import Starlette
    from starlette.routing import WebSocketRoute
    from starlette.websockets import WebSocket

    from bot.gateway.hub import Hub

    prefix, port = f"knt-test-{uuid.uuid4().hex[:10]}", free_port()

    async def scenario() -> float:
        relay_b, relay_a = shared_relay(prefix, "B"), shared_relay(prefix, "A")
        hub_b = Hub(relay=relay_b)

        async def endpoint(ws: WebSocket) -> None:
            await ws.accept()
            session = ws.query_params["sid"]
            hub_b.join(session, ws)
            try:
                while True:
                    await ws.receive_text()
            except Exception:
                pass
            finally:
                hub_b.leave(session, ws)

        app = Starlette(routes=[WebSocketRoute("/ws", endpoint)])
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
        serving = asyncio.create_task(server.serve())
        while not server.started:
            await asyncio.sleep(0.05)
        relaying = asyncio.create_task(relay_b.run())
        while relay_b.state != "ok":
            await asyncio.sleep(0.05)
        good = await websockets.connect(f"ws://127.0.0.1:{port}/ws?sid=good")
        bad = await asyncio.to_thread(_raw_tab_that_never_reads, port, "stalled")
        try:
            for _ in range(600):  # about 10 MB for the tab that reads nothing
                await relay_a.publish("session", "stalled", {"type": "bot", "text": "x" * 16000})
            started = time.monotonic()
            await relay_a.publish("session", "good", {"type": "bot", "text": "hello"})
            frame = json.loads(await asyncio.wait_for(good.recv(), 30))
            assert frame["text"] == "hello"
            return time.monotonic() - started
        finally:
            bad.close()
            await good.close()
            relaying.cancel()
            server.should_exit = True
            await serving

    # Without the send timeout the good tab waits forever (the relay is stuck in send).
    assert asyncio.run(scenario()) < 20
