"""FastAPI dependencies of the staff console, as `Annotated` aliases.

Reading needs a live session cookie. Changing anything also needs the page's CSRF token
in `X-CSRF-Token` and an `Origin` the console is served from: the SameSite=Strict cookie
already stops other sites from sending it, and these two are the second lock.
"""

from __future__ import annotations

import hmac
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, status

from bot.staff.accounts import StaffSession
from bot.staff.console import StaffConsole

COOKIE = "knt_staff"


def problem(code: str, message: str, status_code: int, **extra: Any) -> HTTPException:
    """The console's error shape: `{"detail": {"code", "message", ...}}`."""
    return HTTPException(
        status_code=status_code, detail={"code": code, "message": message, **extra}
    )


def get_console(request: Request) -> StaffConsole:
    console: StaffConsole = request.app.state.staff
    return console


ConsoleDep = Annotated[StaffConsole, Depends(get_console)]


def origin_allowed(console: StaffConsole, origin: str | None) -> bool:
    return bool(origin) and (origin or "").rstrip("/") in console.allowed_origins


def require_origin(request: Request, console: ConsoleDep) -> None:
    if not origin_allowed(console, request.headers.get("origin")):
        raise problem(
            "bad_origin",
            "This request did not come from the staff console; reload the console.",
            status.HTTP_403_FORBIDDEN,
        )


async def current_session(request: Request, console: ConsoleDep) -> StaffSession:
    token = request.cookies.get(COOKIE)
    session = await console.db(console.accounts.session, token) if token else None
    if session is None:
        raise problem("login_required", "Please log in.", status.HTTP_401_UNAUTHORIZED)
    return session


StaffDep = Annotated[StaffSession, Depends(current_session)]


def writer_session(request: Request, session: StaffDep, console: ConsoleDep) -> StaffSession:
    require_origin(request, console)
    given = request.headers.get("x-csrf-token", "")
    if not hmac.compare_digest(given.encode("utf-8", "replace"), session.csrf_token.encode()):
        raise problem(
            "bad_csrf",
            "This page's security token is out of date; reload the console.",
            status.HTTP_403_FORBIDDEN,
        )
    return session


WriterDep = Annotated[StaffSession, Depends(writer_session)]
OriginDep = Annotated[None, Depends(require_origin)]
