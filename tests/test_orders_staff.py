"""The order backend's staff route: any order by number, only with the staff token, and
every look written to the audit log."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select

from bot.orders.app import create_app
from bot.orders.db import create_orders_engine
from bot.orders.models import AuditEntry
from bot.settings import Settings

PATH = "/v1/staff/orders/describe"


def test_describe_needs_the_staff_token_and_is_audited(settings: Settings, tmp_path: Path) -> None:
    s = settings.model_copy(update={"orders_database_url": f"sqlite:///{tmp_path / 'o.db'}"})
    action = {"Authorization": f"Bearer {s.orders_api_token.get_secret_value()}"}
    staff = {"Authorization": f"Bearer {s.orders_staff_token.get_secret_value()}"}
    with TestClient(create_app(s)) as client:
        assert client.post("/v1/admin/seed", headers=action).status_code == 200
        body = {"order_number": "knt1003"}
        assert client.post(PATH, json=body).status_code == 401
        assert client.post(PATH, json=body, headers=action).status_code == 401  # not the bot's
        r = client.post(PATH, json=body, headers=staff | {"X-Actor": "staff:7"})
        assert r.status_code == 200
        order = r.json()
        assert order["order_number"] == "KNT-1003" and order["status"] == "delivered"
        assert order["possible"]["cancel"]["possible"] is False
        assert order["possible"]["cancel"]["reason"] == "not_cancellable"
        assert order["possible"]["return"]["reason"] == "outside_return_window"
        assert "email" not in r.text  # the customer's address is not part of it
        missing = client.post(PATH, json={"order_number": "KNT-9999"}, headers=staff)
        assert missing.status_code == 404
        shipped = client.post(PATH, json={"order_number": "KNT-1002"}, headers=staff).json()
        assert shipped["possible"]["return"]["possible"] is True
        assert shipped["possible"]["return"]["until"] == shipped["return_window_ends"]
    engine = create_orders_engine(s.orders_database_url)
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                AuditEntry.action, AuditEntry.order_number, AuditEntry.actor, AuditEntry.actor_kind
            ).where(AuditEntry.action == "staff_view")
        ).all()
    engine.dispose()
    assert [tuple(r) for r in rows] == [
        ("staff_view", "KNT-1003", "staff:7", "agent"),
        ("staff_view", "KNT-1002", "agent", "agent"),  # no X-Actor: the staff token says
    ]
