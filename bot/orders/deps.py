"""FastAPI dependencies of the order backend, as `Annotated` aliases."""

from __future__ import annotations

import hmac
import time
from collections.abc import Callable
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from bot.orders.db import Database
from bot.orders.domain import ActorKind, Caller
from bot.orders.service import OrderService
from bot.settings import Settings

UNAUTHORIZED = "missing or invalid bearer token"

bearer_scheme = HTTPBearer(
    auto_error=False,
    scheme_name="bearer",
    description="The service token shared with the action server (ORDERS_API_TOKEN).",
)


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_database(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def get_service(request: Request) -> OrderService:
    service: OrderService = request.app.state.service
    return service


def get_now(request: Request) -> datetime:
    clock: Callable[[], datetime] = request.app.state.clock
    return clock()


SettingsDep = Annotated[Settings, Depends(get_settings)]
DatabaseDep = Annotated[Database, Depends(get_database)]
ServiceDep = Annotated[OrderService, Depends(get_service)]
Now = Annotated[datetime, Depends(get_now)]


def _check_bearer(credentials: HTTPAuthorizationCredentials | None, token: str) -> None:
    """401 unless the bearer token is `token` (compared in constant time)."""
    given = credentials.credentials.encode("utf-8") if credentials else b""
    if credentials is None or not hmac.compare_digest(given, token.encode("utf-8")):
        raise HTTPException(
            status_code=status.HTTP_401_UNAUTHORIZED,
            detail=UNAUTHORIZED,
            headers={"WWW-Authenticate": "Bearer"},
        )


def require_token(
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> None:
    """`Authorization: Bearer <ORDERS_API_TOKEN>`: the action server's token."""
    _check_bearer(credentials, settings.orders_api_token.get_secret_value())


def require_staff_token(
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> None:
    """`Authorization: Bearer <ORDERS_STAFF_TOKEN>`: the gateway's token for its staff
    console; the action server's token does not open these routes."""
    _check_bearer(credentials, settings.orders_staff_token.get_secret_value())


ActorHeader = Annotated[
    str | None,
    Header(
        max_length=128,
        description="Who asks, for the audit log (e.g. `actions:<conversation id>`, "
        "`staff:<agent id>`).",
    ),
]
ShopperIP = Annotated[
    str | None,
    Header(
        alias="X-Shopper-IP",
        max_length=256,
        description="The shopper's IP address as the gateway saw it: failed ownership "
        "checks are counted per client. Trusted only with the action server's token.",
    ),
]
ShopperSession = Annotated[
    str | None,
    Header(
        alias="X-Shopper-Session",
        max_length=256,
        description="The shopper's session (opaque, from the gateway): failed ownership "
        "checks are counted per client. Trusted only with the action server's token.",
    ),
]


def _deadline(request: Request) -> float:
    settings: Settings = request.app.state.settings
    return time.monotonic() + settings.orders_write_deadline_seconds


# `async`, so the deadline starts when the request is read, not once a worker thread is
# free: queueing for the thread pool counts against it too.
async def get_bot_caller(
    request: Request,
    x_actor: ActorHeader = None,
    shopper_ip: ShopperIP = None,
    shopper_session: ShopperSession = None,
) -> Caller:
    """A caller with the action server's token: the bot, on behalf of a shopper."""
    return Caller(
        kind=ActorKind.BOT,
        actor=(x_actor or "").strip() or ActorKind.BOT.value,
        client_ip=shopper_ip,
        session=shopper_session,
        deadline=_deadline(request),
    )


async def get_agent_caller(request: Request, x_actor: ActorHeader = None) -> Caller:
    """A caller with the staff token: an agent of the store, named by `X-Actor`."""
    return Caller(
        kind=ActorKind.AGENT,
        actor=(x_actor or "").strip() or ActorKind.AGENT.value,
        deadline=_deadline(request),
    )


BotCaller = Annotated[Caller, Depends(get_bot_caller)]
AgentCaller = Annotated[Caller, Depends(get_agent_caller)]
