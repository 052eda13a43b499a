"""Hand the conversation to a person: the action, and the hand-off every capability uses."""

from __future__ import annotations

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.inputs import entity_values, latest_intent, number_slot
from bot.settings import get_settings
from bot.shopper.buttons import BUTTON_HANDOFF_REASONS


def hand_off(dispatcher: CollectingDispatcher, reason: str, text: str | None = None) -> None:
    """Tell the shopper a person takes over, and tell the gateway (custom payload)."""
    email = get_settings().support_email
    dispatcher.utter_message(
        text=text
        or (
            "I'm passing you to a person from our team: they will see this conversation "
            f"and reply here. You can also write to {email}."
        )
    )
    dispatcher.utter_message(json_message={"handoff": {"reason": reason}})


class ActionHandoff(Action):
    def name(self) -> str:
        return "action_handoff"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        if latest_intent(tracker) == "human_handoff":
            offered = next(entity_values(tracker, "handoff_reason"), None)
            reason = offered if offered in BUTTON_HANDOFF_REASONS else "shopper_asked"
        elif (number_slot(tracker, "faq_misses") or 0) >= 2:
            reason = "faq_unanswered"
        else:
            reason = "bot_decided"
        hand_off(dispatcher, reason)
        return [ActiveLoop(None), SlotSet("requested_slot", None), SlotSet("faq_misses", 0.0)]
