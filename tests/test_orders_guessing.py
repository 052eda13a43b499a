"""Guessing gains nothing: failed ownership checks are counted per e-mail address, order
number and client (IP, session) in the order database, and past the limit every check
for them is refused without being evaluated. Through the HTTP API (TestClient, with a
clock the tests move) and against two real server processes guessing at once, on a
SQLite file and on PostgreSQL."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from bot.orders.app import create_app
from bot.orders.db import migrate
from bot.orders.models import AuditEntry, Order, VerificationFailure
from bot.orders.routes.docs import REPLAY_HEADER
from tests.orders_helpers import (
    AUTH,
    BACKENDS,
    DEMO,
    count,
    database_url,
    order_servers,
    proof,
    rows,
    seed_demo,
    settings_for,
    wipe,
)

LIMIT = 5
WINDOW = timedelta(hours=1)
SUPPORT = "help@knt.example"


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now


def client_headers(ip: str, session: str) -> dict[str, str]:
    return {"X-Shopper-IP": ip, "X-Shopper-Session": session}


def fresh(i: int) -> dict[str, str]:
    """A new shopper each time: another address, another session."""
    return client_headers(f"198.51.100.{i % 250 + 1}", f"session-{i}")


@pytest.fixture(scope="module", params=BACKENDS)
def database(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    with database_url(request.param, tmp_path_factory.mktemp("guessing")) as url:
        migrate(url)
        yield url


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def client(database: str, clock: Clock) -> Iterator[TestClient]:
    wipe(database)
    seed_demo(database, clock.now.date())
    settings = settings_for(
        database,
        verify_failure_limit=LIMIT,
        verify_failure_window_seconds=WINDOW.total_seconds(),
        support_email=SUPPORT,
    )
    with TestClient(create_app(settings, clock=clock), headers=AUTH) as test_client:
        yield test_client


def verify(client: TestClient, number: str, email: str, headers: dict[str, str]) -> Any:
    return client.post("/v1/verify", json={"order_number": number, "email": email}, headers=headers)


def locked(response: Any) -> bool:
    """The 429 of a refused check, which says nothing about the details given."""
    if response.status_code != 429:
        return False
    detail = response.json()["detail"]
    assert set(detail) == {"reason", "message"}
    assert detail["reason"] == "verification_locked"
    assert SUPPORT in detail["message"]
    return True


def refusals(database: str) -> list[tuple[str | None, str, list[str], str]]:
    return [
        (e.order_number, e.details["route"], e.details["locked"], e.actor_kind)
        for e in rows(database, AuditEntry, action="verification.locked")
    ]


def test_eight_wrong_numbers_for_one_email_then_the_right_pair_is_refused(
    client: TestClient, database: str
) -> None:
    answers = [verify(client, f"KNT-{2001 + i}", "ava@example.com", fresh(i)) for i in range(8)]
    assert [r.json() for r in answers[:LIMIT]] == [{"verified": False}] * LIMIT
    assert all(locked(r) for r in answers[LIMIT:])

    right = proof("KNT-1001")
    assert locked(client.post("/v1/verify", json=right, headers=fresh(100)))
    assert locked(client.post("/v1/orders/lookup", json=right, headers=fresh(101)))
    cancel = {**right, "idempotency_key": "cancel-after-guessing"}
    assert locked(client.post("/v1/orders/cancel", json=cancel, headers=fresh(102)))
    [order] = rows(database, Order, order_number="KNT-1001")
    assert order.status == "in_production"  # refused unevaluated: nothing done

    # Another shopper's order, from yet another client, is not affected.
    assert verify(client, "KNT-1002", DEMO["KNT-1002"], fresh(103)).json()["verified"] is True
    assert refusals(database) == [
        *[(f"KNT-{2001 + i}", "verify", ["email"], "bot") for i in range(LIMIT, 8)],
        ("KNT-1001", "verify", ["email"], "bot"),
        ("KNT-1001", "lookup", ["email"], "bot"),
        ("KNT-1001", "cancel", ["email"], "bot"),
    ]
    assert count(database, VerificationFailure) == LIMIT  # refusals are not failures


def test_one_order_number_guessed_with_different_emails(client: TestClient, database: str) -> None:
    for i in range(LIMIT):
        r = verify(client, f"knt100{1}", f"guess-{i}@example.com", fresh(i))
        assert r.json() == {"verified": False}
    # The owner, from their own fresh session, typing the number another way.
    assert locked(verify(client, "#1001", "ava@example.com", fresh(50)))
    assert verify(client, "KNT-1005", DEMO["KNT-1005"], fresh(51)).json()["verified"] is True
    assert refusals(database) == [("KNT-1001", "verify", ["order"], "bot")]


@pytest.mark.parametrize("same", ["ip", "session"])
def test_one_client_guessing_different_orders_and_emails(
    client: TestClient, database: str, same: str
) -> None:
    def headers(i: int) -> dict[str, str]:
        if same == "ip":
            return client_headers("203.0.113.7", f"session-{i}")
        return client_headers(f"198.51.100.{i + 1}", "the-same-session")

    for i in range(LIMIT):
        r = verify(client, f"KNT-{3001 + i}", f"someone-{i}@example.com", headers(i))
        assert r.json() == {"verified": False}
    # Even a right pair is refused from that client ...
    assert locked(verify(client, "KNT-1002", DEMO["KNT-1002"], headers(99)))
    # ... and answered from any other.
    assert verify(client, "KNT-1002", DEMO["KNT-1002"], fresh(200)).json()["verified"] is True
    assert refusals(database) == [("KNT-1002", "verify", [same], "bot")]


def test_unknown_clients_share_no_count_and_an_ipv6_block_is_one_client(
    client: TestClient, database: str
) -> None:
    # Five shoppers whose address nobody knew (and one sent garbage): no shared bucket.
    for i in range(LIMIT):
        ip = "unknown" if i % 2 else "not-an-address"
        r = verify(client, f"KNT-{4001 + i}", f"typo-{i}@example.com", client_headers(ip, f"s{i}"))
        assert r.json() == {"verified": False}
    right = verify(client, "KNT-1002", DEMO["KNT-1002"], client_headers("unknown", "sixth"))
    assert right.json()["verified"] is True
    # One IPv6 /64 is one client, however many of its 2^64 addresses it uses.
    for i in range(LIMIT):
        headers = client_headers(f"2001:db8:1:2::{i + 1:x}", f"v6-{i}")
        assert verify(client, f"KNT-{5001 + i}", f"v6-{i}@example.com", headers).status_code == 200
    assert locked(
        verify(client, "KNT-1002", DEMO["KNT-1002"], client_headers("2001:db8:1:2::ff", "x"))
    )
    other_block = client_headers("2001:db8:1:3::1", "y")
    assert verify(client, "KNT-1002", DEMO["KNT-1002"], other_block).json()["verified"] is True


def test_a_repeated_write_is_answered_even_after_the_address_was_locked(
    client: TestClient, database: str
) -> None:
    """A client asking again after a timeout, with the same key and body, hears that its
    request was done, though guesses by someone else locked the e-mail meanwhile."""
    cancel = {**proof("KNT-1005"), "idempotency_key": "cancel-before-the-lock"}
    first = client.post("/v1/orders/cancel", json=cancel, headers=fresh(1))
    assert first.status_code == 200 and first.headers[REPLAY_HEADER] == "false"
    for i in range(LIMIT):
        verify(client, f"KNT-{6001 + i}", DEMO["KNT-1005"], fresh(10 + i))
    assert locked(verify(client, "KNT-1005", DEMO["KNT-1005"], fresh(40)))
    again = client.post("/v1/orders/cancel", json=cancel, headers=fresh(41))
    assert again.status_code == 200 and again.json() == first.json()
    assert again.headers[REPLAY_HEADER] == "true"


def test_failed_checks_inside_writes_count_too(client: TestClient, database: str) -> None:
    wrong = {"order_number": "KNT-1002", "email": "mallory@example.com"}
    item = client.post("/v1/orders/lookup", json=proof("KNT-1002")).json()["items"][0]["id"]
    attempts = [
        ("/v1/orders/returns", {"item_id": item, "kind": "return", "reason": "x"}),
        ("/v1/orders/changes", {"item_id": item, "attribute": "metal", "new_value": "platinum"}),
        ("/v1/orders/cancel", {}),
        ("/v1/orders/lookup", None),
        ("/v1/verify", None),
    ]
    for i, (path, extra) in enumerate(attempts):
        body = wrong if extra is None else {**wrong, **extra, "idempotency_key": f"guess-{i:04d}"}
        expected = 200 if path == "/v1/verify" else 404
        assert client.post(path, json=body, headers=fresh(i)).status_code == expected
    assert locked(client.post("/v1/orders/lookup", json=proof("KNT-1002"), headers=fresh(9)))
    assert refusals(database) == [("KNT-1002", "lookup", ["order"], "bot")]


def test_the_lock_lifts_as_failures_leave_the_window(
    client: TestClient, database: str, clock: Clock
) -> None:
    for i in range(LIMIT):
        verify(client, f"KNT-{4001 + i}", "ava@example.com", fresh(i))
        clock.now += timedelta(minutes=1)  # the i-th failure at minute i
    clock.now += WINDOW - timedelta(minutes=LIMIT, seconds=1)  # the first is 59:59 old
    assert locked(verify(client, "KNT-1001", "ava@example.com", fresh(10)))
    clock.now += timedelta(seconds=1)  # an hour old: now only four count
    assert verify(client, "KNT-1001", "ava@example.com", fresh(11)).json()["verified"] is True
    assert verify(client, "KNT-4999", "ava@example.com", fresh(12)).json() == {"verified": False}
    assert locked(verify(client, "KNT-1001", "ava@example.com", fresh(13)))  # five again
    # Failures too old to count are deleted when a new one is written.
    assert count(database, VerificationFailure) == LIMIT


def test_right_pairs_never_lock(client: TestClient, database: str) -> None:
    for i in range(4 * LIMIT):
        r = verify(client, "KNT-1001", "ava@example.com", client_headers("203.0.113.9", "s"))
        assert r.json()["verified"] is True, i
    assert count(database, VerificationFailure) == 0


def test_checks_without_the_token_count_nothing(client: TestClient, database: str) -> None:
    with TestClient(client.app) as bare:
        for i in range(2 * LIMIT):
            body = {"order_number": f"KNT-{5001 + i}", "email": "ava@example.com"}
            assert bare.post("/v1/verify", json=body, headers=fresh(i)).status_code == 401
    assert count(database, VerificationFailure) == 0
    assert verify(client, "KNT-1001", "ava@example.com", fresh(99)).json()["verified"] is True


def test_only_hashes_of_what_was_typed_are_kept(client: TestClient, database: str) -> None:
    verify(client, "KNT-6001", "Zoe.Private@example.com", client_headers("192.0.2.44", "s-1"))
    [failure] = rows(database, VerificationFailure)
    keys = [failure.email_key, failure.order_key, failure.ip_key, failure.session_key]
    assert all(k is not None and len(k) == 64 for k in keys)
    assert len(set(keys)) == 4
    assert not any("zoe" in str(k) or "6001" in str(k) or "192.0.2" in str(k) for k in keys)


# --- two processes guessing at once ------------------------------------------------------

PARALLEL = 30


@pytest.mark.parametrize("backend", BACKENDS)
def test_guesses_at_once_on_two_servers_never_pass_the_limit(backend: str, tmp_path: Path) -> None:
    with (
        database_url(backend, tmp_path) as url,
        order_servers(
            url,
            tmp_path,
            count=2,
            verify_failure_limit=LIMIT,
            support_email=SUPPORT,
            # This test counts guesses; on a busy machine 30 checks queued one after the
            # other must not run into the write deadline (tested on its own elsewhere).
            orders_write_deadline_seconds=20.0,
            orders_timeout_seconds=30.0,
        ) as servers,
    ):
        assert httpx.post(f"{servers[0]}/v1/admin/seed", headers=AUTH).status_code == 200

        barrier = threading.Barrier(PARALLEL)

        def guess(i: int) -> httpx.Response:
            barrier.wait()  # released together
            return httpx.post(
                f"{servers[i % 2]}/v1/verify",
                json={"order_number": f"KNT-{7001 + i}", "email": "ava@example.com"},
                headers={**AUTH, **fresh(i)},
                timeout=30,
            )

        with ThreadPoolExecutor(max_workers=PARALLEL) as pool:
            answers = list(pool.map(guess, range(PARALLEL)))
        outcomes = Counter(
            "locked" if locked(r) else str(r.json()["verified"]).lower() for r in answers
        )
        assert outcomes == {"false": LIMIT, "locked": PARALLEL - LIMIT}
        assert count(url, VerificationFailure) == LIMIT
        right = {**AUTH, **fresh(999)}
        for server in servers:
            assert locked(httpx.post(f"{server}/v1/verify", json=proof("KNT-1001"), headers=right))
