"""The order-lookup form: order number and e-mail, checked and normalised as typed."""

from __future__ import annotations

from typing import Any

from rasa_sdk import FormValidationAction, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.validation import normalize_email, normalize_order_number


class ValidateOrderLookupForm(FormValidationAction):
    def name(self) -> str:
        return "validate_order_lookup_form"

    async def validate_order_number(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        number = normalize_order_number(str(value) if value is not None else None)
        if number is None:
            dispatcher.utter_message(
                text="That doesn't look like a KNT order number. It looks like KNT-1234 "
                "and is in your order confirmation e-mail."
            )
        return {"order_number": number}

    async def validate_email(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        email = normalize_email(str(value) if value is not None else None)
        if email is None:
            dispatcher.utter_message(
                text="That doesn't look like an e-mail address. Please type the address "
                "you used for the order, like name@example.com."
            )
        return {"email": email}
