"""The one allowed change to an order in production (gemstone, metal colour or ring
size): the form and its questions, the confirmation question and the submit."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.inputs import (
    ascii_digits,
    chosen_item,
    clean_text,
    entity_values,
    facts,
    latest_text,
    text_slot,
)
from actions.request_steps import SubmitRequest
from actions.verification import OrderFormValidation, digression
from bot.catalogue import ring_size_range
from bot.shopper import process_wide
from bot.shopper.catalogue_match import ATTRIBUTES, allowed, match
from bot.shopper.free_answers import attribute_to_change
from bot.shopper.order_replies import describe_item

ATTRIBUTE_NAMES = {"gemstone": "gemstone", "metal": "metal colour", "ring_size": "ring size"}


class ValidateChangeForm(OrderFormValidation):
    possibility = "change"

    def name(self) -> str:
        return "validate_change_form"

    def flow_slots(self, tracker: Tracker) -> list[str]:
        return ["order_item", "change_attribute", "change_value", "confirm"]

    async def given_with_request(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        # "change my ring size to 7", "switch my order to rose gold": what, and to what.
        # (Whether the item already has it is checked by the backend at the submit.)
        for attribute in ("ring_size", "metal", "gemstone"):  # entities named as attributes
            for value in entity_values(tracker, attribute):
                if new := match(attribute, ascii_digits(value), process_wide.lemmatizer()):
                    return {"change_attribute": attribute, "change_value": new}
        wanted = attribute_to_change(latest_text(tracker), process_wide.lemmatizer().tokens)
        return {"change_attribute": wanted} if wanted else {}

    def confirm_choices(self, tracker: Tracker) -> str:
        return (
            'Say "yes" to submit this change (it uses the one change your order allows), '
            'or "no" to keep your order as it is.'
        )

    async def validate_change_attribute(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if digression(dispatcher, tracker):
            return {"change_attribute": None}
        text = ascii_digits(clean_text(value, 200)).lower()
        # "make it rose gold" names the value too: take both.
        for attribute in ("metal", "gemstone", "ring_size"):
            named = match(attribute, text, process_wide.lemmatizer())
            if named and attribute != "ring_size":
                return {"change_attribute": attribute, "change_value": named}
        wanted = attribute_to_change(text, process_wide.lemmatizer().tokens)  # "it's too tight"
        if wanted is not None:
            return {"change_attribute": wanted}
        dispatcher.utter_message(
            text="Your order allows one change to one item: its gemstone (the stone set in "
            f"it), its metal colour ({', '.join(allowed('metal'))}) or its ring size. "
            "Which of the three would you like to change?",
            buttons=[
                {"title": "Gemstone", "payload": "gemstone"},
                {"title": "Metal colour", "payload": "metal"},
                {"title": "Ring size", "payload": "ring size"},
            ],
        )
        return {"change_attribute": None}

    async def validate_change_value(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if digression(dispatcher, tracker):
            return {"change_value": None}
        attribute = text_slot(tracker, "change_attribute", 100)
        if attribute not in ATTRIBUTES:
            # What to change is not known (yet): the answer may name it.
            named = await self.validate_change_attribute(value, dispatcher, tracker, domain)
            return {"change_value": None, **named}
        text = ascii_digits(clean_text(value, 200))
        new = match(attribute, text, process_wide.lemmatizer())
        if new is None:
            options = ", ".join(allowed(attribute))
            dispatcher.utter_message(
                text=f'Sorry, "{text.strip()[:60]}" isn\'t in our catalogue. '
                f"You can choose: {options}."
            )
            return {"change_value": None}
        if str(chosen_item(tracker).get(attribute) or "") == new:
            dispatcher.utter_message(text=f"Your order already has {new}. Pick another option.")
            return {"change_value": None}
        return {"change_value": new}


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
                text=f"Which ring size would you like{now}? US sizes {ring_size_range()}, "
                "half sizes too."
            )
        else:
            dispatcher.utter_message(
                text=f"Which {ATTRIBUTE_NAMES[attribute]} would you like{now}?",
                buttons=[{"title": o.title(), "payload": o} for o in options if o != current],
            )
        return []


def confirm_question(tracker: Tracker) -> str:
    number = text_slot(tracker, "verified_order", 100) or "your order"
    item = describe_item(chosen_item(tracker)) if chosen_item(tracker) else number
    attribute = text_slot(tracker, "change_attribute", 100) or ""
    old = chosen_item(tracker).get(attribute) or "-"
    new = text_slot(tracker, "change_value", 100) or "-"
    return (
        f"To confirm: change the {ATTRIBUTE_NAMES.get(attribute, 'item')} of "
        f"{item} on order {number} from {old} to {new}. "
        "This uses the one change your order allows. Submit it?"
    )


class ActionSubmitChange(SubmitRequest):
    kind = "change"

    def name(self) -> str:
        return "action_submit_change"

    def fields(self, tracker: Tracker) -> dict[str, Any]:
        return {
            "item_id": chosen_item(tracker).get("id"),
            "attribute": text_slot(tracker, "change_attribute", 100),
            "new_value": text_slot(tracker, "change_value", 100),
        }

    def call(self) -> Callable[..., Awaitable[dict[str, Any]]]:
        return process_wide.order_client().request_change

    def confirm(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, done: dict[str, Any]
    ) -> list[EventType]:
        attribute = text_slot(tracker, "change_attribute", 100)
        dispatcher.utter_message(
            text=f"Done: change request {done.get('request_number')} is in. The "
            f"{ATTRIBUTE_NAMES.get(str(attribute), 'item')} of your "
            f"{chosen_item(tracker).get('product', 'item')} changes from "
            f"{done.get('old_value')} to {done.get('new_value')}. That was the one change "
            "this order allows."
        )
        return [SlotSet("order_facts", {**facts(tracker), "change_used": True})]
