"""The order actions with real rasa-sdk Tracker objects against the real order backend
(started on a free port with its own seeded SQLite database)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.order_asks import ActionAskConfirm
from actions.order_forms import NOT_VERIFIED, ValidateCancelForm, ValidateChangeForm
from actions.order_requests import ActionOrderStatus, ActionSubmitCancel, ActionSubmitReturn
from bot import services, stack
from bot.settings import PROJECT_ROOT, Settings
from bot.supervisor import Supervisor, free_port

DOMAIN = yaml.safe_load((PROJECT_ROOT / "domain.yml").read_text())


@pytest.fixture(scope="module")
def backend(settings: Settings, tmp_path_factory) -> Iterator[Settings]:  # type: ignore[no-untyped-def]
    work = tmp_path_factory.mktemp("orders")
    port = free_port()
    s = settings.model_copy(
        update={
            "orders_port": port,
            "orders_url": f"http://127.0.0.1:{port}",
            "orders_database_url": f"sqlite:///{work / 'orders.db'}",
            "database_url": f"sqlite:///{work / 'app.db'}",
        }
    )
    stack.seed_demo_orders(s)
    with Supervisor(PROJECT_ROOT, log_dir=work, echo=False) as sup:
        sup.start([stack.order_backend(s)], on_status=lambda _: None)
        yield s


@pytest.fixture
def env(backend: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    for key, value in stack.settings_env(backend).items():
        monkeypatch.setenv(key, value)
    services.reset()
    yield backend
    services.reset()


def tracker(
    text: str = "",
    intent: str = "inform",
    slots: dict[str, Any] | None = None,
    just_set: dict[str, Any] | None = None,
    form: str | None = None,
    sender: str = "shopper",
) -> Tracker:
    """A tracker as Rasa sends it: `just_set` are the slot candidates the form extracted
    from the latest message (slot events after the last user event)."""
    all_slots = {name: None for name in DOMAIN["slots"]} | {"requested_slot": None}
    all_slots |= (slots or {}) | (just_set or {})
    events = [{"event": "user", "text": text, "parse_data": {"intent": {"name": intent}}}]
    events += [{"event": "slot", "name": k, "value": v} for k, v in (just_set or {}).items()]
    return Tracker(
        sender,
        all_slots,
        {"text": text, "intent": {"name": intent}, "entities": []},
        events,
        False,
        None,
        {"name": form} if form else {},
        "action_listen",
    )


async def run(action: Any, t: Tracker) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, t, DOMAIN)
    slots = {e["name"]: e["value"] for e in events if e.get("event") == "slot"}
    return slots, dispatcher.messages


def verified(order: str, email: str) -> dict[str, Any]:
    return {
        "verified_order": order,
        "verified_email": email,
        "verified_at": time.time(),
        "order_number": order,
        "email": email,
    }


async def test_right_details_verify_and_the_form_asks_to_confirm(env):
    slots, messages = await run(
        ValidateCancelForm(),
        tracker(
            "ava@example.com",
            just_set={"order_number": "KNT-1001", "email": " Ava@Example.com"},
            form="cancel_form",
        ),
    )
    assert slots["verified_order"] == "KNT-1001"
    assert slots["email"] == "ava@example.com"
    assert slots["order_facts"]["status"] == "in_production"
    assert slots.get("request_blocked") is None  # nothing stops a cancel: it asks to confirm
    assert messages == []


async def test_wrong_details_are_uniform_and_the_third_failure_blocks(env):
    slots, messages = await run(
        ValidateCancelForm(),
        tracker(
            "x@example.com",
            just_set={"order_number": "KNT-1001", "email": "x@example.com"},
            form="cancel_form",
        ),
    )
    assert [m["text"] for m in messages] == [NOT_VERIFIED]
    assert slots["order_number"] is None and slots["email"] is None
    assert slots["verify_failures"] == 1.0 and slots["requested_slot"] == "order_number"
    _, wrong_number = await run(
        ValidateCancelForm(),
        tracker(
            "ava@example.com",
            just_set={"order_number": "KNT-1077", "email": "ava@example.com"},
            form="cancel_form",
        ),
    )
    assert [m["text"] for m in wrong_number] == [NOT_VERIFIED]  # the same words
    slots, messages = await run(
        ValidateCancelForm(),
        tracker(
            "x@example.com",
            slots={"verify_failures": 2.0},
            just_set={"order_number": "KNT-1001", "email": "x@example.com"},
            form="cancel_form",
        ),
    )
    assert slots["request_blocked"] == "verification_failed"
    assert slots["requested_slot"] is None
    _, handoff = await run(
        ActionSubmitCancel(), tracker(slots={"request_blocked": "verification_failed"})
    )
    assert handoff[-1]["custom"] == {"handoff": {"reason": "verification_failed"}}


async def test_change_value_is_normalised_against_the_catalogue(env):
    base = {
        **verified("KNT-1001", "ava@example.com"),
        "order_item": "1",
        "change_attribute": "metal",
        "order_facts": {
            "order_number": "KNT-1001",
            "status": "in_production",
            "items": [{"id": 1, "product": "Ring", "metal": "white gold"}],
        },
    }
    slots, _ = await run(
        ValidateChangeForm(),
        tracker(
            "rosegold",
            slots=base | {"requested_slot": "change_value"},
            just_set={"change_value": "rosegold"},
            form="change_form",
        ),
    )
    assert slots["change_value"] == "rose gold"
    slots, messages = await run(
        ValidateChangeForm(),
        tracker(
            "silver",
            slots=base | {"requested_slot": "change_value"},
            just_set={"change_value": "silver"},
            form="change_form",
        ),
    )
    assert slots["change_value"] is None
    assert "isn't in our catalogue" in messages[0]["text"]
    assert "white gold, yellow gold, rose gold, platinum" in messages[0]["text"]


async def test_confirmation_summary_then_cancel_for_real(env):
    state = {**verified("KNT-1005", "eve@example.com"), "confirm": "yes"}
    _, asked = await run(ActionAskConfirm(), tracker(slots=state, form="cancel_form"))
    assert asked[0]["text"].startswith("To confirm: cancel order KNT-1005")
    slots, messages = await run(ActionSubmitCancel(), tracker(slots=state))
    assert "KNT-1005 is cancelled" in messages[0]["text"]
    assert slots["confirm"] is None and slots["request_blocked"] is None
    order = await services.order_client().lookup("KNT-1005", "eve@example.com")
    assert order["status"] == "cancelled"


async def test_a_double_submitted_return_makes_one_record(env):
    facts = await services.order_client().lookup("KNT-1002", "ben@example.com")
    state = {
        **verified("KNT-1002", "ben@example.com"),
        "order_facts": facts,
        "order_item": str(facts["items"][0]["id"]),
        "return_kind": "return",
        "return_reason": "too big",
        "confirm": "yes",
    }
    _, first = await run(ActionSubmitReturn(), tracker(slots=state, sender="double"))
    _, second = await run(ActionSubmitReturn(), tracker(slots=state, sender="double"))
    assert "RMA-" in first[0]["text"] and first[0]["text"] == second[0]["text"]
    order = await services.order_client().lookup("KNT-1002", "ben@example.com")
    assert len(order["open_returns"]) == 1


async def test_backend_down_says_so_and_reports_nothing(env, monkeypatch):
    monkeypatch.setenv("ORDERS_URL", f"http://127.0.0.1:{free_port()}")  # nothing listens
    services.reset()
    _, messages = await run(
        ActionOrderStatus(), tracker(slots=verified("KNT-1001", "ava@example.com"))
    )
    assert "can't reach our order system" in messages[0]["text"]
    assert messages[0]["buttons"][0]["payload"] == (
        '/human_handoff{"handoff_reason": "order_system_down"}'
    )
    _slots, messages = await run(
        ActionSubmitCancel(),
        tracker(slots={**verified("KNT-1001", "ava@example.com"), "confirm": "yes"}),
    )
    assert "nothing has been submitted" in messages[0]["text"]
    assert not any("cancelled" in (m.get("text") or "") for m in messages)
