"""Rasa as the gateway uses it: the REST channel for shoppers' messages, and the HTTP API
(with the API token) to pause and resume a conversation and to read its slots."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx


class RasaUnavailable(RuntimeError):
    """Rasa (or the action server behind it) did not answer; the message must be kept."""


class RasaClient:
    def __init__(self, base_url: str, timeout: float, token: str = "") -> None:
        base = base_url.rstrip("/")
        self._base = base
        self._url = f"{base}/webhooks/rest/webhook"
        self._status_url = f"{base}/"
        self._token = token
        self._http = httpx.AsyncClient(
            timeout=timeout, limits=httpx.Limits(max_connections=200, max_keepalive_connections=50)
        )

    async def send(self, sender_id: str, message: str) -> list[dict[str, Any]]:
        try:
            r = await self._http.post(self._url, json={"sender": sender_id, "message": message})
        except httpx.HTTPError as exc:
            raise RasaUnavailable(f"cannot reach Rasa: {exc!r}") from exc
        if r.status_code != 200:
            raise RasaUnavailable(f"Rasa answered HTTP {r.status_code}")
        replies = r.json()
        # Every turn of this assistant says something; silence means an action failed
        # (Rasa logs it and answers 200 with nothing), so keep the message for a retry.
        if not isinstance(replies, list) or not replies:
            raise RasaUnavailable("Rasa replied with no message (is the action server up?)")
        return [r for r in replies if isinstance(r, dict)]

    def _api(self, sender_id: str, tail: str) -> str:
        return f"{self._base}/conversations/{quote(sender_id, safe='')}/{tail}"

    async def _events(self, sender_id: str, events: list[dict[str, Any]]) -> None:
        """Append events to the conversation's tracker. Rasa 3.6's API takes its token
        only as a query parameter; the URL is never logged here."""
        try:
            r = await self._http.post(
                self._api(sender_id, "tracker/events"),
                params={"token": self._token, "include_events": "NONE"},
                json=events,
                timeout=10,
            )
        except httpx.HTTPError as exc:
            raise RasaUnavailable(f"cannot reach Rasa's API: {type(exc).__name__}") from exc
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

    async def tracker(self, sender_id: str) -> dict[str, Any]:
        """The conversation's tracker without its events (slots, latest message, paused)."""
        try:
            r = await self._http.get(
                self._api(sender_id, "tracker"),
                params={"token": self._token, "include_events": "NONE"},
                timeout=5,
            )
        except httpx.HTTPError as exc:
            raise RasaUnavailable(f"cannot reach Rasa's API: {type(exc).__name__}") from exc
        if r.status_code != 200:
            raise RasaUnavailable(f"Rasa's API answered HTTP {r.status_code} to tracker")
        data: dict[str, Any] = r.json()
        return data

    async def reachable(self) -> bool:
        try:
            return (await self._http.get(self._status_url, timeout=2)).status_code == 200
        except httpx.HTTPError:
            return False

    async def aclose(self) -> None:
        await self._http.aclose()
