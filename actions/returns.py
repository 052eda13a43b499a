"""Returns and exchanges of a shipped item: the form and its questions, the confirmation
question and the submit."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.inputs import (
    ascii_digits,
    chosen_item,
    clean_text,
    entity_values,
    latest_text,
    text_slot,
)
from actions.request_steps import SubmitRequest
from actions.verification import OrderFormValidation, digression
from bot.catalogue import ring_size_range
from bot.shopper import process_wide
from bot.shopper.catalogue_match import match
from bot.shopper.free_answers import return_or_exchange, size_step
from bot.shopper.order_replies import describe_item, return_done


class ValidateReturnForm(OrderFormValidation):
    def name(self) -> str:
        return "validate_return_form"

    def flow_slots(self, tracker: Tracker) -> list[str]:
        slots = ["order_item", "return_kind", "return_reason"]
        if tracker.get_slot("return_kind") == "exchange" and chosen_item(tracker).get("ring_size"):
            slots.append("exchange_size")
        return [*slots, "confirm"]

    possibility = "return"

    async def given_with_request(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        text = latest_text(tracker)
        given: dict[str, Any] = {}
        if return_or_exchange(text, process_wide.lemmatizer().tokens, bare_return=False):
            # "exchange it, it's too big": the kind, and the reason with it.
            given |= await self.validate_return_kind(text, dispatcher, tracker, domain)
        for value in entity_values(tracker, "ring_size"):
            if size := match("ring_size", ascii_digits(value), process_wide.lemmatizer()):
                given["exchange_size"] = size
        return given

    def confirm_choices(self, tracker: Tracker) -> str:
        kind = return_kind(tracker)
        return f'Say "yes" and I\'ll submit this {kind} request, or "no" and nothing is sent.'

    async def validate_return_kind(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if digression(dispatcher, tracker):
            return {"return_kind": None}
        choice = return_or_exchange(clean_text(value, 500), process_wide.lemmatizer().tokens)
        if choice is None:
            # Not the same sentence again: what each choice means, then the choice.
            ring = chosen_item(tracker).get("ring_size") or not chosen_item(tracker)
            other = "in another ring size" if ring else "for a replacement"
            dispatcher.utter_message(
                text="You can choose either: a return sends the item back to us for a "
                f"refund; an exchange sends it back and you get it {other} instead. "
                "Which would you like?",
                buttons=[
                    {"title": "Return for a refund", "payload": "return"},
                    {"title": "Exchange", "payload": "exchange"},
                ],
            )
            return {"return_kind": None}
        slots: dict[str, Any] = {"return_kind": choice.kind}
        if choice.reason and not text_slot(tracker, "return_reason"):
            slots["return_reason"] = choice.reason  # "it's too big" was the reason too
        if choice.other_size and chosen_item(tracker).get("ring_size"):
            dispatcher.utter_message(text="An exchange for another size, then.")
        return slots

    async def validate_return_reason(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if digression(dispatcher, tracker):
            return {"return_reason": None}
        reason = " ".join(clean_text(value).split())[:500]
        return {"return_reason": reason or None}

    async def validate_exchange_size(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if digression(dispatcher, tracker):
            return {"exchange_size": None}
        text = ascii_digits(clean_text(value, 200))
        size = match("ring_size", text, process_wide.lemmatizer())
        step, now = size_step(text), chosen_item(tracker).get("ring_size")
        if size is None and step is not None and now is not None:
            # "a size up", "half a size smaller": from the size the ring has now.
            size = match("ring_size", str(float(str(now)) + step), process_wide.lemmatizer())
        if size is None:
            dispatcher.utter_message(
                text="That isn't a ring size we make. Sizes go from "
                f"{ring_size_range()}, in half sizes (for example 6 or 6.5)."
            )
        return {"exchange_size": size}


class ActionAskExchangeSize(Action):
    """The size question, with the sizes the catalogue makes (not typed into domain.yml)."""

    def name(self) -> str:
        return "action_ask_exchange_size"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        current = chosen_item(tracker).get("ring_size")
        now = f" (now: {current})" if current else ""
        dispatcher.utter_message(
            text=f"Which ring size would you like instead{now}? US sizes {ring_size_range()}, "
            "half sizes too."
        )
        return []


def return_kind(tracker: Tracker) -> str:
    return "exchange" if text_slot(tracker, "return_kind") == "exchange" else "return"


def confirm_question(tracker: Tracker) -> str:
    number = text_slot(tracker, "verified_order", 100) or "your order"
    item = describe_item(chosen_item(tracker)) if chosen_item(tracker) else number
    kind = return_kind(tracker)
    size = text_slot(tracker, "exchange_size", 10)
    extra = f", for size {size}" if kind == "exchange" and size else ""
    reason = text_slot(tracker, "return_reason", 500) or ""
    return (
        f'To confirm: {kind} {item} from order {number}{extra}. Reason: "{reason}". '
        "Shall I submit it?"
    )


class ActionSubmitReturn(SubmitRequest):
    kind = "return"

    def name(self) -> str:
        return "action_submit_return"

    def fields(self, tracker: Tracker) -> dict[str, Any]:
        return {
            "item_id": chosen_item(tracker).get("id"),
            "kind": return_kind(tracker),
            "reason": text_slot(tracker, "return_reason", 500),
            "exchange_size": text_slot(tracker, "exchange_size", 10),
        }

    def call(self) -> Callable[..., Awaitable[dict[str, Any]]]:
        return process_wide.order_client().create_return

    def confirm(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, done: dict[str, Any]
    ) -> list[EventType]:
        item = describe_item(chosen_item(tracker))
        dispatcher.utter_message(text=return_done(done, return_kind(tracker), item))
        return []
