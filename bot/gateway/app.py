"""The gateway's FastAPI app: the widget's WebSocket, the widget files, the demo
storefront, the staff console, health and metrics."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from fastapi import FastAPI, Request, WebSocket
from fastapi.responses import FileResponse, JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from bot.gateway.chat import ChatService
from bot.gateway.connections import ConnectionCap
from bot.gateway.dbthread import DbThread
from bot.gateway.hub import Hub
from bot.gateway.locks import ConversationLocks
from bot.gateway.metrics import GatewayMetrics
from bot.gateway.rasa_client import RasaClient, http_ok
from bot.gateway.ratelimit import Buckets
from bot.gateway.redis_client import connect
from bot.gateway.relay import Relay, frame_key
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
# How often messages kept while Rasa was unreachable are tried again (cheap when none wait:
# one indexed query).
RETRY_WAITING_SECONDS = 1.0
log = logging.getLogger(__name__)


def supervised_processes() -> dict[str, dict[str, object]] | None:
    """The supervisor's state of each process (`SUPERVISOR_STATE_FILE`, written by
    `bot run`), or None when the gateway runs on its own or the file can't be read."""
    path = os.environ.get("SUPERVISOR_STATE_FILE")
    if not path:
        return None
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None
    processes = data.get("processes") if isinstance(data, dict) else None
    if not isinstance(processes, dict):
        return None
    return {str(k): v for k, v in processes.items() if isinstance(v, dict)}


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
    rasa_servers = [u.strip() for u in settings.rasa_urls.split(",") if u.strip()]
    rasa = RasaClient(
        rasa_servers or settings.rasa_url,
        settings.gateway_rasa_timeout_seconds,
        settings.rasa_token.get_secret_value(),
        action_server_health=(
            f"http://{settings.action_server_host}:{settings.action_server_port}/health"
        ),
    )
    # With Redis, several gateways share live delivery, locks, limits and caps; without
    # it all of that lives in this process (one gateway).
    redis_url = settings.gateway_redis_url
    redis = connect(redis_url) if redis_url else None
    subscriber = connect(redis_url, retries=0) if redis_url else None
    prefix = settings.gateway_redis_prefix
    gateway_id = f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(4)}"
    relay = (
        Relay(
            redis,
            subscriber,
            prefix,
            gateway_id,
            key=frame_key(settings.gateway_secret.get_secret_value()),
        )
        if redis is not None and subscriber is not None
        else None
    )
    hub = Hub(ConversationLocks(redis, prefix), relay)
    db = DbThread(settings.database_url)
    desk = HandoffDesk(settings, store, HandoffStore(settings.database_url), rasa, hub, db)
    connections = ConnectionCap(settings.gateway_max_connections_per_ip, redis, prefix, gateway_id)
    buckets = Buckets(redis, prefix)
    chat = ChatService(settings, store, rasa, metrics, hub, db, desk, buckets, connections)
    accounts = StaffAccounts(
        settings.database_url,
        session_ttl_seconds=settings.staff_session_ttl_seconds,
        lockout_attempts=settings.staff_lockout_attempts,
        lockout_seconds=settings.staff_lockout_seconds,
    )
    staff = StaffConsole(settings, accounts, desk, rasa, db, buckets)
    probe = httpx.AsyncClient(timeout=2)  # health checks of the order backend
    orders_health = f"{settings.orders_url.rstrip('/')}/healthz"

    async def sweep_sessions() -> None:
        await db(accounts.sweep)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if warm_nlp:
            staff.nlp.warm()
        background = [
            asyncio.create_task(every(desk.overdue_check_seconds, desk.tell_overdue)),
            asyncio.create_task(every(SESSION_SWEEP_SECONDS, sweep_sessions)),
            asyncio.create_task(every(RETRY_WAITING_SECONDS, chat.answer_waiting)),
        ]
        if relay is not None:
            background += [
                asyncio.create_task(relay.run()),
                asyncio.create_task(desk.staff.announce()),
                asyncio.create_task(every(connections.heartbeat_seconds, connections.refresh)),
            ]
        yield
        for task in background:
            task.cancel()
        await asyncio.gather(*background, return_exceptions=True)
        if relay is not None:  # the other gateways stop counting our agents now
            await relay.publish("agents", gateway_id, {"agents": []})
        await rasa.aclose()
        await probe.aclose()
        await staff.aclose()
        db.close()
        for client in (redis, subscriber):
            if client is not None:
                await client.aclose()

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
        is down: their messages are then kept and answered later. Each dependency's
        state is reported, and the supervisor's view of the processes when it runs us."""
        try:
            await db(store.ping)
            database = "ok"
        except Exception as exc:  # any driver error means "not healthy"
            database = f"error: {type(exc).__name__}"
        rasa_ok, actions_ok, orders_ok = await asyncio.gather(
            rasa.reachable(), rasa.actions_reachable(), http_ok(probe, orders_health)
        )
        body: dict[str, object] = {
            "status": "ok" if database == "ok" else "error",
            "database": database,
            "rasa": "ok" if rasa_ok else "unreachable",
            "action_server": "ok" if actions_ok else "unreachable",
            "order_backend": "ok" if orders_ok else "unreachable",
        }
        if len(rasa.servers) > 1:
            reachable = await rasa.servers_reachable()
            body["rasa_servers"] = {
                server: "ok" if ok else "unreachable"
                for server, ok in zip(rasa.servers, reachable, strict=True)
            }
        if relay is not None:
            # Without Redis this gateway still serves its own sockets (and counts limits
            # itself); shoppers and agents on other gateways miss its live frames meanwhile.
            body["redis"] = relay.state
        processes = supervised_processes()
        if processes is not None:
            body["processes"] = processes
        return JSONResponse(body, status_code=200 if database == "ok" else 503)

    @app.get("/metrics")
    async def prometheus() -> Response:
        metrics.observe_processes(supervised_processes())
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
