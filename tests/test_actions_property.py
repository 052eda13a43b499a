"""Actions never raise: every custom action and form validation, run with arbitrary values
in every slot, entity, message text, intent and metadata they read (unicode digits such as
"²" and "٣", lists and dicts where text is expected, None, huge numbers, NaN, very long
and empty strings, emoji, right-to-left and zero-width text, lone surrogates, control
characters), against the real order backend and the real FAQ engine.

Each run must return a list of events that Rasa's own schema accepts, every slot set to a
value of its type in domain.yml, and messages Rasa can send (plain JSON, UTF-8 text,
buttons with a title and a payload). Two backends: one that never locks, so verified
paths are reached, and one that locks after a single failed check, so locked answers are.

ACTIONS_PROPERTY_EXAMPLES sets the examples per action and backend (default 40).
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import runpy
import time
from collections.abc import Iterator
from typing import Any

import httpx
import jsonschema_rs
import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st
from rasa_sdk import Action
from rasa_sdk.executor import CollectingDispatcher

from actions.cancellation import ActionSubmitCancel, ValidateCancelForm
from actions.changes import ActionAskChangeValue, ActionSubmitChange, ValidateChangeForm
from actions.confirm import ActionAskConfirm
from actions.faq import ActionAnswerFaq
from actions.handoff import ActionHandoff
from actions.order_status import ActionOrderStatus, ValidateOrderStatusForm
from actions.request_steps import ActionAskOrderItem
from actions.returns import ActionAskExchangeSize, ActionSubmitReturn, ValidateReturnForm
from bot.settings import PROJECT_ROOT, Settings, get_settings
from bot.shopper import process_wide

from .actions_helpers import DOMAIN, Backend, order_backend, tracker
from .orders_helpers import DEMO

pytestmark = pytest.mark.slow

EXAMPLES = int(os.environ.get("ACTIONS_PROPERTY_EXAMPLES", "40"))
ACTIONS: list[type[Action]] = [
    ActionAnswerFaq,
    ActionHandoff,
    ActionAskOrderItem,
    ActionAskChangeValue,
    ActionAskExchangeSize,
    ActionAskConfirm,
    ActionOrderStatus,
    ActionSubmitReturn,
    ActionSubmitChange,
    ActionSubmitCancel,
    ValidateOrderStatusForm,
    ValidateReturnForm,
    ValidateChangeForm,
    ValidateCancelForm,
]
FORMS: dict[str, list[str]] = {
    name: spec["required_slots"] for name, spec in DOMAIN["forms"].items()
}
SLOT_TYPES: dict[str, str] = {name: spec["type"] for name, spec in DOMAIN["slots"].items()}


def rasa_events_schema() -> dict[str, Any]:
    """The schema Rasa 3.6 checks an action server's events against (its own file)."""
    found = sorted(
        (PROJECT_ROOT / ".venv-rasa" / "lib").glob(
            "python3*/site-packages/rasa/shared/utils/schemas/events.py"
        )
    )
    if not found:
        pytest.fail("no Rasa in .venv-rasa: `make install` sets it up")
    schema: dict[str, Any] = runpy.run_path(str(found[0]))["EVENTS_SCHEMA"]
    return schema


# --- what a shopper, NLU or a hostile client can put there -------------------------------

ODD_TEXT = [
    "",
    " ",
    "\n\t",
    "²",
    "٣",
    "١٠٠١",
    "KNT-١٠٠١",
    "KNT-²⁰⁰¹",
    "#１００１",
    "\u200b",
    "\u200bKNT-1001\u200b",
    "\u202eKNT-1001",
    "\u200fשלום",
    "مرحبا؟ كيف حالك",
    "🙂",
    "👩‍👩‍👧‍👦" * 50,
    "\ud800",
    "ava\udfff@example.com",
    "\x00",
    "a\x00b",
    "\x1b[31m",
    "x" * 5000,
    "٣" * 3000,
    "/restart",
    '/inform{"order_number": ["KNT-1001"]}',
    "NaN",
    "-1",
    "0",
    "99999999999999999999999",
    "1e309",
    "ı",
    "\u212a@example.com",
]
REAL_TEXT = [
    "KNT-1001",
    "knt1002",
    "#1003",
    "order 1005",
    "ava@example.com",
    " Ben@Example.com ",
    "dan@example.com",
    "yes",
    "no",
    "1",
    "2",
    "return",
    "exchange",
    "it's a bit too big",
    "metal",
    "the gemstone",
    "ring size",
    "rose gold",
    "sapphire",
    "7.5",
    "six and a half",
    "size ٧",
    "how long do refunds take?",
    "can I pay with klarna?",
    "are you a bot?",
]
ANY_CHAR = st.characters(codec=None, exclude_categories=())  # surrogates and controls too
text_values = st.one_of(
    st.sampled_from(ODD_TEXT + REAL_TEXT),
    st.text(max_size=60),
    st.text(ANY_CHAR, max_size=30),
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.sampled_from([2**64, -(2**63) - 1, 10**400]),
    st.floats(),  # NaN and infinities included
    text_values,
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.one_of(st.sampled_from(["id", "items", "name"]), st.text(max_size=8)),
            inner,
            max_size=3,
        )
    ),
    max_leaves=8,
)
anything = st.one_of(text_values, json_values)


def item_values() -> st.SearchStrategy[Any]:
    item = st.fixed_dictionaries(
        {"id": anything},
        optional={k: anything for k in ("product", "gemstone", "metal", "ring_size")},
    )
    return st.lists(st.one_of(item, anything), max_size=3)


def facts_values(real: list[dict[str, Any]]) -> st.SearchStrategy[Any]:
    odd_facts = st.fixed_dictionaries(
        {},
        optional={
            "order_number": anything,
            "status": anything,
            "items": st.one_of(item_values(), anything),
            "return_window_ends": st.one_of(st.sampled_from(["2026-13-45", "soon"]), anything),
            "change_used": anything,
        },
    )
    return st.one_of(st.none(), st.sampled_from(real), odd_facts, anything)


@st.composite
def situations(draw: st.DrawFn, name: str, real_facts: list[dict[str, Any]]) -> Any:
    """A tracker as Rasa could send to the action `name`, some of it sensible, some not."""
    own_form = name.removeprefix("validate_") if name.startswith("validate_") else None
    slots = {
        slot: draw(st.one_of(st.none(), anything), label=slot)
        for slot in SLOT_TYPES
        if draw(st.booleans())
    }
    if draw(st.booleans(), label="verified"):
        number = draw(st.sampled_from(sorted(DEMO)))
        slots |= {
            "verified_order": number,
            "verified_email": DEMO[number],
            "verified_at": draw(st.sampled_from(["now", "stale", "future"])),
            "order_facts": draw(facts_values(real_facts)),
            "confirm": draw(st.sampled_from(["yes", "no", None])),
        }
    if slots.get("verified_at") in ("now", "stale", "future"):
        offset = {"now": 0, "stale": -(10**6), "future": 10**6}[slots["verified_at"]]
        slots["verified_at"] = time.time() + offset
    if "order_facts" not in slots and draw(st.booleans()):
        slots["order_facts"] = draw(facts_values(real_facts))
    # A form's validation runs inside it, or at its start (no form active yet).
    form = draw(st.sampled_from([own_form, None] if own_form else [None, *FORMS]))
    if form:
        slots["requested_slot"] = draw(st.one_of(st.sampled_from(FORMS[form]), anything))
    just_set = {}
    if own_form:
        asked = draw(st.lists(st.sampled_from(FORMS[own_form]), unique=True, max_size=3))
        just_set = {slot: draw(st.one_of(text_values, anything)) for slot in asked}
    entities = draw(
        st.lists(
            st.fixed_dictionaries(
                {
                    "entity": st.sampled_from([*DOMAIN["entities"], "unknown"]),
                    "value": st.one_of(
                        st.sampled_from(["faq_unanswered", "order_system_down"]), anything
                    ),
                }
            ),
            max_size=3,
        )
    )
    metadata = draw(
        st.one_of(
            st.none(),
            st.fixed_dictionaries(
                {},
                optional={
                    "client_ip": st.one_of(st.sampled_from(["203.0.113.9", "::1"]), anything),
                    "session": anything,
                },
            ),
            anything,
        )
    )
    t = tracker(
        text=draw(st.one_of(text_values, anything), label="text"),
        intent=draw(
            st.one_of(st.sampled_from([*DOMAIN["intents"], "", "nonsense"]), anything),
            label="intent",
        ),
        slots=slots,
        just_set=just_set,
        form=form,
        sender=draw(
            st.one_of(st.sampled_from(["shopper", "x" * 300]), st.text(ANY_CHAR)), label="sender"
        ),
        metadata=metadata,
        entities=entities,
    )
    # Forms that ran earlier in the conversation (the last one's submit may have been lost).
    t.events[:0] = draw(
        st.lists(
            st.fixed_dictionaries(
                {
                    "event": st.just("active_loop"),
                    "name": st.one_of(st.none(), st.sampled_from(list(FORMS)), anything),
                }
            ),
            max_size=2,
        ),
        label="earlier forms",
    )
    return t


# --- what Rasa accepts back ----------------------------------------------------------------


def utf8_json(value: Any) -> None:
    """Plain JSON Rasa can read: finite numbers, text that is valid UTF-8."""
    json.dumps(value, allow_nan=False, ensure_ascii=False).encode("utf-8")


def of_its_type(slot: str, value: Any) -> bool:
    if value is None:
        return True
    kind = SLOT_TYPES[slot]
    if kind == "text":
        return isinstance(value, str)
    if kind == "float":
        return (
            isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
        )
    return True  # "any": plain JSON is checked for every event


def check_result(events: Any, messages: list[dict[str, Any]], validator: Any) -> None:
    assert isinstance(events, list)
    validator.validate(events)
    utf8_json(events)
    for event in events:
        if event["event"] != "slot":
            continue
        name, value = event["name"], event["value"]
        if name == "requested_slot":
            assert value is None or any(value in slots for slots in FORMS.values()), value
        else:
            assert name in SLOT_TYPES, name
            assert of_its_type(name, value), (name, value)
    utf8_json(messages)
    for message in messages:
        text = message.get("text")
        assert text is None or (isinstance(text, str) and text.strip()), message
        assert "Traceback" not in (text or "")
        for button in message.get("buttons") or []:
            assert isinstance(button["title"], str) and isinstance(button["payload"], str)
        response = message.get("response")
        assert response is None or response in DOMAIN["responses"], response


# --- the real parts ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def backends(
    settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Backend]]:
    """One backend that never locks and one that locks after a single failed check."""
    with (
        order_backend(
            settings, tmp_path_factory.mktemp("open"), verify_failure_limit=1_000_000
        ) as open_,
        order_backend(
            settings, tmp_path_factory.mktemp("strict"), verify_failure_limit=1
        ) as strict,
    ):
        yield {"open": open_, "strict": strict}


@pytest.fixture(scope="module")
def real_facts(backends: dict[str, Backend]) -> list[dict[str, Any]]:
    """The demo orders as the backend describes them (what `order_facts` holds)."""
    s = backends["open"].settings
    headers = {"Authorization": f"Bearer {s.orders_api_token.get_secret_value()}"}
    return [
        httpx.post(
            f"{s.orders_url}/v1/orders/lookup",
            json={"order_number": number, "email": email},
            headers=headers,
            timeout=10,
        ).json()
        for number, email in DEMO.items()
    ]


@pytest.fixture(scope="module")
def runner() -> Iterator[asyncio.Runner]:
    with asyncio.Runner() as r:
        yield r


@pytest.fixture(scope="module")
def action_env(
    backends: dict[str, Backend], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Any]:
    """The actions' settings as the action server would have them; `use(kind)` points
    them at one backend (the FAQ engine, loaded once, stays)."""
    app_db = tmp_path_factory.mktemp("app") / "app.db"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ENVIRONMENT", "local")
        mp.setenv("DATABASE_URL", f"sqlite:///{app_db}")
        process_wide.reset()

        def use(kind: str) -> None:
            mp.setenv("ORDERS_URL", backends[kind].settings.orders_url)
            get_settings.cache_clear()
            process_wide.order_client.cache_clear()

        yield use
    process_wide.reset()


@pytest.mark.parametrize("kind", ["open", "strict"])
@pytest.mark.parametrize("action", ACTIONS, ids=lambda a: a.__name__)
def test_an_action_never_raises_and_answers_what_rasa_accepts(
    action: type[Action],
    kind: str,
    action_env: Any,
    real_facts: list[dict[str, Any]],
    runner: asyncio.Runner,
) -> None:
    action_env(kind)
    validator = jsonschema_rs.validator_for(rasa_events_schema())
    instance = action()  # as the action server does: one instance, many calls

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(t=situations(instance.name(), real_facts))
    def one(t: Any) -> None:
        note(f"tracker: {t.current_state()!r}")  # a failure shows the whole input
        dispatcher = CollectingDispatcher()
        events = runner.run(instance.run(dispatcher, t, DOMAIN))
        check_result(events, dispatcher.messages, validator)

    one()


def test_every_action_of_the_domain_is_covered() -> None:
    custom = {a for a in DOMAIN["actions"] if a.startswith(("action_", "validate_"))}
    assert {a().name() for a in ACTIONS} == custom
