"""FastAPI dependencies of the order backend, as `Annotated` aliases."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from bot.orders.db import Database
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


def get_actor(
    x_actor: Annotated[
        str | None,
        Header(
            max_length=128,
            description="Who asks, for the audit log (e.g. `actions:<conversation id>`).",
        ),
    ] = None,
) -> str:
    return (x_actor or "").strip() or "api"


Actor = Annotated[str, Depends(get_actor)]
