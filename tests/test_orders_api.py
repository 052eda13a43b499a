"""The order backend's HTTP API, end to end through FastAPI's TestClient, on a SQLite file
and on a throw-away PostgreSQL database. Each test starts from the seeded demo orders."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from fastapi.testclient import TestClient
from sqlalchemy import text

from bot import stack
from bot.orders.app import create_app
from bot.orders.db import MIGRATIONS_DIR, create_orders_engine, migrate
from bot.orders.models import (
    AuditEntry,
    Base,
    Cancellation,
    ChangeRequest,
    Order,
    ReturnRequest,
)
from bot.orders.runner import seed_command
from bot.supervisor import free_port
from tests.orders_helpers import (
    AUTH,
    BACKENDS,
    DEMO,
    count,
    database_url,
    production_settings_for,
    proof,
    rows,
    seed_demo,
    settings_for,
    wipe,
)

NOW = datetime.now(UTC).replace(microsecond=0)
TODAY = NOW.date()
UNAUTHORIZED = {"detail": "missing or invalid bearer token"}
NOT_FOUND = {"detail": {"reason": "not_found", "message": "No order matches these details."}}


@pytest.fixture(scope="module", params=BACKENDS)
def database(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    with database_url(request.param, tmp_path_factory.mktemp("orders")) as url:
        migrate(url)
        yield url


@pytest.fixture
def client(database: str) -> Iterator[TestClient]:
    wipe(database)
    seed_demo(database, TODAY)
    app = create_app(settings_for(database), clock=lambda: NOW)
    with TestClient(app, headers=AUTH) as test_client:
        yield test_client


def lookup(client: TestClient, number: str) -> dict[str, Any]:
    response = client.post("/v1/orders/lookup", json=proof(number))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def item_id(client: TestClient, number: str) -> int:
    return int(lookup(client, number)["items"][0]["id"])


def return_body(client: TestClient, number: str = "KNT-1002", **fields: Any) -> dict[str, Any]:
    return {
        **proof(number),
        "item_id": item_id(client, number),
        "kind": "return",
        "reason": "It does not fit my style.",
        "idempotency_key": "return-key-0001",
        **fields,
    }


def change_body(client: TestClient, number: str = "KNT-1001", **fields: Any) -> dict[str, Any]:
    return {
        **proof(number),
        "item_id": item_id(client, number),
        "attribute": "metal",
        "new_value": "rose gold",
        "idempotency_key": "change-key-0001",
        **fields,
    }


def refused(response: Any, reason: str) -> dict[str, Any]:
    assert response.status_code == 409, response.text
    detail: dict[str, Any] = response.json()["detail"]
    assert detail["reason"] == reason
    assert isinstance(detail["message"], str) and detail["message"].endswith(".")
    return detail


# --- schema, health, auth --------------------------------------------------------------


def test_migrations_create_exactly_the_models(database: str) -> None:
    migrate(database)  # a second run is a no-op
    engine = create_orders_engine(database)
    try:
        with engine.connect() as conn:
            assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
    finally:
        engine.dispose()


def alembic(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url)
    return config


@pytest.mark.parametrize("backend", BACKENDS)
def test_upgrade_names_who_acted_in_earlier_audit_rows(
    backend: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    with database_url(backend, tmp_path_factory.mktemp("upgrade")) as url:
        command.upgrade(alembic(url), "0001")
        engine = create_orders_engine(url)
        try:
            with engine.begin() as conn:
                for action, actor in [
                    ("order.seeded", "seed"),
                    ("staff_view", "staff:7"),
                    ("return.requested", "actions:conv-1"),
                    ("change.requested", "api"),
                ]:
                    conn.execute(
                        text(
                            "INSERT INTO audit_log (created_at, action, details, actor) "
                            "VALUES (:at, :action, '{}', :actor)"
                        ),
                        {"at": NOW, "action": action, "actor": actor},
                    )
            command.upgrade(alembic(url), "head")
            with engine.connect() as conn:
                query = text("SELECT action, actor_kind FROM audit_log")
                kinds = {action: kind for action, kind in conn.execute(query)}
            assert kinds == {
                "order.seeded": "admin",
                "staff_view": "agent",
                "return.requested": "bot",
                "change.requested": "bot",
            }
            command.downgrade(alembic(url), "0001")
            command.upgrade(alembic(url), "head")
            with engine.connect() as conn:
                assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
        finally:
            engine.dispose()


def test_healthz_needs_no_token(client: TestClient) -> None:
    response = client.get("/healthz", headers={"Authorization": ""})
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.parametrize(
    "path",
    [
        "/v1/verify",
        "/v1/orders/lookup",
        "/v1/orders/returns",
        "/v1/orders/changes",
        "/v1/orders/cancel",
        "/v1/admin/seed",
    ],
)
@pytest.mark.parametrize(
    "authorization",
    [None, "", "Bearer", "Bearer wrong-token", "Basic dGVzdDp0ZXN0", "test-orders-token"],
)
def test_every_v1_route_needs_the_bearer_token(
    client: TestClient, path: str, authorization: str | None
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    with TestClient(client.app) as bare:  # no default auth header
        response = bare.post(path, json=proof("KNT-1001"), headers=headers)
    assert response.status_code == 401
    assert response.json() == UNAUTHORIZED
    assert response.headers["www-authenticate"] == "Bearer"


def test_a_refused_request_writes_nothing_when_unauthorized(
    client: TestClient, database: str
) -> None:
    with TestClient(client.app) as bare:
        bare.post("/v1/orders/cancel", json={**proof("KNT-1001"), "idempotency_key": "k" * 8})
    assert lookup(client, "KNT-1001")["status"] == "in_production"


# --- verify and lookup -----------------------------------------------------------------


@pytest.mark.parametrize(
    "typed", ["KNT-1001", "knt1001", "1001", "#1001", " knt-1001 ", "KNT 1001"]
)
@pytest.mark.parametrize("email", ["ava@example.com", "  AVA@Example.COM ", "Ava@example.com"])
def test_verify_normalises_number_and_email(client: TestClient, typed: str, email: str) -> None:
    response = client.post("/v1/verify", json={"order_number": typed, "email": email})
    assert response.status_code == 200
    assert response.json() == {"verified": True, "order_number": "KNT-1001"}


def test_verify_never_says_which_part_is_wrong(client: TestClient) -> None:
    wrong_email = client.post(
        "/v1/verify", json={"order_number": "KNT-1001", "email": "ben@example.com"}
    )
    wrong_number = client.post(
        "/v1/verify", json={"order_number": "KNT-1002", "email": "ava@example.com"}
    )
    no_such_order = client.post(
        "/v1/verify", json={"order_number": "KNT-9999", "email": "ava@example.com"}
    )
    not_a_number = client.post(
        "/v1/verify", json={"order_number": "hello", "email": "ava@example.com"}
    )
    bodies = {r.content for r in (wrong_email, wrong_number, no_such_order, not_a_number)}
    assert bodies == {b'{"verified":false}'}
    assert {r.status_code for r in (wrong_email, wrong_number, no_such_order, not_a_number)} == {
        200
    }


def test_lookup_answers_one_uniform_404(client: TestClient) -> None:
    answers = [
        client.post(
            "/v1/orders/lookup", json={"order_number": "KNT-1001", "email": "eve@example.com"}
        ),
        client.post(
            "/v1/orders/lookup", json={"order_number": "KNT-4242", "email": "ava@example.com"}
        ),
        client.post("/v1/orders/lookup", json={"order_number": "ava", "email": "ava@example.com"}),
    ]
    assert {r.status_code for r in answers} == {404}
    assert {r.content for r in answers} == {answers[0].content}
    assert answers[0].json() == NOT_FOUND


def test_lookup_in_production_order(client: TestClient) -> None:
    view = lookup(client, "KNT-1001")
    placed = date.fromisoformat(view["placed_at"][:10])
    assert placed == TODAY - timedelta(days=5)
    assert view["status"] == "in_production"
    assert [(i["product"], i["gemstone"], i["metal"], i["ring_size"]) for i in view["items"]] == [
        ("Sapphire Halo Engagement Ring", "sapphire", "white gold", "6")
    ]
    assert view["payment"] == {
        "method": "card",
        "provider": None,
        "parts_total": None,
        "parts_paid": None,
    }
    assert view["shipment"] is None
    assert view["crafting_eta"] == {
        "earliest": (placed + timedelta(weeks=3)).isoformat(),
        "latest": (placed + timedelta(weeks=5)).isoformat(),
    }
    assert view["return_window_ends"] is None
    assert view["open_returns"] == []
    assert view["change_used"] is False and view["change_request"] is None
    assert (view["cancellable"], view["changeable"], view["returnable"]) == (True, True, False)


def test_lookup_shipped_and_delivered_order(client: TestClient) -> None:
    view = lookup(client, "KNT-1002")
    assert view["status"] == "delivered"
    shipment = view["shipment"]
    assert shipment["carrier"] == "FedEx"
    assert shipment["tracking_number"].isdigit() and len(shipment["tracking_number"]) == 12
    shipped = datetime.fromisoformat(shipment["shipped_at"])
    assert shipped.tzinfo is not None and shipped.date() == TODAY - timedelta(days=10)
    assert datetime.fromisoformat(shipment["delivered_at"]).date() == TODAY - timedelta(days=7)
    assert view["return_window_ends"] == (TODAY + timedelta(days=20)).isoformat()
    assert view["crafting_eta"] is None
    assert view["payment"]["method"] == "bnpl" and view["payment"]["provider"] == "Klarna"
    assert (view["cancellable"], view["changeable"], view["returnable"]) == (False, False, True)


def test_lookup_order_outside_the_return_window(client: TestClient) -> None:
    view = lookup(client, "KNT-1003")
    assert view["status"] == "delivered"
    assert date.fromisoformat(view["shipment"]["shipped_at"][:10]) == TODAY - timedelta(days=45)
    assert view["return_window_ends"] == (TODAY - timedelta(days=15)).isoformat()
    assert view["returnable"] is False


def test_lookup_order_whose_change_is_used(client: TestClient) -> None:
    view = lookup(client, "KNT-1004")
    assert view["status"] == "in_production"
    assert view["change_used"] is True
    assert view["change_request"]["attribute"] == "ring_size"
    assert (view["cancellable"], view["changeable"]) == (True, False)


def test_lookup_in_house_finance_not_half_paid(client: TestClient) -> None:
    view = lookup(client, "KNT-1005")
    assert view["status"] == "awaiting_payment"
    assert view["payment"] == {
        "method": "in_house",
        "provider": None,
        "parts_total": 3,
        "parts_paid": 1,
    }
    assert view["crafting_eta"] is None  # crafted once half is paid
    assert view["cancellable"] is True


# --- returns and exchanges -------------------------------------------------------------


def test_return_happy_path(client: TestClient, database: str) -> None:
    body = return_body(client)
    response = client.post("/v1/orders/returns", json=body, headers={"X-Actor": "actions:conv-42"})
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["rma_number"].startswith("RMA-") and len(created["rma_number"]) == 12
    assert created["kind"] == "return" and created["status"] == "open"
    assert created["label_within_business_days"] == "1-2"
    assert created["refund_within_days"] == 14
    assert created["order_number"] == "KNT-1002" and created["item_id"] == body["item_id"]
    assert response.headers["idempotent-replayed"] == "false"

    view = lookup(client, "KNT-1002")
    assert [r["rma_number"] for r in view["open_returns"]] == [created["rma_number"]]

    [entry] = rows(database, AuditEntry, action="return.requested")
    assert entry.order_number == "KNT-1002" and entry.actor == "actions:conv-42"
    assert entry.actor_kind == "bot"  # the action server's token
    assert entry.details["rma_number"] == created["rma_number"]
    assert entry.created_at.tzinfo is not None


def test_exchange_needs_a_ring_size_from_the_catalogue(client: TestClient) -> None:
    base = return_body(client, kind="exchange")
    missing = client.post("/v1/orders/returns", json=base)
    assert "7.5" in refused(missing, "exchange_size_required")["allowed"]
    wrong = client.post(
        "/v1/orders/returns",
        json={**base, "exchange_size": "42", "idempotency_key": "return-key-0002"},
    )
    assert refused(wrong, "invalid_value")["attribute"] == "exchange_size"
    ok = client.post(
        "/v1/orders/returns",
        json={**base, "exchange_size": " 7.50 ", "idempotency_key": "return-key-0003"},
    )
    assert ok.status_code == 201, ok.text
    assert ok.json()["exchange_size"] == "7.5" and ok.json()["kind"] == "exchange"
    assert ok.json()["refund_within_days"] is None


def test_a_return_ignores_an_exchange_size(client: TestClient) -> None:
    response = client.post("/v1/orders/returns", json=return_body(client, exchange_size="8"))
    assert response.status_code == 201, response.text
    assert response.json()["exchange_size"] is None


def test_return_outside_the_window(client: TestClient) -> None:
    response = client.post("/v1/orders/returns", json=return_body(client, "KNT-1003"))
    detail = refused(response, "outside_return_window")
    assert detail["window_ended_on"] == (TODAY - timedelta(days=15)).isoformat()


def test_return_of_an_order_not_shipped(client: TestClient) -> None:
    refused(client.post("/v1/orders/returns", json=return_body(client, "KNT-1001")), "not_shipped")


def test_one_open_return_per_item(client: TestClient, database: str) -> None:
    first = client.post("/v1/orders/returns", json=return_body(client))
    assert first.status_code == 201
    second = client.post(
        "/v1/orders/returns",
        json=return_body(
            client, kind="exchange", exchange_size="8", idempotency_key="another-key-02"
        ),
    )
    assert refused(second, "return_already_open")["rma_number"] == first.json()["rma_number"]
    assert count(database, ReturnRequest) == 1


def test_return_of_an_item_of_another_order(client: TestClient) -> None:
    body = return_body(client, item_id=item_id(client, "KNT-1003"))
    detail = refused(client.post("/v1/orders/returns", json=body), "unknown_item")
    assert detail["item_ids"] == [item_id(client, "KNT-1002")]


# --- the one change ---------------------------------------------------------------------


def test_change_then_second_change_refused(client: TestClient, database: str) -> None:
    response = client.post(
        "/v1/orders/changes", json=change_body(client, new_value="  Rose  GOLD ")
    )
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["request_number"].startswith("CHG-")
    assert (created["attribute"], created["old_value"], created["new_value"]) == (
        "metal",
        "white gold",
        "rose gold",
    )
    assert created["status"] == "requested"
    view = lookup(client, "KNT-1001")
    assert view["change_used"] is True and view["changeable"] is False
    assert view["change_request"]["request_number"] == created["request_number"]

    again = client.post(
        "/v1/orders/changes",
        json=change_body(
            client, attribute="ring_size", new_value="7", idempotency_key="change-key-0002"
        ),
    )
    refused(again, "change_already_used")
    assert count(database, ChangeRequest, order_id=_order_id(database, "KNT-1001")) == 1
    [entry] = rows(database, AuditEntry, action="change.requested")
    assert entry.details["new_value"] == "rose gold"
    assert (entry.actor, entry.actor_kind) == ("bot", "bot")  # no X-Actor: the token says


def _order_id(database: str, number: str) -> int:
    [order] = rows(database, Order, order_number=number)
    return int(order.id)


def test_ring_size_change_is_normalised(client: TestClient) -> None:
    response = client.post(
        "/v1/orders/changes", json=change_body(client, attribute="ring size", new_value="7.0")
    )
    assert response.status_code == 201, response.text
    assert (response.json()["attribute"], response.json()["new_value"]) == ("ring_size", "7")


def test_change_to_a_value_not_in_the_catalogue(client: TestClient) -> None:
    detail = refused(
        client.post("/v1/orders/changes", json=change_body(client, new_value="titanium")),
        "invalid_value",
    )
    assert detail["allowed"] == ["white gold", "yellow gold", "rose gold", "platinum"]
    detail = refused(
        client.post(
            "/v1/orders/changes",
            json=change_body(
                client, attribute="gemstone", new_value="opal", idempotency_key="change-key-0003"
            ),
        ),
        "invalid_value",
    )
    assert "sapphire" in detail["allowed"]
    assert lookup(client, "KNT-1001")["change_used"] is False  # a refusal does not use the change


def test_change_of_an_attribute_that_cannot_change(client: TestClient) -> None:
    detail = refused(
        client.post(
            "/v1/orders/changes", json=change_body(client, attribute="engraving", new_value="A & B")
        ),
        "invalid_attribute",
    )
    assert detail["allowed"] == ["gemstone", "metal", "ring_size"]
    pendant = change_body(client, "KNT-1005", attribute="ring_size", new_value="6")
    refused(client.post("/v1/orders/changes", json=pendant), "invalid_attribute")


def test_change_when_already_used(client: TestClient) -> None:
    body = change_body(client, "KNT-1004", attribute="gemstone", new_value="emerald")
    refused(client.post("/v1/orders/changes", json=body), "change_already_used")


def test_change_of_a_shipped_order(client: TestClient) -> None:
    refused(
        client.post("/v1/orders/changes", json=change_body(client, "KNT-1002")), "order_shipped"
    )


# --- cancellation -----------------------------------------------------------------------


def test_cancel_in_production(client: TestClient, database: str) -> None:
    response = client.post(
        "/v1/orders/cancel", json={**proof("KNT-1001"), "idempotency_key": "cancel-key-01"}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["cancellation_number"].startswith("CXL-") and body["status"] == "cancelled"
    view = lookup(client, "KNT-1001")
    assert view["status"] == "cancelled"
    assert (view["cancellable"], view["changeable"], view["crafting_eta"]) == (False, False, None)
    refused(client.post("/v1/orders/changes", json=change_body(client)), "order_cancelled")
    again = client.post(
        "/v1/orders/cancel", json={**proof("KNT-1001"), "idempotency_key": "cancel-key-02"}
    )
    refused(again, "not_cancellable")
    [entry] = rows(database, AuditEntry, action="order.cancelled")
    assert entry.details["previous_status"] == "in_production"


def test_cancel_awaiting_payment(client: TestClient) -> None:
    response = client.post(
        "/v1/orders/cancel", json={**proof("KNT-1005"), "idempotency_key": "cancel-key-05"}
    )
    assert response.status_code == 200


def test_cancel_shipped_order_refused(client: TestClient, database: str) -> None:
    response = client.post(
        "/v1/orders/cancel", json={**proof("KNT-1002"), "idempotency_key": "cancel-key-03"}
    )
    assert refused(response, "not_cancellable")["status"] == "delivered"
    assert count(database, Cancellation) == 0


# --- idempotency ------------------------------------------------------------------------


def test_return_replay_returns_the_same_record(client: TestClient, database: str) -> None:
    body = return_body(client)
    first = client.post("/v1/orders/returns", json=body)
    # The same request again, typed differently (case, spaces): still the same request.
    second = client.post(
        "/v1/orders/returns",
        json={**body, "order_number": "knt1002", "email": " BEN@example.com"},
    )
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert second.headers["idempotent-replayed"] == "true"
    assert count(database, ReturnRequest) == 1
    assert count(database, AuditEntry, action="return.requested") == 1


def test_change_and_cancel_replays(client: TestClient, database: str) -> None:
    change = change_body(client)
    assert client.post("/v1/orders/changes", json=change).json() == (
        client.post("/v1/orders/changes", json=change).json()
    )
    assert count(database, ChangeRequest, order_id=_order_id(database, "KNT-1001")) == 1
    cancel = {**proof("KNT-1001"), "idempotency_key": "cancel-key-04"}
    first, second = (client.post("/v1/orders/cancel", json=cancel) for _ in range(2))
    assert first.status_code == second.status_code == 200
    assert first.json() == second.json()  # the replay after the order is cancelled: no 409
    assert count(database, Cancellation) == 1


def test_idempotency_key_reused_for_another_body(client: TestClient, database: str) -> None:
    body = return_body(client)
    assert client.post("/v1/orders/returns", json=body).status_code == 201
    other = client.post("/v1/orders/returns", json={**body, "reason": "Changed my mind."})
    refused(other, "idempotency_key_reused")
    change = change_body(client)
    assert client.post("/v1/orders/changes", json=change).status_code == 201
    refused(
        client.post("/v1/orders/changes", json={**change, "new_value": "platinum"}),
        "idempotency_key_reused",
    )
    assert count(database, ReturnRequest) == 1


def test_write_routes_check_ownership(client: TestClient, database: str) -> None:
    wrong = {"email": "ava@example.com"}
    answers = [
        client.post("/v1/orders/returns", json={**return_body(client), **wrong}),
        client.post("/v1/orders/changes", json={**change_body(client, "KNT-1005"), **wrong}),
        client.post(
            "/v1/orders/cancel", json={**proof("KNT-1002"), **wrong, "idempotency_key": "k" * 10}
        ),
    ]
    assert [r.status_code for r in answers] == [404, 404, 404]
    assert all(r.json() == NOT_FOUND for r in answers)
    assert count(database, AuditEntry) == len(DEMO)  # only the seed's rows


# --- validation -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"idempotency_key": None}, "idempotency_key"),
        ({"idempotency_key": "short"}, "idempotency_key"),
        ({"idempotency_key": "k" * 129}, "idempotency_key"),
        ({"idempotency_key": "has spaces in it"}, "idempotency_key"),
        ({"reason": "x" * 1001}, "reason"),
        ({"reason": "   "}, "reason"),
        ({"kind": "refund"}, "kind"),
        ({"item_id": "first"}, "item_id"),
        ({"item_id": 0}, "item_id"),
        ({"email": "e" * 300}, "email"),
        ({"order_number": "1" * 40}, "order_number"),
        ({"exchange_size": "7" * 17}, "exchange_size"),
        ({"surprise": "field"}, "surprise"),
    ],
)
def test_bad_input_is_422(client: TestClient, change: dict[str, Any], field: str) -> None:
    body = {**return_body(client), **change}
    body = {k: v for k, v in body.items() if v is not None}
    response = client.post("/v1/orders/returns", json=body)
    assert response.status_code == 422, response.text
    assert any(
        field in [str(p) for p in e["loc"]] or field == "body" for e in response.json()["detail"]
    )


def test_bad_input_on_other_routes(client: TestClient) -> None:
    assert client.post("/v1/verify", json={"order_number": "KNT-1001"}).status_code == 422
    assert (
        client.post(
            "/v1/orders/lookup", content=b"not json", headers={"content-type": "application/json"}
        ).status_code
        == 422
    )
    assert (
        client.post(
            "/v1/orders/changes", json={**change_body(client), "new_value": "x" * 65}
        ).status_code
        == 422
    )
    assert client.post("/v1/orders/cancel", json=proof("KNT-1001")).status_code == 422
    huge = client.post(
        "/v1/verify",
        content=b"{" + b" " * 70_000 + b"}",
        headers={"content-type": "application/json"},
    )
    assert huge.status_code == 413
    assert huge.json() == {"detail": "request body too large"}


def test_a_body_too_large_is_refused_also_when_it_streams_in(client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:  # no Content-Length: sent chunked
        yield b'{"order_number": "KNT-1001", "email": "'
        for _ in range(100):
            yield b"a" * 1000
        yield b'"}'

    response = client.post(
        "/v1/verify", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json() == {"detail": "request body too large"}


def test_a_body_nested_too_deep_to_parse_is_400(client: TestClient) -> None:
    response = client.post(
        "/v1/verify", content=b"[" * 50_000, headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json() == {"detail": "There was an error parsing the body"}


def test_the_write_deadline_must_be_shorter_than_the_client_timeout(database: str) -> None:
    bad = settings_for(
        database,
        orders_write_deadline_seconds=3.0,
        orders_timeout_seconds=3.0,
        orders_port=free_port(),
    )
    with pytest.raises(ValueError, match="must be above 0 and shorter than ORDERS_TIMEOUT"):
        create_app(bad)
    started = subprocess.run(
        [sys.executable, "-m", "bot.orders", "serve"],
        env={**os.environ, **stack.settings_env(bad)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert started.returncode == 1
    assert started.stderr.startswith("error: ORDERS_WRITE_DEADLINE_SECONDS (3) must be above 0")
    assert "Traceback" not in started.stderr


# --- audit, seed, OpenAPI ---------------------------------------------------------------


def test_every_write_is_audited(client: TestClient, database: str) -> None:
    assert client.post("/v1/orders/returns", json=return_body(client)).status_code == 201
    assert client.post("/v1/orders/changes", json=change_body(client)).status_code == 201
    assert (
        client.post(
            "/v1/orders/cancel", json={**proof("KNT-1001"), "idempotency_key": "cancel-k-1"}
        ).status_code
        == 200
    )
    entries = rows(database, AuditEntry)
    seeded = [e for e in entries if e.action == "order.seeded"]
    assert sorted(e.order_number for e in seeded) == sorted(DEMO)
    assert {(e.actor, e.actor_kind) for e in seeded} == {("seed", "admin")}
    writes = sorted((e.action, e.order_number) for e in entries if e.action != "order.seeded")
    assert writes == [
        ("change.requested", "KNT-1001"),
        ("order.cancelled", "KNT-1001"),
        ("return.requested", "KNT-1002"),
    ]
    assert all(e.created_at.tzinfo is not None for e in entries)


def test_admin_seed_only_fills_an_empty_database(client: TestClient, database: str) -> None:
    again = client.post("/v1/admin/seed")
    assert again.status_code == 200
    assert again.json()["seeded"] is False and again.json()["orders"] == []
    wipe(database)
    fresh = client.post("/v1/admin/seed")
    assert fresh.json()["seeded"] is True
    assert fresh.json()["orders"] == sorted(DEMO)
    assert count(database, Order) == len(DEMO)
    assert count(database, ChangeRequest) == 1  # KNT-1004's change


def test_seed_command_migrates_then_seeds_once(
    database: str, tmp_path_factory: pytest.TempPathFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    fresh = f"sqlite:///{tmp_path_factory.mktemp('seed') / 'new' / 'orders.db'}"
    for url in (fresh, database):
        wipe(url) if url == database else None
        assert seed_command(settings_for(url)) == 0
        assert capsys.readouterr().out.strip() == (
            "seeded 5 demo orders: KNT-1001, KNT-1002, KNT-1003, KNT-1004, KNT-1005"
        )
        assert seed_command(settings_for(url)) == 0
        assert "nothing seeded" in capsys.readouterr().out
        assert count(url, Order) == len(DEMO)
    production = production_settings_for(fresh)
    assert seed_command(production) == 1
    assert "only when ENVIRONMENT is 'local'" in capsys.readouterr().out


def test_admin_seed_refused_outside_local(database: str) -> None:
    settings = production_settings_for(database)
    with TestClient(create_app(settings), headers=AUTH) as client:
        response = client.post("/v1/admin/seed")
    assert response.status_code == 403
    assert response.json()["detail"]["reason"] == "seed_disabled"


def test_openapi_documents_routes_and_bearer_security(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert spec["components"]["securitySchemes"]["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "The service token shared with the action server (ORDERS_API_TOKEN).",
    }
    expected = {
        "/v1/verify": "post",
        "/v1/orders/lookup": "post",
        "/v1/orders/returns": "post",
        "/v1/orders/changes": "post",
        "/v1/orders/cancel": "post",
        "/v1/admin/seed": "post",
    }
    for path, method in expected.items():
        operation = spec["paths"][path][method]
        assert operation["security"] == [{"bearer": []}], path
        assert operation["summary"], path
        assert "401" in operation["responses"], path
    assert "security" not in spec["paths"]["/healthz"]["get"]
    returns = spec["paths"]["/v1/orders/returns"]["post"]["responses"]
    assert set(returns) >= {"201", "401", "404", "409", "422"}
    assert "outside_return_window" in returns["409"]["content"]["application/json"]["examples"]
    schemas = spec["components"]["schemas"]
    assert schemas["ReturnCreate"]["properties"]["reason"]["maxLength"] == 1000
    assert schemas["ReturnCreate"]["examples"]


OWNERSHIP_CHECKED = {
    "/v1/verify": {"200", "429"},
    "/v1/orders/lookup": {"200", "404", "429"},
    "/v1/orders/returns": {"201", "404", "409", "429"},
    "/v1/orders/changes": {"201", "404", "409", "429"},
    "/v1/orders/cancel": {"200", "404", "409", "429"},
}


def test_openapi_lists_every_status_with_a_schema(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    common = {"400", "401", "413", "422", "503"}  # token, body, size, validation, database
    expected = {
        **{path: statuses | common for path, statuses in OWNERSHIP_CHECKED.items()},
        "/v1/admin/seed": {"200", "403", "400", "401", "413", "503"},
        "/v1/staff/orders/describe": {"200", "404"} | common,
        "/healthz": {"200", "413"},
    }
    operations = {
        path: operation for path, item in spec["paths"].items() for operation in item.values()
    }
    assert set(operations) == set(expected)
    for path, statuses in expected.items():
        responses = operations[path]["responses"]
        assert set(responses) == statuses, path
        for status, response in responses.items():
            assert response["content"]["application/json"]["schema"], (path, status)
    locked = operations["/v1/verify"]["responses"]["429"]["content"]["application/json"]
    assert locked["example"]["detail"]["reason"] == "verification_locked"
    unavailable = operations["/v1/orders/cancel"]["responses"]["503"]["content"]
    assert set(unavailable["application/json"]["examples"]) == {
        "write_deadline_exceeded",
        "database_unavailable",
    }


def test_timestamps_are_aware_utc(database: str, client: TestClient) -> None:
    assert client.post("/v1/orders/returns", json=return_body(client)).status_code == 201
    [record] = rows(database, ReturnRequest)
    assert record.created_at == NOW and record.created_at.utcoffset() == timedelta(0)
