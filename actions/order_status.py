"""Order status: the form (verification only) and the answer from the backend's view."""

from __future__ import annotations

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.request_steps import call_backend, handled_block, proof, reset_flow
from actions.verification import OrderFormValidation
from bot.shopper import process_wide
from bot.shopper.order_replies import status_message


class ValidateOrderStatusForm(OrderFormValidation):
    def name(self) -> str:
        return "validate_order_status_form"


class ActionOrderStatus(Action):
    def name(self) -> str:
        return "action_order_status"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        events = reset_flow()
        if handled_block(dispatcher, tracker):
            return events
        number, email = proof(tracker) or ("", "")
        order, failed = await call_backend(
            dispatcher,
            tracker,
            process_wide.order_client().lookup,
            order_number=number,
            email=email,
        )
        if order is not None:
            dispatcher.utter_message(text=status_message(order))
        return events + failed
