"""The gateway's FastAPI app: the widget's WebSocket, the widget files, the demo
storefront, health and metrics."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, WebSocket
from fastapi.responses import FileResponse, JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from bot.gateway.chat import ChatService
from bot.gateway.metrics import GatewayMetrics
from bot.gateway.rasa_client import RasaClient
from bot.gateway.transcripts import TranscriptStore
from bot.settings import PROJECT_ROOT, Settings

WIDGET_DIR = PROJECT_ROOT / "widget"


def create_app(settings: Settings, widget_dir: Path = WIDGET_DIR) -> FastAPI:
    metrics = GatewayMetrics()
    store = TranscriptStore(settings.database_url)
    rasa = RasaClient(settings.rasa_url, settings.gateway_rasa_timeout_seconds)
    chat = ChatService(settings, store, rasa, metrics)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        await rasa.aclose()
        chat.close()

    app = FastAPI(title="KNT chat gateway", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.chat = chat

    @app.websocket("/ws")
    async def widget_socket(ws: WebSocket) -> None:
        await chat.serve(ws)

    @app.get("/healthz")
    async def healthz() -> JSONResponse:
        """200 while shoppers' messages can be taken (the database answers), even if Rasa
        is down: their messages are then kept and answered later."""
        try:
            await chat.db(store.ping)
            database = "ok"
        except Exception as exc:  # any driver error means "not healthy"
            database = f"error: {type(exc).__name__}"
        rasa_status = "ok" if await rasa.reachable() else "unreachable"
        body = {
            "status": "ok" if database == "ok" else "error",
            "database": database,
            "rasa": rasa_status,
        }
        return JSONResponse(body, status_code=200 if database == "ok" else 503)

    @app.get("/metrics")
    async def prometheus() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    def widget_file(name: str, media_type: str) -> FileResponse:
        # no-cache: browsers revalidate (ETag), so a new widget reaches shoppers at once.
        return FileResponse(
            widget_dir / name, media_type=media_type, headers={"Cache-Control": "no-cache"}
        )

    @app.get("/", include_in_schema=False)
    async def storefront() -> FileResponse:
        return widget_file("storefront.html", "text/html; charset=utf-8")

    @app.get("/widget.js", include_in_schema=False)
    async def widget_js() -> FileResponse:
        return widget_file("widget.js", "text/javascript; charset=utf-8")

    @app.get("/widget.css", include_in_schema=False)
    async def widget_css() -> FileResponse:
        return widget_file("widget.css", "text/css; charset=utf-8")

    return app
