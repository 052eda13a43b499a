"""Returns and exchanges of a shipped item: the form and its questions, the confirmation
question and the submit."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.inputs import ascii_digits, chosen_item, clean_text, text_slot
from actions.request_steps import (
    call_backend,
    declined,
    handled_block,
    idempotency_key,
    proof,
    reset_flow,
)
from actions.verification import OrderFormValidation, digression
from bot import services
from bot.catalogue_match import match
from bot.order_messages import describe_item


class ValidateReturnForm(OrderFormValidation):
    def name(self) -> str:
        return "validate_return_form"

    def flow_slots(self, tracker: Tracker) -> list[str]:
        slots = ["order_item", "return_kind", "return_reason"]
        if tracker.get_slot("return_kind") == "exchange" and chosen_item(tracker).get("ring_size"):
            slots.append("exchange_size")
        return [*slots, "confirm"]

    def blocked_reason(self, order: dict[str, Any], today: date) -> str | None:
        if order["status"] not in ("shipped", "delivered"):
            return "not_shipped"
        ends = order.get("return_window_ends")
        if ends and date.fromisoformat(ends[:10]) < today:
            return "outside_return_window"
        return None

    async def validate_return_kind(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if digression(dispatcher, tracker):
            return {"return_kind": None}
        text = clean_text(value, 500).lower()
        if re.search(r"exchang|swap|trade|different|another|excange", text):
            return {"return_kind": "exchange"}
        if re.search(r"return|refund|money|send (it )?back|retrun", text):
            return {"return_kind": "return"}
        dispatcher.utter_message(text='Please say "return" or "exchange".')
        return {"return_kind": None}

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
        size = match("ring_size", ascii_digits(clean_text(value, 200)), services.lemmatizer())
        if size is None:
            dispatcher.utter_message(
                text="That isn't a ring size we make. Sizes go from 3 to 13, in half sizes "
                "(for example 6 or 6.5)."
            )
        return {"exchange_size": size}


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


class ActionSubmitReturn(Action):
    def name(self) -> str:
        return "action_submit_return"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        events = reset_flow()
        if handled_block(dispatcher, tracker) or declined(dispatcher, tracker):
            return events
        number, email = proof(tracker) or ("", "")
        kind = return_kind(tracker)
        item = chosen_item(tracker)
        body = {
            "order_number": number,
            "email": email,
            "item_id": item.get("id"),
            "kind": kind,
            "reason": text_slot(tracker, "return_reason", 500),
            "exchange_size": text_slot(tracker, "exchange_size", 10),
        }
        body["idempotency_key"] = idempotency_key(tracker, "return", *body.values())
        done, failed = await call_backend(
            dispatcher, tracker, services.order_client().create_return, **body
        )
        if done is not None:
            text = (
                f"Done: your {kind} request for {describe_item(item)} is "
                f"{done.get('rma_number')}. You'll receive an insured shipping label by e-mail "
                "within 1-2 business days; use it to send the item back to us."
            )
            if kind == "return":
                text += (
                    " Your refund is processed within 14 days after we've received the "
                    "item and checked that it is in good condition."
                )
            dispatcher.utter_message(text=text)
        return events + failed
