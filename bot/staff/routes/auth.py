"""Log in, log out, who am I."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from starlette.concurrency import run_in_threadpool

from bot.staff.accounts import MAX_SESSION_AGE, AccountError, LoginLocked, StaffUser
from bot.staff.console import StaffConsole
from bot.staff.deps import COOKIE, ConsoleDep, OriginDep, StaffDep, WriterDep, problem

router = APIRouter(prefix="/api/staff", tags=["staff"])


class Login(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=254)]
    password: Annotated[str, Field(min_length=1, max_length=1024)]


def _agent(user: StaffUser, csrf_token: str, console: StaffConsole) -> dict[str, Any]:
    return {
        "agent": user.public() | {"email": user.email},
        "csrf_token": csrf_token,
        "agents_online": console.desk.staff.online(),
    }


@router.post("/login")
async def login(
    body: Login, request: Request, response: Response, console: ConsoleDep, _: OriginDep
) -> Any:
    ip = request.client.host if request.client else "unknown"
    wait = await console.login_wait(ip)
    if wait > 0:
        raise problem(
            "rate_limited",
            f"Too many logins from your network; try again in {max(1, round(wait))} s.",
            status.HTTP_429_TOO_MANY_REQUESTS,
            retry_after=round(wait),
        )
    # argon2 takes tens of milliseconds on purpose: not in the event loop, and not in the
    # database thread the shoppers' messages queue behind.
    try:
        async with console.hashing:
            user = await run_in_threadpool(console.accounts.authenticate, body.email, body.password)
    except LoginLocked as locked:
        minutes = max(1, round(locked.retry_after / 60))
        raise problem(
            "locked",
            f"Too many wrong passwords. Try again in {minutes} minute{'s' * (minutes > 1)}.",
            status.HTTP_429_TOO_MANY_REQUESTS,
            retry_after=round(locked.retry_after),
        ) from None
    except AccountError as exc:
        raise problem("bad_credentials", str(exc), status.HTTP_401_UNAUTHORIZED) from None
    token, csrf = await console.db(console.accounts.open_session, user)
    response.set_cookie(
        COOKIE,
        token,
        # The server ends the session after STAFF_SESSION_TTL_SECONDS without use, or a
        # week after the login; the cookie itself may live that week.
        max_age=int(MAX_SESSION_AGE.total_seconds()),
        httponly=True,
        samesite="strict",
        secure=console.settings.environment != "local",
        path="/",
    )
    return _agent(user, csrf, console)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(request: Request, _: WriterDep, console: ConsoleDep) -> Response:
    token = request.cookies.get(COOKIE, "")
    await console.db(console.accounts.close_session, token)
    await console.desk.staff.close_session(token)  # its live feed ends now, too
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
    return response


@router.get("/me")
async def me(session: StaffDep, console: ConsoleDep) -> Any:
    return _agent(session.user, session.csrf_token, console)
