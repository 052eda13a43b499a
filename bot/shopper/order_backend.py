"""The actions' client of the order backend (bot/orders), with the errors they handle.

Every call has a short timeout: when the backend is down or slow the shopper is told so
and offered a person, and nothing is reported as done unless the backend confirmed it.
A write whose answer was lost (a timeout, a dropped connection, a server error) is asked
again with the same idempotency key before anything is said: the backend then answers
with the record it made, or makes it now, or says why it refuses; only when that still
can't be learned does the caller hear `WriteOutcomeUnknown`.
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass
from typing import Any

import httpx

from bot.orders.domain import Refused
from bot.settings import Settings

# Re-asks after a write whose outcome was lost, and the pauses before them. With the
# 3 s timeout the whole exchange stays under WRITE_CONFIRM_BUDGET_SECONDS, well inside
# the gateway's wait for Rasa (30 s).
WRITE_CONFIRM_PAUSES = (0.5, 1.0)
WRITE_CONFIRM_BUDGET_SECONDS = 11.0
# The reasons of a 503 after which the backend guarantees the write was rolled back.
ROLLED_BACK = frozenset({"write_deadline_exceeded"})
# A header value we forward must be plain printable ASCII (httpx refuses the rest, and a
# line break would be header injection); anything else is sent as unknown.
_HEADER_VALUE = re.compile(r"[!-~](?:[ -~]{0,126}[!-~])?")


class OrderBackendUnavailable(Exception):
    """The order backend could not be reached, timed out or failed (5xx).

    For a write this also means: nothing was written (the request never arrived, or the
    backend said it rolled it back)."""


class WriteOutcomeUnknown(OrderBackendUnavailable):
    """A write was sent, and even after asking again it is unknown whether it was made."""


class OrderNotFound(Exception):
    """No order matches this order number and e-mail (deliberately not saying which)."""


@dataclass
class VerificationLocked(Exception):
    """Too many failed ownership checks for this e-mail, order or client (HTTP 429): the
    backend refused to check at all, so this says nothing about the details given."""

    message: str = ""


@dataclass(frozen=True)
class Shopper:
    """Who is asking, as the gateway told Rasa: the backend counts failed ownership checks
    per client too. Unknown parts are None (and not sent)."""

    ip: str | None = None
    session: str | None = None
    conversation: str | None = None

    def headers(self) -> dict[str, str]:
        headers = {}
        for name, value in (
            ("X-Shopper-IP", self.ip),
            ("X-Shopper-Session", self.session),
            ("X-Actor", f"actions:{self.conversation}" if self.conversation else None),
        ):
            if value is not None and _HEADER_VALUE.fullmatch(value):
                headers[name] = value
        return headers


UNKNOWN_SHOPPER = Shopper()


class _Lost(Exception):
    """One attempt's answer was lost; `sent` says whether the request may have arrived."""

    def __init__(self, detail: str, sent: bool) -> None:
        super().__init__(detail)
        self.sent = sent


def _detail(r: httpx.Response) -> dict[str, Any]:
    try:
        body = r.json()
    except ValueError:
        return {}
    detail = body.get("detail") if isinstance(body, dict) else None
    return detail if isinstance(detail, dict) else {}


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

    async def _send(
        self, path: str, body: dict[str, Any], headers: dict[str, str]
    ) -> httpx.Response:
        """One request; `_Lost` when no answer came back."""
        try:
            if self._keep:
                if self._client is None:
                    self._client = httpx.AsyncClient(
                        timeout=self._timeout, transport=self._transport
                    )
                return await self._client.post(f"{self._base}{path}", json=body, headers=headers)
            async with httpx.AsyncClient(timeout=self._timeout, transport=self._transport) as c:
                return await c.post(f"{self._base}{path}", json=body, headers=headers)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            # No connection was made: the request cannot have arrived.
            raise _Lost(f"{type(exc).__name__}: {exc}", sent=False) from exc
        except httpx.HTTPError as exc:
            raise _Lost(f"{type(exc).__name__}: {exc}", sent=True) from exc

    def _answer(self, r: httpx.Response) -> dict[str, Any]:
        """The backend's answer, or the exception that says what it means."""
        if r.status_code == 404:
            raise OrderNotFound()
        if r.status_code == 409:
            detail = _detail(r)
            # The backend's own refusal, as it raised it (one meaning of Refused).
            raise Refused(
                str(detail.get("reason", "refused")),
                str(detail.get("message", "")),
                **{k: v for k, v in detail.items() if k not in ("reason", "message")},
            )
        if r.status_code == 429 and _detail(r).get("reason") == "verification_locked":
            raise VerificationLocked(str(_detail(r).get("message", "")))
        if r.status_code >= 400:
            # 5xx is the backend's trouble; 401/403/422 are ours (token, request shape).
            # Either way the shopper can't be helped by the bot right now.
            raise OrderBackendUnavailable(f"order backend answered {r.status_code}: {r.text[:200]}")
        try:
            data = r.json()
        except ValueError:
            data = None
        if not isinstance(data, dict):
            raise OrderBackendUnavailable(f"order backend answered {r.text[:200]!r}")
        return data

    async def _post(
        self, path: str, body: dict[str, Any], headers: dict[str, str] | None = None
    ) -> dict[str, Any]:
        try:
            r = await self._send(path, body, {**self._headers, **(headers or {})})
        except _Lost as lost:
            raise OrderBackendUnavailable(str(lost)) from lost
        return self._answer(r)

    async def _write(self, path: str, body: dict[str, Any], shopper: Shopper) -> dict[str, Any]:
        """A create with an idempotency key in `body`, asked again (same key) while its
        outcome is unknown. Raises OrderBackendUnavailable only when nothing was written,
        WriteOutcomeUnknown when that can't be told."""
        headers = {**self._headers, **shopper.headers()}
        started = time.monotonic()
        maybe_written = False
        last = ""
        for pause in (0.0, *WRITE_CONFIRM_PAUSES):
            if pause:
                if (
                    time.monotonic() - started + pause + self._timeout
                    > WRITE_CONFIRM_BUDGET_SECONDS
                ):
                    break
                await asyncio.sleep(pause)
            try:
                r = await self._send(path, body, headers)
            except _Lost as lost:
                maybe_written |= lost.sent
                last = str(lost)
                continue
            if r.status_code < 500:
                # A success (made now, or the earlier attempt's record replayed), or an
                # answer to this key (404, 409 are decided after the key is looked up).
                try:
                    return self._answer(r)
                except VerificationLocked:
                    # Refused before anything was looked at: says nothing about an
                    # earlier attempt.
                    if maybe_written:
                        break
                    raise
                except OrderBackendUnavailable as exc:
                    # A 401/403/422 (a rotated token, a proxy's refusal) says nothing about
                    # an earlier attempt either: never "not submitted" after one that may
                    # have been written.
                    if maybe_written:
                        raise WriteOutcomeUnknown(str(exc)) from exc
                    raise
            last = f"order backend answered {r.status_code}: {r.text[:200]}"
            # A 503 with the write deadline's reason was rolled back; any other server
            # error may have happened after the commit.
            maybe_written |= not (r.status_code == 503 and _detail(r).get("reason") in ROLLED_BACK)
        if maybe_written:
            raise WriteOutcomeUnknown(last)
        raise OrderBackendUnavailable(last)

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def verify(
        self, order_number: str, email: str, shopper: Shopper = UNKNOWN_SHOPPER
    ) -> bool:
        data = await self._post(
            "/v1/verify", {"order_number": order_number, "email": email}, shopper.headers()
        )
        return bool(data.get("verified"))

    async def lookup(
        self, order_number: str, email: str, shopper: Shopper = UNKNOWN_SHOPPER
    ) -> dict[str, Any]:
        return await self._post(
            "/v1/orders/lookup", {"order_number": order_number, "email": email}, shopper.headers()
        )

    async def describe(self, order_number: str, actor: str) -> dict[str, Any]:
        """An order by number alone, with what the rules allow now (a `staff=True` client
        only; `actor` names the agent in the backend's audit log)."""
        return await self._post(
            "/v1/staff/orders/describe", {"order_number": order_number}, {"X-Actor": actor}
        )

    async def create_return(
        self, shopper: Shopper = UNKNOWN_SHOPPER, **body: Any
    ) -> dict[str, Any]:
        return await self._write("/v1/orders/returns", body, shopper)

    async def request_change(
        self, shopper: Shopper = UNKNOWN_SHOPPER, **body: Any
    ) -> dict[str, Any]:
        return await self._write("/v1/orders/changes", body, shopper)

    async def cancel(self, shopper: Shopper = UNKNOWN_SHOPPER, **body: Any) -> dict[str, Any]:
        return await self._write("/v1/orders/cancel", body, shopper)
