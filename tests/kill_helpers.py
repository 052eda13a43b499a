"""For the kill matrix (tests/test_kill_matrix.py): the whole assistant under its supervisor
as `bot run` starts it (on free ports, throwaway databases: SQLite files or PostgreSQL
databases with a Redis lock store for Rasa), a shopper that behaves like the widget
(stored token; on a dropped connection it reconnects and sends its unacknowledged messages
again with the same ids), and the counts read back from the app and order databases."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, select
from websockets.exceptions import WebSocketException

from bot import stack
from bot.gateway.transcripts import chat_messages
from bot.orders.models import Base, Cancellation, ChangeRequest, Order, ReturnRequest
from bot.rasa_model import model_path
from bot.settings import Settings
from bot.supervisor import Supervisor
from bot.timeutil import as_utc

from .orders_helpers import postgres_database
from .widget_client import ConnectionClosed, Refused, WidgetClient

NAMES = ("orders", "actions", "rasa", "gateway")


# --- the assistant ------------------------------------------------------------------------
@dataclass
class SupervisorLog:
    """What the supervisor said (restarts, readiness), with when it said it."""

    lines: list[tuple[float, str]] = field(default_factory=list)

    def __call__(self, line: str) -> None:
        self.lines.append((time.monotonic(), line))

    def first(self, prefix: str, after: float) -> float | None:
        """When the supervisor first said something starting with `prefix` after `after`."""
        return next((t for t, line in self.lines if t >= after and line.startswith(prefix)), None)


@dataclass
class Kill:
    name: str
    at: float  # time.monotonic()
    pid: int


@dataclass
class Assistant:
    settings: Settings
    supervisor: Supervisor
    said: SupervisorLog
    workdir: Path
    kills: list[Kill] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://{self.settings.gateway_host}:{self.settings.gateway_port}"

    @property
    def origin(self) -> str:
        return self.settings.gateway_allowed_origins[0]

    def kill(self, name: str) -> Kill:
        """`kill -9` of one of the assistant's processes and what it started (its process
        group: a child, such as a Sanic worker with `--workers N`, would otherwise live on
        until the supervisor notices its parent is gone)."""
        pid = self.supervisor.procs[name].pid
        os.killpg(pid, signal.SIGKILL)
        kill = Kill(name, time.monotonic(), pid)
        self.kills.append(kill)
        return kill

    def pause(self, name: str) -> None:
        """Freeze a process (SIGSTOP): requests to it wait, unanswered, until `resume`."""
        os.killpg(self.supervisor.procs[name].pid, signal.SIGSTOP)

    def resume(self, name: str) -> None:
        os.killpg(self.supervisor.procs[name].pid, signal.SIGCONT)

    def wait_until_back(self, timeout: float = 240) -> None:
        """Until every killed process is running again (the supervisor said so: its state
        still says "running" for a moment after a kill, until its watcher notices)."""
        deadline = time.monotonic() + timeout
        while True:
            states = self.supervisor.states()
            back = all(self.ready_again(kill) is not None for kill in self.kills)
            if back and set(states) == set(NAMES) and set(states.values()) == {"running"}:
                return
            assert self.supervisor.failure is None, self.supervisor.failure
            assert time.monotonic() < deadline, f"not all back after {timeout:.0f} s: {states}"
            time.sleep(0.2)

    def ready_again(self, kill: Kill) -> float | None:
        """When the supervisor saw the killed process ready again (None: not yet)."""
        return self.said.first(f"{kill.name} ready again in", kill.at)

    def supervisor_state(self) -> dict[str, dict[str, Any]]:
        """The supervisor's state file (SUPERVISOR_STATE_FILE) as the gateway reads it."""
        state: dict[str, dict[str, Any]] = json.loads(
            (self.workdir / "supervisor.json").read_text()
        )["processes"]
        return state

    def lock_keys(self) -> list[str]:
        """Rasa's conversation locks in Redis (none with the in-memory lock store)."""
        url = self.settings.rasa_lock_store_url
        return redis_keys(url.partition("key_prefix=")[2]) if url else []

    def log(self, name: str) -> str:
        return (self.workdir / "logs" / f"{name}.log").read_text(errors="replace")


@contextmanager
def databases(backend: str, workdir: Path) -> Iterator[dict[str, str]]:
    """Settings for the databases of one run: on SQLite the throwaway files `on_free_ports`
    already chose; on PostgreSQL three new databases (app, orders, Rasa's tracker store)
    and Rasa's lock store in Redis under a key prefix of its own, all removed afterwards."""
    if backend == "sqlite":
        yield {}
        return
    prefix = f"kntkill{uuid.uuid4().hex[:10]}"
    try:
        with (
            postgres_database() as app,
            postgres_database() as orders,
            postgres_database() as tracker,
        ):
            yield {
                "database_url": app,
                "orders_database_url": orders,
                "rasa_tracker_store_url": tracker,
                "rasa_lock_store_url": f"redis://127.0.0.1:6379/0?key_prefix={prefix}",
            }
    finally:
        drop_redis_keys(prefix)


def redis_keys(prefix: str) -> list[str]:
    return subprocess.run(
        ["redis-cli", "--scan", "--pattern", f"{prefix}*"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()


def drop_redis_keys(prefix: str) -> None:
    if keys := redis_keys(prefix):
        subprocess.run(["redis-cli", "del", *keys], capture_output=True, check=True)


@contextmanager
def assistant(base: Settings, backend: str, workdir: Path) -> Iterator[Assistant]:
    """The four processes under one supervisor, as `bot run` starts them, with the demo
    orders seeded; stopped (and the databases dropped) afterwards."""
    with databases(backend, workdir) as urls:
        settings = stack.on_free_ports(base, workdir).model_copy(update=urls)
        stack.seed_demo_orders(settings)
        said = SupervisorLog()
        log_dir, state_file = workdir / "logs", workdir / "supervisor.json"
        with stack.supervisor(settings, log_dir, state_file) as sup:
            sup.start(stack.everything(settings, model_path(settings.rasa_model_dir)), said)
            yield Assistant(settings, sup, said, workdir)


# --- the shopper --------------------------------------------------------------------------
Hook = Callable[[], object]


@dataclass
class Turn:
    """One shopper message and what answered it."""

    text: str
    client_id: str
    replies: list[dict[str, Any]]
    seconds: float
    answered_at: float  # time.monotonic()
    sent_wall: float  # time.time(), to compare with the databases' timestamps
    answered_wall: float
    unavailable: int  # `assistant_unavailable` notices while it waited
    reconnects: int  # connections lost while it waited

    @property
    def reply_text(self) -> str:
        return "\n".join(r.get("text") or "" for r in self.replies)

    @property
    def failed(self) -> bool:
        return any((r.get("custom") or {}).get("failed") for r in self.replies)


class Shopper:
    """One shopper's widget: a token kept across connections, an outbox of messages not yet
    acknowledged (sent again, same ids, after every reconnect), and every stored message it
    has seen (live, or in the history of a `session` frame)."""

    def __init__(self, url: str, origin: str) -> None:
        self.url, self.origin = url, origin
        self.client: WidgetClient | None = None
        self.token: str | None = None
        self.session_id: str | None = None
        self.outbox: dict[str, str] = {}
        self.sent: list[str] = []  # client ids, in order
        self.messages: dict[int, dict[str, Any]] = {}
        self.by_client_id: dict[str, int] = {}
        self.whole_upto = 0  # bot messages up to this id are known to be whole turns
        self.reconnects = 0
        self.notices = Counter[str]()

    # connection -----------------------------------------------------------------------
    def connect(self, deadline: float) -> None:
        """Connect and say hello with the stored token, retrying while the gateway is
        down (or refuses new connections for a moment); then resend the outbox."""
        pause = 0.2
        while True:
            client = None
            try:
                client = WidgetClient.connect(self.url, self.origin, timeout=5)
                session = client.hello(self.token, timeout=30)
                break
            except (OSError, TimeoutError, WebSocketException, Refused) as exc:
                if client is not None:
                    with contextlib.suppress(Exception):
                        client.close()
                if time.monotonic() + pause > deadline:
                    raise AssertionError(f"could not reconnect to the gateway: {exc!r}") from exc
                time.sleep(pause)
                pause = min(pause * 2, 2.0)
        if self.token is not None:
            # The same conversation goes on: the stored token still opens it.
            assert not session["renewed"], session
            assert session["session_id"] == self.session_id, session
        self.client, self.token, self.session_id = client, session["token"], session["session_id"]
        for message in session["history"]:
            self._seen(message)
        if session["history"]:
            # A turn's replies are stored together: what the history has of one is all of it.
            self.whole_upto = max(self.whole_upto, max(m["id"] for m in session["history"]))
        for client_id, text in list(self.outbox.items()):
            self._send(client_id, text)

    def _reconnect(self, deadline: float) -> None:
        self.reconnects += 1
        if self.client is not None:
            with contextlib.suppress(Exception):
                self.client.close()
        self.client = None
        self.connect(deadline)

    def _send(self, client_id: str, text: str) -> None:
        assert self.client is not None
        self.client.say(text, client_id=client_id)

    def close(self) -> None:
        if self.client is not None:
            self.client.close()
            self.client = None

    def _seen(self, message: dict[str, Any]) -> None:
        self.messages[message["id"]] = message
        if message.get("client_id"):
            self.by_client_id[message["client_id"]] = message["id"]

    # a turn ---------------------------------------------------------------------------
    def replies_to(self, client_id: str) -> list[dict[str, Any]] | None:
        """The bot's whole answer to a message, or None while it has not all come."""
        sid = self.by_client_id.get(client_id)
        if sid is None:
            return None
        replies = [
            m for i, m in sorted(self.messages.items()) if i > sid and m.get("role") == "bot"
        ]
        if not replies or replies[-1]["id"] > self.whole_upto:
            return None
        return replies

    def say(
        self,
        text: str,
        on_ack: Hook | None = None,
        on_typing: Hook | None = None,
        timeout: float = 300,
    ) -> Turn:
        """Send `text` and wait for its whole answer, across lost connections. `on_ack`
        runs when the gateway acknowledged it (stored), `on_typing` when the gateway starts
        working on it (it is about to go to Rasa): the moments to kill something."""
        started, sent_wall = time.monotonic(), time.time()
        deadline = started + timeout
        reconnects, unavailable = self.reconnects, self.notices["assistant_unavailable"]
        client_id = uuid.uuid4().hex
        self.outbox[client_id] = text
        self.sent.append(client_id)
        hooks = {"ack": on_ack, "typing": on_typing}

        def fire(kind: str) -> None:
            hook = hooks.pop(kind, None)
            if hook is not None:
                hook()

        try:
            self._send(client_id, text)
        except (ConnectionClosed, OSError):
            self._reconnect(deadline)
        while (replies := self.replies_to(client_id)) is None:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"{text!r} not answered in {timeout:.0f} s"
            try:
                assert self.client is not None
                frame = self.client.recv(min(remaining, 5.0))
            except TimeoutError:
                continue
            except (ConnectionClosed, OSError):
                self._reconnect(deadline)
                continue
            kind = frame.get("type")
            if kind == "ack":
                self.outbox.pop(frame["id"], None)
                if frame["id"] == client_id:
                    fire("ack")
            elif kind == "message":
                self._seen(frame["message"])
            elif kind == "typing" and frame.get("who") is None:
                if frame["on"] and client_id in self.by_client_id:
                    fire("typing")
                elif not frame["on"]:
                    self.whole_upto = max(self.whole_upto, max(self.messages, default=0))
            elif kind == "error":
                self._error(frame)
        answered_at = time.monotonic()
        return Turn(
            text,
            client_id,
            replies,
            answered_at - started,
            answered_at,
            sent_wall,
            time.time(),
            self.notices["assistant_unavailable"] - unavailable,
            self.reconnects - reconnects,
        )

    def _error(self, frame: dict[str, Any]) -> None:
        code, client_id = frame.get("code"), frame.get("id")
        self.notices[str(code)] += 1
        if code == "assistant_unavailable":
            return  # stored; the gateway answers it when the assistant is back
        if code in ("rate_limited", "server_error") and client_id in self.outbox:
            # Not taken: send it again (same id) after the pause asked for.
            time.sleep(float(frame.get("retry_after") or 0.5))
            self._send(client_id, self.outbox[client_id])
            return
        raise AssertionError(f"the gateway refused a frame: {frame}")


# --- what was stored ----------------------------------------------------------------------
def stored_messages(database_url: str, session_id: str) -> list[Any]:
    """Every message of one shopper session in the app database, in order."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            return list(
                conn.execute(
                    select(chat_messages)
                    .where(chat_messages.c.session_id == session_id)
                    .order_by(chat_messages.c.id)
                )
            )
    finally:
        engine.dispose()


REQUESTS: dict[str, tuple[type[Base], str]] = {
    "return": (ReturnRequest, "rma_number"),
    "change": (ChangeRequest, "request_number"),
    "cancel": (Cancellation, "cancellation_number"),
}


def stored_requests(orders_url: str, kind: str, order_number: str) -> list[tuple[str, float]]:
    """The returns, changes or cancellations of one order: (reference, when made as a
    time.time() value)."""
    model, number = REQUESTS[kind]
    engine = create_engine(orders_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                select(getattr(model, number), model.created_at)  # type: ignore[attr-defined]
                .join(Order, Order.id == model.order_id)  # type: ignore[attr-defined]
                .where(Order.order_number == order_number)
            )
            return [(ref, as_utc(made).timestamp()) for ref, made in rows]
    finally:
        engine.dispose()
