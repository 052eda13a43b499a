"""Everything the staff console's routes use, built once per gateway app."""

from __future__ import annotations

import asyncio
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from bot.gateway.dbthread import DbThread
from bot.gateway.rasa_client import RasaClient, RasaUnavailable
from bot.gateway.ratelimit import Buckets, RateLimiter
from bot.settings import Settings
from bot.shopper.order_backend import OrderBackendUnavailable, OrderClient, OrderNotFound
from bot.staff.accounts import StaffAccounts, StaffUser
from bot.staff.desk import HandoffDesk

if TYPE_CHECKING:
    from bot.faq.engine import FaqEngine

log = logging.getLogger(__name__)

HASHES_AT_ONCE = 2
MAX_NLP_QUEUE = 8  # suggestion jobs waiting or running at once, all agents together
LOGINS_PER_MINUTE = 10  # per client address, right or wrong


class NlpBusy(Exception):
    """Too many suggestion jobs are waiting; the agent should try again in a moment."""


class Nlp:
    """The FAQ engine and the full spaCy pipeline for suggestions, loaded once (in the
    background at start, or on first use) and run in one thread of their own: searches are
    CPU-bound, and neither the event loop nor the database thread may wait on them."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="nlp")
        self._engine: FaqEngine | None = None
        self._nlp: Any = None
        self._lock = threading.Lock()
        self._queued = 0  # jobs submitted and not finished (only the event loop counts)

    def _load(self) -> tuple[FaqEngine, Any]:
        with self._lock:
            if self._engine is None:
                from bot.faq.engine import FaqEngine
                from bot.staff.nlp import full_pipeline

                self._engine = FaqEngine.load(self.settings)
                self._nlp = full_pipeline(self.settings.faq_spacy_model)
            return self._engine, self._nlp

    def warm(self) -> None:
        """Start loading now, in the NLP thread (the first suggestion then waits less)."""
        self._pool.submit(self._load_quietly)

    def _load_quietly(self) -> None:
        try:
            self._load()
        except Exception:  # reported again, to the agent, on first use
            log.exception("could not load the FAQ engine for staff suggestions")

    async def run(self, fn: Any, *args: Any) -> Any:
        """`fn(engine, nlp, *args)` in the NLP thread; NlpBusy when too much waits already
        (a few pasted essays must not hold every agent's suggestions for minutes)."""
        if self._queued >= MAX_NLP_QUEUE:
            raise NlpBusy()

        def call() -> Any:
            engine, nlp = self._load()
            return fn(engine, nlp, *args)

        self._queued += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self._pool, call)
        finally:
            self._queued -= 1

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


class StaffConsole:
    def __init__(
        self,
        settings: Settings,
        accounts: StaffAccounts,
        desk: HandoffDesk,
        rasa: RasaClient,
        db: DbThread,
        buckets: Buckets | None = None,
    ) -> None:
        self.settings = settings
        self.accounts = accounts
        self.desk = desk
        self.rasa = rasa
        self.db = db
        self.orders = OrderClient(settings, staff=True)
        self.nlp = Nlp(settings)
        self.allowed_origins = {o.rstrip("/") for o in settings.staff_allowed_origins}
        # argon2 is made to be slow and to take memory (64 MiB per hash): at most this many
        # run at once, and each address may try only so often, so a flood of logins cannot
        # exhaust the gateway (seen: 300 logins at once took it from 0.4 to 3 GB).
        self.hashing = asyncio.Semaphore(HASHES_AT_ONCE)
        self.login_limits = RateLimiter(
            rate=LOGINS_PER_MINUTE / 60, burst=LOGINS_PER_MINUTE, name="staff-login"
        )
        # In Redis with several gateways: a guesser spread over them gets no more tries.
        self.buckets = buckets or Buckets()
        self.emails_in_progress: set[int] = set()  # agents whose pasted e-mail is analysed

    async def login_wait(self, ip: str) -> float:
        """0 if this address may try a login now (the try is counted), else the seconds
        until it may."""
        return await self.buckets.take((self.login_limits, ip))

    async def verified_order(self, conversation_id: str) -> str | None:
        """The order number the shopper proved is theirs in this conversation (Rasa's
        `verified_order` slot), or None."""
        try:
            tracker = await self.rasa.tracker(conversation_id)
        except RasaUnavailable as exc:
            log.warning("could not read the tracker of %s: %s", conversation_id, exc)
            return None
        slots = tracker.get("slots") or {}
        number = slots.get("verified_order")
        return str(number) if isinstance(number, str) and number else None

    async def order_facts(
        self, order_number: str | None, agent: StaffUser
    ) -> dict[str, Any] | None:
        return await describe_order(self.orders, order_number, f"staff:{agent.id}")

    async def aclose(self) -> None:
        self.nlp.close()
        await self.orders.aclose()


async def describe_order(
    orders: OrderClient, order_number: str | None, actor: str
) -> dict[str, Any] | None:
    """The order as the order backend describes it to staff, or an `error` saying why it
    is missing (never a guess); None without an order number."""
    if not order_number:
        return None
    try:
        return await orders.describe(order_number, actor)
    except OrderNotFound:
        return {"order_number": order_number, "error": "There is no order with this number."}
    except OrderBackendUnavailable as exc:
        log.warning("order backend unavailable for staff: %s", exc)
        return {
            "order_number": order_number,
            "error": "The order system can't be reached right now.",
        }
