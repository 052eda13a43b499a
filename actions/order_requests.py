"""What happens once an order form is complete: status, return/exchange, change, cancel.

Nothing is reported as done unless the order backend confirmed it. Every create carries
an idempotency key derived from the conversation and the request, so a retried submit
makes one record, not two.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import date
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.order_forms import ATTRIBUTE_NAMES, BACKEND_DOWN
from actions.replies import chosen_item, facts, hand_off, talk_to_person
from bot import services
from bot.order_client import OrderBackendUnavailable, OrderNotFound, Refused
from bot.order_messages import describe_item, status_message
from bot.order_rules_text import explain

log = logging.getLogger(__name__)

FLOW_SLOTS = (
    "order_item",
    "return_kind",
    "return_reason",
    "exchange_size",
    "change_attribute",
    "change_value",
    "confirm",
    "request_blocked",
)


def reset_flow() -> list[EventType]:
    """Forget the finished request; keep the verified order for the next one."""
    return [SlotSet(slot, None) for slot in FLOW_SLOTS]


def idempotency_key(tracker: Tracker, kind: str, *parts: Any) -> str:
    raw = "|".join([tracker.sender_id, kind, *(str(p) for p in parts)])
    return hashlib.sha256(raw.encode()).hexdigest()[:40]


def handled_block(dispatcher: CollectingDispatcher, tracker: Tracker) -> bool:
    """Explain why the request stopped before submitting, if it did."""
    reason = tracker.get_slot("request_blocked")
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
    else:
        text, buttons = explain(reason, facts(tracker))
        dispatcher.utter_message(text=text, buttons=buttons)
    return True


def declined(dispatcher: CollectingDispatcher, tracker: Tracker) -> bool:
    if tracker.get_slot("confirm") == "no":
        dispatcher.utter_message(text="OK, I haven't submitted anything. Anything else?")
        return True
    return False


async def call_backend(
    dispatcher: CollectingDispatcher, tracker: Tracker, call: Any, **body: Any
) -> dict[str, Any] | None:
    """The backend's confirmation, or None after telling the shopper what went wrong."""
    try:
        result: dict[str, Any] = await call(**body)
        return result
    except Refused as refused:
        text, buttons = explain(refused.reason, facts(tracker), refused.extra)
        dispatcher.utter_message(text=text, buttons=buttons)
    except OrderBackendUnavailable as exc:
        log.warning("order backend unavailable: %s", exc)
        dispatcher.utter_message(
            text="I can't reach our order system right now, so nothing has been submitted. "
            "Please try again in a few minutes, or a person from our team can help.",
            buttons=[talk_to_person("order_system_down")],
        )
    except OrderNotFound:
        hand_off(
            dispatcher,
            "order_not_found",
            "I couldn't find that order any more, so I'm passing you to a person.",
        )
    return None


class ActionOrderStatus(Action):
    def name(self) -> str:
        return "action_order_status"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        if not handled_block(dispatcher, tracker):
            order = await call_backend(
                dispatcher,
                tracker,
                services.order_client().lookup,
                order_number=tracker.get_slot("verified_order"),
                email=tracker.get_slot("verified_email"),
            )
            if order is not None:
                dispatcher.utter_message(text=status_message(order, date.today()))
        return reset_flow()


class ActionSubmitReturn(Action):
    def name(self) -> str:
        return "action_submit_return"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        if handled_block(dispatcher, tracker) or declined(dispatcher, tracker):
            return reset_flow()
        kind = tracker.get_slot("return_kind")
        item = chosen_item(tracker)
        body = {
            "order_number": tracker.get_slot("verified_order"),
            "email": tracker.get_slot("verified_email"),
            "item_id": item.get("id"),
            "kind": kind,
            "reason": tracker.get_slot("return_reason"),
            "exchange_size": tracker.get_slot("exchange_size"),
        }
        body["idempotency_key"] = idempotency_key(tracker, "return", *body.values())
        done = await call_backend(
            dispatcher, tracker, services.order_client().create_return, **body
        )
        if done is not None:
            what = "exchange" if kind == "exchange" else "return"
            text = (
                f"Done: your {what} request for {describe_item(item)} is {done['rma_number']}. "
                "You'll receive an insured shipping label by e-mail within 1-2 business days; "
                "use it to send the item back to us."
            )
            if kind == "return":
                text += (
                    " Your refund is processed within 14 days after we've received the "
                    "item and checked that it is in good condition."
                )
            dispatcher.utter_message(text=text)
        return reset_flow()


class ActionSubmitChange(Action):
    def name(self) -> str:
        return "action_submit_change"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        if handled_block(dispatcher, tracker) or declined(dispatcher, tracker):
            return reset_flow()
        item = chosen_item(tracker)
        attribute = tracker.get_slot("change_attribute")
        body = {
            "order_number": tracker.get_slot("verified_order"),
            "email": tracker.get_slot("verified_email"),
            "item_id": item.get("id"),
            "attribute": attribute,
            "new_value": tracker.get_slot("change_value"),
        }
        body["idempotency_key"] = idempotency_key(tracker, "change", *body.values())
        done = await call_backend(
            dispatcher, tracker, services.order_client().request_change, **body
        )
        events = reset_flow()
        if done is not None:
            dispatcher.utter_message(
                text=f"Done: change request {done['request_number']} is in. The "
                f"{ATTRIBUTE_NAMES.get(str(attribute), attribute)} of your "
                f"{item.get('product', 'item')} changes from {done.get('old_value')} to "
                f"{done.get('new_value')}. That was the one change this order allows."
            )
            events.append(SlotSet("order_facts", {**facts(tracker), "change_used": True}))
        return events


class ActionSubmitCancel(Action):
    def name(self) -> str:
        return "action_submit_cancel"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        if handled_block(dispatcher, tracker) or declined(dispatcher, tracker):
            return reset_flow()
        number = tracker.get_slot("verified_order")
        body = {"order_number": number, "email": tracker.get_slot("verified_email")}
        body["idempotency_key"] = idempotency_key(tracker, "cancel", number)
        done = await call_backend(dispatcher, tracker, services.order_client().cancel, **body)
        events = reset_flow()
        if done is not None:
            dispatcher.utter_message(
                text=f"Done: order {number} is cancelled (reference {done['cancellation_number']})."
            )
            events.append(SlotSet("order_facts", {**facts(tracker), "status": "cancelled"}))
        return events
