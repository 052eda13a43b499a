"""The actions' client of the order backend (bot/orders), with the errors they handle.

Every call has a short timeout: when the backend is down or slow the shopper is told so
and offered a person, and nothing is reported as done unless the backend confirmed it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx

from bot.settings import Settings


class OrderBackendUnavailable(Exception):
    """The order backend could not be reached, timed out or failed (5xx)."""


class OrderNotFound(Exception):
    """No order matches this order number and e-mail (deliberately not saying which)."""


@dataclass
class Refused(Exception):
    """The store's rules refuse the request (HTTP 409); `reason` is machine-readable."""

    reason: str
    message: str
    extra: dict[str, Any] = field(default_factory=dict)


class OrderClient:
    def __init__(
        self,
        settings: Settings,
        transport: httpx.AsyncBaseTransport | None = None,
        staff: bool = False,
    ):
        """`staff=True`: the gateway's client for its console, with ORDERS_STAFF_TOKEN (the
        only token of `/v1/staff/...`); the action server never has it."""
        self._base = settings.orders_url.rstrip("/")
        # The gateway keeps one client (its connections stay open between calls); the
        # action server's workers make one per call.
        self._client: httpx.AsyncClient | None = None
        self._keep = staff
        token = settings.orders_staff_token if staff else settings.orders_api_token
        self._headers = {"Authorization": f"Bearer {token.get_secret_value()}"}
        self._timeout = settings.orders_timeout_seconds
        self._transport = transport

    async def _post(
        self, path: str, body: dict[str, Any], actor: str | None = None
    ) -> dict[str, Any]:
        # `actor`: who asks, for the backend's audit log.
        headers = {**self._headers, "X-Actor": actor} if actor else self._headers
        try:
            if self._keep:
                if self._client is None:
                    self._client = httpx.AsyncClient(
                        timeout=self._timeout, transport=self._transport
                    )
                r = await self._client.post(f"{self._base}{path}", json=body, headers=headers)
            else:
                async with httpx.AsyncClient(timeout=self._timeout, transport=self._transport) as c:
                    r = await c.post(f"{self._base}{path}", json=body, headers=headers)
        except httpx.HTTPError as exc:
            raise OrderBackendUnavailable(f"{type(exc).__name__}: {exc}") from exc
        if r.status_code == 404:
            raise OrderNotFound()
        if r.status_code == 409:
            detail = r.json().get("detail", {})
            raise Refused(
                str(detail.get("reason", "refused")),
                str(detail.get("message", "")),
                {k: v for k, v in detail.items() if k not in ("reason", "message")},
            )
        if r.status_code >= 400:
            # 5xx is the backend's trouble; 401/403/422 are ours (token, request shape).
            # Either way the shopper can't be helped by the bot right now.
            raise OrderBackendUnavailable(f"order backend answered {r.status_code}: {r.text[:200]}")
        data: dict[str, Any] = r.json()
        return data

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def verify(self, order_number: str, email: str) -> bool:
        data = await self._post("/v1/verify", {"order_number": order_number, "email": email})
        return bool(data.get("verified"))

    async def lookup(self, order_number: str, email: str) -> dict[str, Any]:
        return await self._post("/v1/orders/lookup", {"order_number": order_number, "email": email})

    async def describe(self, order_number: str, actor: str) -> dict[str, Any]:
        """An order by number alone, with what the rules allow now (a `staff=True` client
        only; `actor` names the agent in the backend's audit log)."""
        return await self._post(
            "/v1/staff/orders/describe", {"order_number": order_number}, actor=actor
        )

    async def create_return(self, **body: Any) -> dict[str, Any]:
        return await self._post("/v1/orders/returns", body)

    async def request_change(self, **body: Any) -> dict[str, Any]:
        return await self._post("/v1/orders/changes", body)

    async def cancel(self, **body: Any) -> dict[str, Any]:
        return await self._post("/v1/orders/cancel", body)
