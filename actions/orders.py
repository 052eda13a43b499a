"""Order requests. Until the order backend lands (next issue), a person handles them:
the bot says so plainly and hands off with what the shopper already told us."""

from __future__ import annotations

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.replies import hand_off, latest_intent

WHAT = {
    "check_order_status": "check on your order",
    "start_return": "start your return or exchange",
    "change_order": "change your order",
    "cancel_order": "cancel your order",
}


class ActionOrderRequest(Action):
    def name(self) -> str:
        return "action_order_request"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        intent = latest_intent(tracker) or ""
        if intent not in WHAT:
            # After the lookup form the latest intent is the last answer (inform).
            intent = "check_order_status"
        number = tracker.get_slot("order_number")
        about = f" for {number}" if number else ""
        hand_off(
            dispatcher,
            f"order_request:{intent}",
            f"I can't {WHAT[intent]} from this chat yet, so I'm passing you to a person from "
            f"our team{about}: they will reply here shortly.",
        )
        return [SlotSet("faq_misses", 0.0)]
