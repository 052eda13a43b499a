"""Log in, log out, who am I."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from starlette.concurrency import run_in_threadpool

from bot.staff.accounts import AccountError, LoginLocked
from bot.staff.deps import COOKIE, ConsoleDep, OriginDep, StaffDep, WriterDep, problem

router = APIRouter(prefix="/api/staff", tags=["staff"])


class Login(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=254)]
    password: Annotated[str, Field(min_length=1, max_length=1024)]


def _agent(session: Any, console: Any) -> dict[str, Any]:
    return {
        "agent": session.user.public() | {"email": session.user.email},
        "csrf_token": session.csrf_token,
        "agents_online": console.desk.staff.online(),
    }


@router.post("/login")
async def login(body: Login, response: Response, console: ConsoleDep, _: OriginDep) -> Any:
    # argon2 takes tens of milliseconds on purpose: not in the event loop, and not in the
    # database thread the shoppers' messages queue behind.
    try:
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
        max_age=int(console.settings.staff_session_ttl_seconds),
        httponly=True,
        samesite="strict",
        secure=console.settings.environment != "local",
        path="/",
    )
    return {
        "agent": user.public() | {"email": user.email},
        "csrf_token": csrf,
        "agents_online": console.desk.staff.online(),
    }


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(request: Request, _: WriterDep, console: ConsoleDep) -> Response:
    await console.db(console.accounts.close_session, request.cookies.get(COOKIE, ""))
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
    return response


@router.get("/me")
async def me(session: StaffDep, console: ConsoleDep) -> Any:
    return _agent(session, console)
