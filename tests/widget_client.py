"""A widget as the gateway sees it: a real WebSocket client (the `websockets` library,
synchronous) speaking docs/widget-protocol.md to a gateway process over TCP."""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

__all__ = ["ConnectionClosed", "Probe", "Refused", "WidgetClient"]


class Refused(Exception):
    """The gateway refused the connection (e.g. too many from this client)."""

    def __init__(self, frame: dict[str, Any] | None, code: int | None) -> None:
        super().__init__(f"refused with close code {code}: {frame}")
        self.frame = frame
        self.code = code


@dataclass
class Probe:
    """What happened to one message: the frames that came before its ack (the answers to
    whatever was sent before it), its bot replies, or the error that refused it."""

    client_id: str
    before: list[dict[str, Any]] = field(default_factory=list)
    bot: list[dict[str, Any]] = field(default_factory=list)
    error: dict[str, Any] | None = None
    seconds: float = 0.0

    @property
    def answered(self) -> bool:
        return self.error is None and bool(self.bot)

    @property
    def failed(self) -> bool:
        """Answered with the gateway's "couldn't answer that" message."""
        return any((m.get("custom") or {}).get("failed") for m in self.bot)


class WidgetClient:
    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws

    @classmethod
    def connect(cls, url: str, origin: str, timeout: float = 10) -> WidgetClient:
        ws = connect(
            url.replace("http://", "ws://", 1).rstrip("/") + "/ws",
            origin=origin,  # type: ignore[arg-type]
            open_timeout=timeout,
            close_timeout=2,
            max_size=None,
        )
        return cls(ws)

    def close(self) -> None:
        self.ws.close()

    def __enter__(self) -> WidgetClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def close_code(self) -> int | None:
        return self.ws.close_code

    def send(self, data: str | bytes) -> None:
        self.ws.send(data)

    def send_json(self, frame: dict[str, Any]) -> None:
        self.ws.send(json.dumps(frame))

    def recv(self, timeout: float) -> dict[str, Any]:
        frame: dict[str, Any] = json.loads(self.ws.recv(timeout=max(0.01, timeout)))
        return frame

    def hello(self, token: Any = None, timeout: float = 30) -> dict[str, Any]:
        """The session frame; `Refused` if the gateway turned the connection away."""
        try:
            self.send_json({"type": "hello", "token": token})
            frame = self.recv(timeout)
        except ConnectionClosed as exc:
            raise Refused(None, exc.rcvd.code if exc.rcvd else None) from None
        if frame.get("type") == "error":
            with contextlib.suppress(ConnectionClosed, TimeoutError):
                self.ws.recv(timeout=5)  # the close that follows
            raise Refused(frame, self.close_code)
        assert frame.get("type") == "session", frame
        return frame

    def say(self, text: str, client_id: str | None = None, payload: str | None = None) -> str:
        client_id = client_id or uuid.uuid4().hex
        self.send_json({"type": "message", "id": client_id, "text": text, "payload": payload})
        return client_id

    def probe(self, text: str = "hi", timeout: float = 90) -> Probe:
        """Send `text` as a new message and wait for its answer: its ack, its echo, then
        bot messages up to the end of the turn (typing off). `TimeoutError` if it is not
        answered within `timeout` seconds."""
        started = time.monotonic()
        deadline = started + timeout
        probe = Probe(self.say(text))
        stage = "ack"
        while True:
            frame = self.recv(deadline - time.monotonic())
            kind = frame.get("type")
            if kind == "error" and frame.get("id") == probe.client_id:
                probe.error = frame
                break
            if stage == "ack":
                if kind == "ack" and frame.get("id") == probe.client_id:
                    stage = "echo"
                else:
                    probe.before.append(frame)
            elif stage == "echo":
                message = frame.get("message") or {}
                if kind == "message" and message.get("client_id") == probe.client_id:
                    stage = "reply"
            elif kind == "message" and frame["message"].get("role") == "bot":
                probe.bot.append(frame["message"])
            elif kind == "typing" and frame.get("on") is False and probe.bot:
                break
        probe.seconds = time.monotonic() - started
        return probe
