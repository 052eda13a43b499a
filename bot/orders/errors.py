"""Errors as HTTP answers: `{"detail": {"reason", "message", ...}}` for the store's
refusals (409), a missing order (404), a locked check (429) and a database that could not
answer in time (503); and the request body limit (413)."""

from __future__ import annotations

import logging

from fastapi import FastAPI, HTTPException, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.orders.domain import NotFound, Refused, VerificationLocked, WriteDeadlineExceeded

log = logging.getLogger(__name__)

BODY_TOO_LARGE = "request body too large"
DATABASE_UNAVAILABLE = {
    "reason": "database_unavailable",
    "message": "The order system's database is not answering right now; nothing was "
    "saved. Try again in a moment.",
}


async def _refused(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Refused)
    return JSONResponse(status_code=409, content=jsonable_encoder({"detail": exc.detail()}))


async def _not_found(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, NotFound)
    return JSONResponse(status_code=404, content={"detail": exc.detail()})


async def _locked(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, VerificationLocked)
    return JSONResponse(status_code=429, content={"detail": exc.detail()})


async def _deadline(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, WriteDeadlineExceeded)
    return JSONResponse(status_code=503, content={"detail": exc.detail()})


async def _database(_request: Request, exc: Exception) -> JSONResponse:
    log.error("order database error: %s", exc)
    return JSONResponse(status_code=503, content={"detail": DATABASE_UNAVAILABLE})


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(Refused, _refused)
    app.add_exception_handler(NotFound, _not_found)
    app.add_exception_handler(VerificationLocked, _locked)
    app.add_exception_handler(WriteDeadlineExceeded, _deadline)
    app.add_exception_handler(OperationalError, _database)


class BodySizeLimit:
    """413 for a body over `limit` bytes, whether it says so up front (Content-Length) or
    only as it streams in (chunked)."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = Headers(scope=scope).get("content-length")
        if length is not None and (not length.isdigit() or int(length) > self.limit):
            response = JSONResponse(status_code=413, content={"detail": BODY_TOO_LARGE})
            await response(scope, receive, send)
            return
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    # An HTTPException passes through FastAPI's body parsing untouched
                    # (anything else there becomes a 400) and is answered as JSON.
                    raise HTTPException(status_code=413, detail=BODY_TOO_LARGE)
            return message

        await self.app(scope, limited, send)
