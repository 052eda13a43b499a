"""Cancellation of an order still in production: the form, its confirmation question
and the submit."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.inputs import chosen_item, facts, text_slot
from actions.request_steps import SubmitRequest
from actions.verification import OrderFormValidation
from bot.shopper import process_wide
from bot.shopper.order_replies import describe_item


class ValidateCancelForm(OrderFormValidation):
    possibility = "cancel"

    def name(self) -> str:
        return "validate_cancel_form"

    def flow_slots(self, tracker: Tracker) -> list[str]:
        return ["confirm"]

    def confirm_choices(self, tracker: Tracker) -> str:
        number = text_slot(tracker, "verified_order", 100) or "the order"
        return f'Say "yes" to cancel {number} now, or "no" to keep it as it is.'


def confirm_question(tracker: Tracker) -> str:
    number = text_slot(tracker, "verified_order", 100) or "your order"
    item = describe_item(chosen_item(tracker)) if chosen_item(tracker) else number
    return f"To confirm: cancel order {number} ({item})? This can't be undone."


class ActionSubmitCancel(SubmitRequest):
    kind = "cancel"

    def name(self) -> str:
        return "action_submit_cancel"

    def fields(self, tracker: Tracker) -> dict[str, Any]:
        return {}

    def call(self) -> Callable[..., Awaitable[dict[str, Any]]]:
        return process_wide.order_client().cancel

    def confirm(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, done: dict[str, Any]
    ) -> list[EventType]:
        number = text_slot(tracker, "verified_order", 100) or ""
        dispatcher.utter_message(
            text=f"Done: order {number} is cancelled (reference {done.get('cancellation_number')})."
        )
        return [SlotSet("order_facts", {**facts(tracker), "status": "cancelled"})]
