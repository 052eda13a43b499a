"""Rasa as the gateway uses it: the REST channel for shoppers' messages, and the HTTP API
(a JWT signed with RASA_TOKEN, in a header: bot/rasa_auth.py) to pause and resume a
conversation and to read its slots.

With several Rasa servers (sharing one tracker store and a Redis lock store) each
conversation has its own order of servers (rendezvous hashing on its id: every gateway
picks the same one, and only the conversations of a server that goes or comes move); a
server that cannot be reached is skipped for the next one, and tried last for a while.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar
from urllib.parse import quote

import httpx

from bot.rasa_auth import rasa_jwt


class RasaUnavailable(RuntimeError):
    """Rasa (or the action server behind it) cannot be reached; the message must be kept
    and sent again when it is back."""


class RasaUnreachable(RasaUnavailable):
    """This Rasa server did not take the request at all: another one may."""


class RasaFailed(RuntimeError):
    """Rasa was reached and took the message, but answered with an error, with nothing (an
    action crashed, or a turn that says nothing) or not in time: sending the same message
    again may fail the same way, so it is retried only a bounded number of times."""


async def http_ok(client: httpx.AsyncClient, url: str) -> bool:
    """Whether `url` answers 200 within 2 s (a health check)."""
    try:
        return (await client.get(url, timeout=2)).status_code == 200
    except httpx.HTTPError:
        return False


T = TypeVar("T")
SKIP_SECONDS = 10.0  # a server found unreachable is tried last for this long


def rank(servers: list[str], conversation_id: str) -> list[str]:
    """The servers in the order a conversation tries them (the same in every gateway)."""
    return sorted(
        servers,
        key=lambda server: hashlib.sha256(f"{server}|{conversation_id}".encode()).digest(),
        reverse=True,
    )


# Every connection of this gateway's pool for that server is busy: the gateway sends it
# more than it answers, which is no reason to mark it down (that would move all its
# conversations away at once); the message is kept and tried again.
BUSY = "all of this gateway's connections to Rasa are busy"


class RasaClient:
    def __init__(
        self,
        base_url: str | list[str],
        timeout: float,
        token: str = "",
        action_server_health: str = "",
    ) -> None:
        urls = [base_url] if isinstance(base_url, str) else base_url
        self.servers = [u.rstrip("/") for u in urls]
        if not self.servers:
            raise ValueError("no Rasa server")
        self._down_until: dict[str, float] = {}
        # Rasa answers [] when the action server is down, as when an action crashed:
        # asking the action server tells an outage (keep the message) from a failed turn.
        self._action_health = action_server_health
        self._api_headers = {"Authorization": f"Bearer {rasa_jwt(token)}"} if token else {}
        # One pool per server: a server that hangs fills its own pool only, so the
        # conversations on the others still get connections.
        self._pools = {
            server: httpx.AsyncClient(
                timeout=timeout,
                limits=httpx.Limits(max_connections=200, max_keepalive_connections=50),
            )
            for server in self.servers
        }
        # The action server's health check, apart: a Rasa server's full pool must not make
        # the action server look down.
        self._probe = httpx.AsyncClient(timeout=timeout)

    def order(self, conversation_id: str) -> list[str]:
        """The conversation's servers in the order to try them: reachable ones first."""
        ranked = rank(self.servers, conversation_id)
        now = time.monotonic()
        return sorted(ranked, key=lambda server: self._down_until.get(server, 0.0) > now)

    async def _first_reachable(
        self, conversation_id: str, call: Callable[[str], Awaitable[T]]
    ) -> T:
        """`call(server)` on the conversation's server, or the next while one is unreachable."""
        servers = self.order(conversation_id)
        for server in servers:
            try:
                result = await call(server)
            except RasaUnreachable:
                self._down_until[server] = time.monotonic() + SKIP_SECONDS
                if server == servers[-1]:
                    raise
                continue
            self._down_until.pop(server, None)
            return result
        raise AssertionError("unreachable")

    async def send(
        self, sender_id: str, message: str, metadata: dict[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        """Rasa's replies to one shopper message. `metadata` reaches the actions
        (`tracker.latest_message["metadata"]`)."""
        body: dict[str, Any] = {"sender": sender_id, "message": message}
        if metadata:
            body["metadata"] = metadata

        async def post(server: str) -> httpx.Response:
            try:
                return await self._pools[server].post(f"{server}/webhooks/rest/webhook", json=body)
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                raise RasaUnreachable(f"cannot reach Rasa: {type(exc).__name__}") from exc
            except httpx.PoolTimeout as exc:
                raise RasaUnavailable(BUSY) from exc
            except httpx.TimeoutException as exc:
                raise RasaTimedOut(f"Rasa did not answer in time ({type(exc).__name__})") from exc
            except httpx.HTTPError as exc:
                # The connection broke mid-request: Rasa went away (or is restarting); the
                # turn may have begun there, so it is not sent to another server now (the
                # message stays pending, and the next try starts with a reachable one).
                raise RasaUnavailable(f"lost the connection to Rasa: {type(exc).__name__}") from exc

        r = await self._first_reachable(sender_id, post)
        if r.status_code in (502, 503, 504):
            raise RasaUnavailable(f"Rasa answered HTTP {r.status_code}")
        if r.status_code != 200:
            raise RasaFailed(f"Rasa answered HTTP {r.status_code}")
        try:
            replies = r.json()
        except ValueError as exc:
            raise RasaFailed("Rasa's reply was not JSON") from exc
        replies = [x for x in replies if isinstance(x, dict)] if isinstance(replies, list) else []
        # Every turn of this assistant says something; silence means an action failed (Rasa
        # logs it and answers 200 with nothing), or the action server is down.
        if not replies:
            if not await self.actions_reachable():
                raise RasaUnavailable("Rasa replied with nothing: the action server is down")
            raise RasaFailed("Rasa replied with no message (an action failed?)")
        return replies

    async def turn_replies(
        self, sender_id: str, marker: str, value: int, wait: float
    ) -> tuple[str, list[dict[str, Any]]]:
        """After a timed-out send, what became of the message whose metadata[marker] ==
        value, read from Rasa's tracker for up to `wait` seconds: ("finished", the bot's
        replies); ("absent", []) when the tracker has no such message; ("unfinished", [])
        when it has it but the turn never ended (a paused tracker, Rasa's circuit breaker).
        Rasa saves a tracker only at the end of a turn, and abandons the turn when its
        client goes away (Sanic cancels the handler when httpx closes the connection on
        a timeout), so "absent" means the turn did not happen and sending the message
        again runs it once; the order requests' idempotency keys cover a turn cut short
        after its write. (Behind a proxy that kept the upstream request open, the first
        turn could still finish: keep Rasa directly reachable from the gateway.)"""
        deadline = time.monotonic() + wait
        while True:
            try:
                events = (await self.tracker(sender_id, events="AFTER_RESTART")).get("events")
            except RasaUnavailable:
                events = None
            if isinstance(events, list):
                turn = _turn(events, marker, value)
                if turn is None:
                    return "absent", []
                if turn[0]:
                    return "finished", turn[1]
            if time.monotonic() >= deadline:
                return "unfinished", []
            await asyncio.sleep(1.0)

    async def actions_reachable(self) -> bool:
        return not self._action_health or await http_ok(self._probe, self._action_health)

    @staticmethod
    def _api(server: str, sender_id: str, tail: str) -> str:
        return f"{server}/conversations/{quote(sender_id, safe='')}/{tail}"

    async def _api_request(
        self, method: str, server: str, sender_id: str, tail: str, **kwargs: Any
    ) -> httpx.Response:
        """One call to `server`'s HTTP API about this conversation; a server that cannot be
        reached at all (RasaUnreachable: try the next) is told apart from a failed call."""
        try:
            return await self._pools[server].request(
                method, self._api(server, sender_id, tail), headers=self._api_headers, **kwargs
            )
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise RasaUnreachable(f"cannot reach Rasa's API: {type(exc).__name__}") from exc
        except httpx.PoolTimeout as exc:
            raise RasaUnavailable(BUSY) from exc
        except httpx.HTTPError as exc:
            raise RasaUnavailable(f"cannot reach Rasa's API: {type(exc).__name__}") from exc

    async def _events(self, sender_id: str, events: list[dict[str, Any]]) -> None:
        """Append events to the conversation's tracker."""

        async def post(server: str) -> httpx.Response:
            return await self._api_request(
                "POST",
                server,
                sender_id,
                "tracker/events",
                params={"include_events": "NONE"},
                json=events,
                timeout=10,
            )

        r = await self._first_reachable(sender_id, post)
        if r.status_code != 200:
            kinds = ", ".join(str(e["event"]) for e in events)
            raise RasaUnavailable(f"Rasa's API answered HTTP {r.status_code} to {kinds}")

    async def pause(self, sender_id: str) -> None:
        """Rasa stays silent for this sender (its REST webhook answers []) until resumed.
        A form the bot was in is ended too: after a person took over, the bot must not
        come back asking the form's next question."""
        await self._events(
            sender_id,
            [
                {"event": "pause"},
                {"event": "active_loop", "name": None},
                {"event": "slot", "name": "requested_slot", "value": None},
            ],
        )

    async def resume(self, sender_id: str) -> None:
        await self._events(sender_id, [{"event": "resume"}])

    async def tracker(self, sender_id: str, events: str = "NONE") -> dict[str, Any]:
        """The conversation's tracker (by default without its events: slots, latest
        message, paused)."""

        async def get(server: str) -> httpx.Response:
            return await self._api_request(
                "GET", server, sender_id, "tracker", params={"include_events": events}, timeout=5
            )

        r = await self._first_reachable(sender_id, get)
        if r.status_code != 200:
            raise RasaUnavailable(f"Rasa's API answered HTTP {r.status_code} to tracker")
        data: dict[str, Any] = r.json()
        return data

    async def reachable(self) -> bool:
        """Whether any Rasa server answers."""
        return any(await self.servers_reachable())

    async def servers_reachable(self) -> list[bool]:
        return list(await asyncio.gather(*(http_ok(self._pools[s], f"{s}/") for s in self.servers)))

    async def aclose(self) -> None:
        clients = [*self._pools.values(), self._probe]
        await asyncio.gather(*(c.aclose() for c in clients), return_exceptions=True)


class RasaTimedOut(RasaFailed):
    """Rasa took the message but did not answer in time: it may still be working on it."""


def _turn(events: list[Any], marker: str, value: int) -> tuple[bool, list[dict[str, Any]]] | None:
    """(finished, the bot's replies) of the turn that began with the user event carrying
    metadata[marker] == value; None if there is no such event."""
    start = None
    for i, event in enumerate(events):
        if (
            isinstance(event, dict)
            and event.get("event") == "user"
            and (event.get("metadata") or {}).get(marker) == value
        ):
            start = i
    if start is None:
        return None
    replies: list[dict[str, Any]] = []
    for event in events[start + 1 :]:
        kind = event.get("event") if isinstance(event, dict) else None
        if kind == "user":
            return True, replies
        if kind == "bot":
            data = event.get("data") or {}
            replies.append(
                {
                    "text": event.get("text"),
                    "buttons": data.get("buttons") or [],
                    "custom": data.get("custom"),
                }
            )
        if kind == "action" and event.get("name") == "action_listen":
            return True, replies
    return False, replies
