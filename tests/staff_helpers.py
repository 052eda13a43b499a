"""Shared by the staff console's tests: a gateway with staff accounts, logging in, and
the console's live socket, all through the real app (TestClient)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from bot.gateway.app import create_app
from bot.settings import Settings
from bot.staff.accounts import StaffAccounts, StaffUser
from bot.supervisor import free_port

SHOP = "http://shop.test"  # the storefront's origin (the widget's socket)
CONSOLE = "http://testserver"  # the console is served by the gateway itself
PASSWORD = "correct horse battery staple"
# A customer's e-mail as an agent pastes it: three questions (two in one sentence), an order
# number, a signature, and a quoted thread whose questions are not the customer's.
EMAIL = """Hi there,

I ordered an engagement ring last month, order KNT-1002. How long do I have to return it and
will I get a full refund?
Also, do you accept Klarna?

Thanks so much,
Dana Whitfield
+1 (555) 201-3344

On Tue, Nov 3, 2026 at 10:12 AM KNT Support <service@kntofficial.com> wrote:
> Could you send us your order number, please?
> Is there anything else we can help with?
"""


def staff_settings(base: Settings, tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": f"sqlite:///{tmp_path / 'gateway.db'}",
        "rasa_url": f"http://127.0.0.1:{free_port()}",  # nothing listens there
        "gateway_allowed_origins": [SHOP],
        "staff_allowed_origins": [CONSOLE],
        "gateway_rasa_timeout_seconds": 60,
    }
    return base.model_copy(update=values | overrides)


def add_agent(settings: Settings, name: str = "Sophie Martin") -> StaffUser:
    email = f"{name.split()[0].lower()}-{uuid.uuid4().hex[:6]}@kntofficial.com"
    return StaffAccounts(settings.database_url).add(email, name, PASSWORD)


@contextmanager
def gateway(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings, warm_nlp=False)) as client:
        yield client


class Agent:
    """One logged-in agent on a shared TestClient: the cookie is sent explicitly, so two
    agents can work side by side on one app (and one event loop)."""

    def __init__(self, client: TestClient, user: StaffUser, password: str = PASSWORD) -> None:
        self.client = client
        self.user = user
        r = client.post(
            "/api/staff/login",
            json={"email": user.email, "password": password},
            headers={"origin": CONSOLE},
        )
        assert r.status_code == 200, r.text
        self.token = r.cookies.get("knt_staff") or client.cookies.get("knt_staff")
        assert self.token
        client.cookies.clear()
        self.csrf: str = r.json()["csrf_token"]

    @property
    def cookie(self) -> dict[str, str]:
        return {"cookie": f"knt_staff={self.token}"}

    def get(self, path: str) -> Any:
        return self.client.get(path, headers=self.cookie)

    def post(self, path: str, body: Any = None) -> Any:
        headers = {"origin": CONSOLE, "x-csrf-token": self.csrf} | self.cookie
        return self.client.post(path, json=body, headers=headers)

    @contextmanager
    def socket(self) -> Iterator[Any]:
        with self.client.websocket_connect(
            "/staff/ws", headers={"origin": CONSOLE} | self.cookie
        ) as ws:
            ready = ws.receive_json()
            assert ready["type"] == "ready", ready
            yield ws


def frames_until(ws: Any, predicate: Any, limit: int = 50) -> tuple[dict[str, Any], list[Any]]:
    """Frames up to the first one `predicate` accepts (and the ones before it)."""
    seen: list[dict[str, Any]] = []
    for _ in range(limit):
        frame = ws.receive_json()
        if predicate(frame):
            return frame, seen
        seen.append(frame)
    raise AssertionError(f"no matching frame in {seen}")
