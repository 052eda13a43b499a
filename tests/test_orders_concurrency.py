"""The real order backend (`python -m bot.orders serve`, started by the supervisor) under
concurrent identical and competing requests, and writes held up past its deadline, on a
SQLite file and on PostgreSQL."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from bot.orders.db import create_orders_engine
from bot.orders.models import AuditEntry, Cancellation, ChangeRequest, Order, ReturnRequest
from tests.orders_helpers import (
    AUTH,
    BACKENDS,
    count,
    database_url,
    order_servers,
    proof,
    rows,
)

PARALLEL = 20


@dataclass
class Service:
    url: str
    database: str

    def post(self, path: str, body: dict[str, Any] | None = None) -> httpx.Response:
        return httpx.post(f"{self.url}{path}", json=body, headers=AUTH, timeout=60)

    def item_id(self, number: str) -> int:
        response = self.post("/v1/orders/lookup", proof(number))
        assert response.status_code == 200, response.text
        return int(response.json()["items"][0]["id"])

    def seed(self) -> None:
        response = self.post("/v1/admin/seed")
        assert response.status_code == 200 and response.json()["seeded"], response.text


@pytest.fixture(params=BACKENDS)
def service(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Service]:
    with database_url(request.param, tmp_path) as db_url, order_servers(db_url, tmp_path) as urls:
        yield Service(url=urls[0], database=db_url)


def all_at_once(make_request: Callable[[int], httpx.Response]) -> list[httpx.Response]:
    """Run PARALLEL requests from PARALLEL threads, released together by a barrier."""
    barrier = threading.Barrier(PARALLEL)

    def run(i: int) -> httpx.Response:
        barrier.wait()
        return make_request(i)

    with ThreadPoolExecutor(max_workers=PARALLEL) as pool:
        return list(pool.map(run, range(PARALLEL)))


def reasons(responses: list[httpx.Response]) -> Counter[str]:
    return Counter(
        str(r.status_code) if r.status_code != 409 else r.json()["detail"]["reason"]
        for r in responses
    )


def test_concurrent_seeds_seed_once(service: Service) -> None:
    responses = all_at_once(lambda _i: service.post("/v1/admin/seed"))
    assert {r.status_code for r in responses} == {200}
    assert sum(r.json()["seeded"] for r in responses) == 1
    assert count(service.database, Order) == 5


def test_identical_returns_create_one_record(service: Service) -> None:
    service.seed()
    body = {
        **proof("KNT-1002"),
        "item_id": service.item_id("KNT-1002"),
        "kind": "return",
        "reason": "Too big.",
        "idempotency_key": "same-key-for-all-20",
    }
    responses = all_at_once(lambda _i: service.post("/v1/orders/returns", body))
    assert [r.status_code for r in responses] == [201] * PARALLEL, [r.text for r in responses]
    assert len({r.json()["rma_number"] for r in responses}) == 1
    assert Counter(r.headers["idempotent-replayed"] for r in responses) == {
        "false": 1,
        "true": PARALLEL - 1,
    }
    assert count(service.database, ReturnRequest) == 1


def test_competing_returns_for_one_item_create_one_record(service: Service) -> None:
    service.seed()
    item = service.item_id("KNT-1002")

    def request(i: int) -> httpx.Response:
        body = {
            **proof("KNT-1002"),
            "item_id": item,
            "kind": "exchange" if i % 2 else "return",
            "exchange_size": "7.5" if i % 2 else None,
            "reason": f"attempt {i}",
            "idempotency_key": f"different-key-{i:02d}",
        }
        return service.post("/v1/orders/returns", {k: v for k, v in body.items() if v})

    responses = all_at_once(request)
    assert reasons(responses) == {"201": 1, "return_already_open": PARALLEL - 1}
    assert count(service.database, ReturnRequest) == 1
    assert count(service.database, ReturnRequest, status="open") == 1


def test_competing_changes_use_the_one_change_once(service: Service) -> None:
    service.seed()
    item = service.item_id("KNT-1001")
    sizes = ["5", "5.5", "6.5", "7", "7.5", "8", "8.5", "9", "9.5", "10"]

    def request(i: int) -> httpx.Response:
        body = {
            **proof("KNT-1001"),
            "item_id": item,
            "attribute": "ring_size",
            "new_value": sizes[i % len(sizes)],
            "idempotency_key": f"change-key-{i:02d}",
        }
        return service.post("/v1/orders/changes", body)

    responses = all_at_once(request)
    assert reasons(responses) == {"201": 1, "change_already_used": PARALLEL - 1}
    assert count(service.database, ChangeRequest) == 2  # KNT-1004's seeded one + this


def test_competing_cancels_cancel_once(service: Service) -> None:
    service.seed()
    responses = all_at_once(
        lambda i: service.post(
            "/v1/orders/cancel", {**proof("KNT-1001"), "idempotency_key": f"cancel-key-{i:02d}"}
        )
    )
    assert reasons(responses) == {"200": 1, "not_cancellable": PARALLEL - 1}
    assert count(service.database, Cancellation) == 1


# --- honest writes: the backend's deadline is shorter than the client's timeout ----------


def hold_order(url: str, number: str, seconds: float) -> threading.Thread:
    """Another transaction holds what a write to `number` must wait for (SQLite: the
    database's write lock; PostgreSQL: the order's row) for `seconds`."""
    taken = threading.Event()

    def hold() -> None:
        engine = create_orders_engine(url, immediate=True)
        try:
            with engine.begin() as conn:
                conn.execute(select(Order.id).where(Order.order_number == number).with_for_update())
                taken.set()
                time.sleep(seconds)
        finally:
            engine.dispose()

    holder = threading.Thread(target=hold)
    holder.start()
    assert taken.wait(10)
    return holder


def cancel_body(key: str) -> dict[str, Any]:
    return {**proof("KNT-1001"), "idempotency_key": key}


def test_a_write_that_cannot_commit_in_time_is_rolled_back(service: Service) -> None:
    service.seed()
    deadline, timeout = 2.0, 3.0  # the settings' defaults: ORDERS_WRITE_DEADLINE_SECONDS < ...
    holder = hold_order(service.database, "KNT-1001", seconds=timeout + 1)
    started = time.monotonic()
    answer = httpx.post(
        f"{service.url}/v1/orders/cancel",
        json=cancel_body("cancel-late-0001"),
        headers=AUTH,
        timeout=timeout,
    )
    took = time.monotonic() - started
    holder.join()
    assert answer.status_code == 503, answer.text
    assert answer.json()["detail"]["reason"] == "write_deadline_exceeded"
    assert "nothing was saved" in answer.json()["detail"]["message"]
    assert deadline <= took < timeout  # answered before the client would have given up
    time.sleep(0.5)  # nothing happens later either
    assert count(service.database, Cancellation) == 0
    assert count(service.database, Order, order_number="KNT-1001", status="in_production") == 1
    retried = service.post("/v1/orders/cancel", cancel_body("cancel-late-0001"))
    assert retried.status_code == 200 and retried.headers["idempotent-replayed"] == "false"
    assert count(service.database, Cancellation) == 1


def test_a_retry_after_the_client_gave_up_returns_the_first_write(service: Service) -> None:
    service.seed()
    holder = hold_order(service.database, "KNT-1001", seconds=1.0)  # under the deadline
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(
            f"{service.url}/v1/orders/cancel",
            json=cancel_body("cancel-gave-up-01"),
            headers=AUTH,
            timeout=0.5,  # a client that gives up early
        )
    holder.join()
    # The backend goes on and writes it (within its deadline) ...
    deadline = time.monotonic() + 10
    while count(service.database, Cancellation) == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    # ... and asking again with the same key returns that write, not a second one.
    retried = service.post("/v1/orders/cancel", cancel_body("cancel-gave-up-01"))
    assert retried.status_code == 200, retried.text
    assert retried.headers["idempotent-replayed"] == "true"
    assert count(service.database, Cancellation) == 1
    [entry] = rows(service.database, AuditEntry, action="order.cancelled")
    assert entry.details["cancellation_number"] == retried.json()["cancellation_number"]
