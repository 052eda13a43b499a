"""The gateway's FastAPI app: the widget's WebSocket, the widget files, the demo
storefront, the staff console, health and metrics."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request, WebSocket
from fastapi.responses import FileResponse, JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from bot.gateway.chat import ChatService
from bot.gateway.dbthread import DbThread
from bot.gateway.hub import Hub
from bot.gateway.metrics import GatewayMetrics
from bot.gateway.rasa_client import RasaClient
from bot.gateway.transcripts import TranscriptStore
from bot.settings import PROJECT_ROOT, Settings
from bot.staff.accounts import StaffAccounts
from bot.staff.console import NlpBusy, StaffConsole
from bot.staff.desk import HandoffDesk
from bot.staff.queue import HandoffStore
from bot.staff.routes import staff_router

WIDGET_DIR = PROJECT_ROOT / "widget"
MAX_BODY_BYTES = 256 * 1024
SESSION_SWEEP_SECONDS = 600  # expired staff sessions and stale failed-login counts go
log = logging.getLogger(__name__)


async def every(seconds: float, job: Callable[[], Awaitable[object]]) -> None:
    """Run `job` every `seconds` until cancelled; a failure (a database hiccup) is logged
    and the next round runs all the same."""
    while True:
        await asyncio.sleep(seconds)
        try:
            await job()
        except Exception:
            log.exception("background job %s failed", getattr(job, "__qualname__", job))


def create_app(
    settings: Settings, widget_dir: Path = WIDGET_DIR, *, warm_nlp: bool = True
) -> FastAPI:
    """The gateway over `settings`; `warm_nlp` starts loading the FAQ engine for the
    staff's suggestions in the background at start (tests that never ask skip it)."""
    metrics = GatewayMetrics()
    store = TranscriptStore(settings.database_url)
    rasa = RasaClient(
        settings.rasa_url,
        settings.gateway_rasa_timeout_seconds,
        settings.rasa_token.get_secret_value(),
    )
    hub = Hub()
    db = DbThread(settings.database_url)
    desk = HandoffDesk(settings, store, HandoffStore(settings.database_url), rasa, hub, db)
    chat = ChatService(settings, store, rasa, metrics, hub, db, desk)
    accounts = StaffAccounts(
        settings.database_url,
        session_ttl_seconds=settings.staff_session_ttl_seconds,
        lockout_attempts=settings.staff_lockout_attempts,
        lockout_seconds=settings.staff_lockout_seconds,
    )
    staff = StaffConsole(settings, accounts, desk, rasa, db)

    async def sweep_sessions() -> None:
        await db(accounts.sweep)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if warm_nlp:
            staff.nlp.warm()
        background = [
            asyncio.create_task(every(desk.overdue_check_seconds, desk.tell_overdue)),
            asyncio.create_task(every(SESSION_SWEEP_SECONDS, sweep_sessions)),
        ]
        yield
        for task in background:
            task.cancel()
        await asyncio.gather(*background, return_exceptions=True)
        await rasa.aclose()
        await staff.aclose()
        db.close()

    app = FastAPI(
        title="KNT chat gateway",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        # No request of the console needs more (a pasted e-mail is capped at 50,000
        # characters); larger bodies are refused while they arrive, not after parsing.
        max_body_size=MAX_BODY_BYTES,
    )
    app.state.chat = chat
    app.state.staff = staff
    app.include_router(staff_router())

    @app.exception_handler(NlpBusy)
    async def nlp_busy(_: Request, __: NlpBusy) -> JSONResponse:
        return JSONResponse(
            {"detail": {"code": "busy", "message": "Suggestions are busy; try again shortly."}},
            status_code=503,
            headers={"Retry-After": "5"},
        )

    @app.websocket("/ws")
    async def widget_socket(ws: WebSocket) -> None:
        await chat.serve(ws)

    @app.get("/healthz")
    async def healthz() -> JSONResponse:
        """200 while shoppers' messages can be taken (the database answers), even if Rasa
        is down: their messages are then kept and answered later."""
        try:
            await db(store.ping)
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
