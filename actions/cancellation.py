"""Cancellation of an order still in production: the form, its confirmation question
and the submit."""

from __future__ import annotations

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.inputs import chosen_item, facts, text_slot
from actions.request_steps import (
    call_backend,
    declined,
    handled_block,
    idempotency_key,
    proof,
    reset_flow,
)
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


class ActionSubmitCancel(Action):
    def name(self) -> str:
        return "action_submit_cancel"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        events = reset_flow()
        if handled_block(dispatcher, tracker) or declined(dispatcher, tracker):
            return events
        number, email = proof(tracker) or ("", "")
        body = {"order_number": number, "email": email}
        body["idempotency_key"] = idempotency_key(tracker, "cancel", number)
        done, failed = await call_backend(
            dispatcher, tracker, process_wide.order_client().cancel, **body
        )
        if done is not None:
            dispatcher.utter_message(
                text=f"Done: order {number} is cancelled "
                f"(reference {done.get('cancellation_number')})."
            )
            events.append(SlotSet("order_facts", {**facts(tracker), "status": "cancelled"}))
        return events + failed
