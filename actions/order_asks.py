"""Questions whose wording depends on the order: which item, which value, the summary."""

from __future__ import annotations

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.inputs import chosen_item, facts, text_slot
from actions.order_forms import ATTRIBUTE_NAMES
from bot.catalogue_match import allowed
from bot.order_messages import describe_item

YES_NO = [{"title": "Yes", "payload": "yes"}, {"title": "No", "payload": "no"}]


class ActionAskOrderItem(Action):
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


class ActionAskChangeValue(Action):
    def name(self) -> str:
        return "action_ask_change_value"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        attribute = text_slot(tracker, "change_attribute", 100)
        if attribute not in ATTRIBUTE_NAMES:
            dispatcher.utter_message(
                text="What would you like to change: the gemstone, the metal colour or the "
                "ring size?"
            )
            return []
        options = allowed(attribute)
        current = chosen_item(tracker).get(attribute)
        now = f" (now: {current})" if current else ""
        if attribute == "ring_size":
            dispatcher.utter_message(
                text=f"Which ring size would you like{now}? US sizes 3 to 13, half sizes too."
            )
        else:
            dispatcher.utter_message(
                text=f"Which {ATTRIBUTE_NAMES[attribute]} would you like{now}?",
                buttons=[{"title": o.title(), "payload": o} for o in options if o != current],
            )
        return []


class ActionAskConfirm(Action):
    def name(self) -> str:
        return "action_ask_confirm"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        loop = tracker.active_loop if isinstance(tracker.active_loop, dict) else {}
        form = loop.get("name")
        number = text_slot(tracker, "verified_order", 100) or "your order"
        item = describe_item(chosen_item(tracker)) if chosen_item(tracker) else number
        if form == "cancel_form":
            text = f"To confirm: cancel order {number} ({item})? This can't be undone."
        elif form == "change_form":
            attribute = text_slot(tracker, "change_attribute", 100) or ""
            old = chosen_item(tracker).get(attribute) or "-"
            new = text_slot(tracker, "change_value", 100) or "-"
            text = (
                f"To confirm: change the {ATTRIBUTE_NAMES.get(attribute, 'item')} of "
                f"{item} on order {number} from {old} to {new}. "
                "This uses the one change your order allows. Submit it?"
            )
        else:
            kind = "exchange" if text_slot(tracker, "return_kind") == "exchange" else "return"
            size = text_slot(tracker, "exchange_size", 10)
            extra = f", for size {size}" if kind == "exchange" and size else ""
            reason = text_slot(tracker, "return_reason", 500) or ""
            text = (
                f"To confirm: {kind} {item} from order {number}{extra}. Reason: "
                f'"{reason}". Shall I submit it?'
            )
        dispatcher.utter_message(text=text, buttons=YES_NO)
        return []
