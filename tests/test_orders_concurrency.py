"""The real order backend (`python -m bot.orders serve`, started by the supervisor) under
concurrent identical and competing requests, on a SQLite file and on PostgreSQL."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot import stack
from bot.orders.models import Cancellation, ChangeRequest, Order, ReturnRequest
from bot.settings import PROJECT_ROOT
from bot.supervisor import Supervisor, free_port
from tests.orders_helpers import AUTH, BACKENDS, count, database_url, proof, settings_for

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
    with database_url(request.param, tmp_path) as db_url:
        settings = settings_for(db_url, orders_port=free_port())
        backend = stack.order_backend(settings)
        with Supervisor(PROJECT_ROOT, log_dir=tmp_path, echo=False) as sup:
            sup.start([backend], on_status=lambda _: None)
            yield Service(url=f"http://127.0.0.1:{backend.port}", database=db_url)
        log = (tmp_path / "orders.log").read_text()
        assert "Traceback" not in log, log


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
