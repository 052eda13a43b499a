"""Refusals and not-found as HTTP answers: `{"detail": {"reason", "message", ...}}`."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse

from bot.orders.domain import NotFound, Refused


async def _refused(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Refused)
    return JSONResponse(status_code=409, content=jsonable_encoder({"detail": exc.detail()}))


async def _not_found(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, NotFound)
    return JSONResponse(status_code=404, content={"detail": exc.detail()})


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(Refused, _refused)
    app.add_exception_handler(NotFound, _not_found)
