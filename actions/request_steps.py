"""The steps every order request shares after its form: the item question, why a request
stopped before submitting, the shopper's "yes", and the call to the order backend.

Nothing is reported as done unless the order backend confirmed it, and nothing as "not
submitted" unless it confirmed that too. Every create carries an idempotency key derived
from the conversation and the request, so a retried submit makes one record, not two, and
a write whose answer was lost can be asked about again (bot.shopper.order_backend).
"""

from __future__ import annotations

import hashlib
import logging
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.handoff import hand_off
from actions.inputs import facts, shopper, text_slot
from actions.slots import FORGET_VERIFICATION, REQUEST_SLOTS
from actions.verification import verified_email
from bot.orders.domain import Refused
from bot.settings import get_settings
from bot.shopper.buttons import talk_to_person
from bot.shopper.order_backend import (
    OrderBackendUnavailable,
    OrderNotFound,
    VerificationLocked,
    WriteOutcomeUnknown,
)
from bot.shopper.order_replies import (
    describe_item,
    not_submitted,
    verification_locked,
    write_unconfirmed,
)
from bot.shopper.refusals import explain

log = logging.getLogger(__name__)

BACKEND_DOWN = (
    "I can't reach our order system right now, so I can't look at your order. Please try "
    "again in a few minutes, or a person from our team can help."
)
NOT_VERIFIED_YET = (
    "I need to check that the order is yours first. Tell me what you'd like to do (for "
    'example "where is my order") and I\'ll ask for the order number and e-mail.'
)


class ActionAskOrderItem(Action):
    """Which item of the order a return or a change is about."""

    def name(self) -> str:
        return "action_ask_order_item"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        items = facts(tracker).get("items", [])
        lines = [f"{n}. {describe_item(i)}" for n, i in enumerate(items, start=1)]
        dispatcher.utter_message(
            text="Which item is it about?\n" + "\n".join(lines),
            buttons=[{"title": str(n), "payload": str(n)} for n in range(1, len(items) + 1)],
        )
        return []


def reset_flow() -> list[EventType]:
    """Forget the finished request; keep the verified order for the next one."""
    return [SlotSet(slot, None) for slot in REQUEST_SLOTS]


def idempotency_key(tracker: Tracker, kind: str, *parts: Any) -> str:
    raw = "|".join([str(tracker.sender_id), kind, *(str(p) for p in parts)])
    return hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()[:40]


def tell_locked(dispatcher: CollectingDispatcher) -> None:
    dispatcher.utter_message(
        text=verification_locked(get_settings().support_email),
        buttons=[talk_to_person("verification_locked")],
    )


def proof(tracker: Tracker) -> tuple[str, str] | None:
    """The verified order number and e-mail, or None when the form never verified one."""
    number, email = text_slot(tracker, "verified_order", 100), verified_email(tracker)
    return (number, email) if number and email else None


def handled_block(dispatcher: CollectingDispatcher, tracker: Tracker) -> bool:
    """Explain why the request stopped before submitting, if it did."""
    reason = text_slot(tracker, "request_blocked", 100)
    if not reason and proof(tracker) is None:
        dispatcher.utter_message(text=NOT_VERIFIED_YET)
        return True
    if not reason:
        return False
    if reason == "verification_failed":
        hand_off(
            dispatcher,
            "verification_failed",
            "I couldn't match those details to an order, so I'm passing you to a person from "
            "our team who can check with you. They will reply here shortly.",
        )
    elif reason == "backend_down":
        dispatcher.utter_message(text=BACKEND_DOWN, buttons=[talk_to_person("order_system_down")])
    elif reason == "verification_locked":
        tell_locked(dispatcher)
    else:
        text, buttons = explain(reason, facts(tracker))
        dispatcher.utter_message(text=text, buttons=buttons)
    return True


def declined(dispatcher: CollectingDispatcher, tracker: Tracker) -> bool:
    """Anything but an explicit "yes" submits nothing."""
    if text_slot(tracker, "confirm", 10) != "yes":
        dispatcher.utter_message(text="OK, I haven't submitted anything. Anything else?")
        return True
    return False


async def call_backend(
    dispatcher: CollectingDispatcher, tracker: Tracker, call: Any, **body: Any
) -> tuple[dict[str, Any] | None, list[EventType]]:
    """(the backend's confirmation, None) or (None, events) after telling the shopper
    what went wrong; the events forget the verification when the backend locked it."""
    try:
        result: dict[str, Any] = await call(shopper=shopper(tracker), **body)
        return result, []
    except Refused as refused:
        text, buttons = explain(refused.reason, facts(tracker), refused.extra)
        dispatcher.utter_message(text=text, buttons=buttons)
    except VerificationLocked as exc:
        log.warning("order checks locked for this conversation: %s", exc.message)
        tell_locked(dispatcher)
        return None, [SlotSet(k, v) for k, v in FORGET_VERIFICATION.items()]
    except WriteOutcomeUnknown as exc:
        # Never "not submitted" here: it may have gone through. A person checks.
        log.warning("order backend did not confirm a write: %s", exc)
        hand_off(dispatcher, "write_unconfirmed", write_unconfirmed(get_settings().support_email))
    except OrderBackendUnavailable as exc:
        log.warning("order backend unavailable: %s", exc)
        dispatcher.utter_message(
            text=not_submitted(), buttons=[talk_to_person("order_system_down")]
        )
    except OrderNotFound:
        hand_off(
            dispatcher,
            "order_not_found",
            "I couldn't find that order any more, so I'm passing you to a person.",
        )
    return None, []


class SubmitRequest(Action, ABC):
    """A request's submit action: nothing unless the form verified the order and the
    shopper said "yes"; then one call to the order backend, keyed so that a retried
    submit makes one record; the confirmation worded only from the backend's answer."""

    kind: str  # "cancel", "return", "change": part of the idempotency key

    @abstractmethod
    def fields(self, tracker: Tracker) -> dict[str, Any]:
        """What the request sends beside the verified order number and e-mail."""

    @abstractmethod
    def call(self) -> Callable[..., Awaitable[dict[str, Any]]]:
        """The order backend client's method that creates the request."""

    @abstractmethod
    def confirm(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, done: dict[str, Any]
    ) -> list[EventType]:
        """Tell the shopper what the backend confirmed; events that record it."""

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        events = reset_flow()
        if handled_block(dispatcher, tracker) or declined(dispatcher, tracker):
            return events
        number, email = proof(tracker) or ("", "")
        body = {"order_number": number, "email": email, **self.fields(tracker)}
        body["idempotency_key"] = idempotency_key(tracker, self.kind, *body.values())
        done, failed = await call_backend(dispatcher, tracker, self.call(), **body)
        if done is not None:
            events += self.confirm(dispatcher, tracker, done)
        return events + failed
