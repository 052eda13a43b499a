"""Rasa's REST channel, as the gateway uses it."""

from __future__ import annotations

from typing import Any

import httpx


class RasaUnavailable(RuntimeError):
    """Rasa (or the action server behind it) did not answer; the message must be kept."""


class RasaClient:
    def __init__(self, base_url: str, timeout: float) -> None:
        self._url = f"{base_url.rstrip('/')}/webhooks/rest/webhook"
        self._status_url = f"{base_url.rstrip('/')}/"
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

    async def reachable(self) -> bool:
        try:
            return (await self._http.get(self._status_url, timeout=2)).status_code == 200
        except httpx.HTTPError:
            return False

    async def aclose(self) -> None:
        await self._http.aclose()
