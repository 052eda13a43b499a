"""What happens once an order form is complete: status, return/exchange, change, cancel.

Nothing is reported as done unless the order backend confirmed it, and nothing as "not
submitted" unless it confirmed that too. Every create carries an idempotency key derived
from the conversation and the request, so a retried submit makes one record, not two, and
a write whose answer was lost can be asked about again (bot.order_client).
"""

from __future__ import annotations

import hashlib
import logging
from datetime import date
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.inputs import active_form, chosen_item, facts, last_form, shopper, text_slot
from actions.order_forms import (
    ATTRIBUTE_NAMES,
    BACKEND_DOWN,
    FORGET_VERIFICATION,
    REQUEST_SLOTS,
    verified_email,
)
from actions.replies import hand_off, talk_to_person
from bot import services
from bot.order_client import (
    OrderBackendUnavailable,
    OrderNotFound,
    Refused,
    VerificationLocked,
    WriteOutcomeUnknown,
)
from bot.order_messages import (
    describe_item,
    not_submitted,
    status_message,
    verification_locked,
    write_unconfirmed,
)
from bot.order_rules_text import explain

log = logging.getLogger(__name__)


def reset_flow() -> list[EventType]:
    """Forget the finished request; keep the verified order for the next one."""
    return [SlotSet(slot, None) for slot in REQUEST_SLOTS]


def idempotency_key(tracker: Tracker, kind: str, *parts: Any) -> str:
    raw = "|".join([str(tracker.sender_id), kind, *(str(p) for p in parts)])
    return hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()[:40]


def tell_locked(dispatcher: CollectingDispatcher) -> None:
    dispatcher.utter_message(
        text=verification_locked(services.settings().support_email),
        buttons=[talk_to_person("verification_locked")],
    )


def proof(tracker: Tracker) -> tuple[str, str] | None:
    """The verified order number and e-mail, or None when the form never verified one."""
    number, email = text_slot(tracker, "verified_order", 100), verified_email(tracker)
    return (number, email) if number and email else None


NOT_VERIFIED_YET = (
    "I need to check that the order is yours first. Tell me what you'd like to do (for "
    'example "where is my order") and I\'ll ask for the order number and e-mail.'
)


def handled_block(dispatcher: CollectingDispatcher, tracker: Tracker) -> bool:
    """Explain why the request stopped before submitting, if it did."""
    reason = text_slot(tracker, "request_blocked", 100)
    if not reason and proof(tracker) is None:
        dispatcher.utter_message(text=NOT_VERIFIED_YET)
        return True
    if not reason:
        return False
    if reason == "verification_failed":
        hand_off(
            dispatcher,
            "verification_failed",
            "I couldn't match those details to an order, so I'm passing you to a person from "
            "our team who can check with you. They will reply here shortly.",
        )
    elif reason == "backend_down":
        dispatcher.utter_message(text=BACKEND_DOWN, buttons=[talk_to_person("order_system_down")])
    elif reason == "verification_locked":
        tell_locked(dispatcher)
    else:
        text, buttons = explain(reason, facts(tracker))
        dispatcher.utter_message(text=text, buttons=buttons)
    return True


def declined(dispatcher: CollectingDispatcher, tracker: Tracker) -> bool:
    """Anything but an explicit "yes" submits nothing."""
    if text_slot(tracker, "confirm", 10) != "yes":
        dispatcher.utter_message(text="OK, I haven't submitted anything. Anything else?")
        return True
    return False


async def call_backend(
    dispatcher: CollectingDispatcher, tracker: Tracker, call: Any, **body: Any
) -> tuple[dict[str, Any] | None, list[EventType]]:
    """(the backend's confirmation, None) or (None, events) after telling the shopper
    what went wrong; the events forget the verification when the backend locked it."""
    try:
        result: dict[str, Any] = await call(shopper=shopper(tracker), **body)
        return result, []
    except Refused as refused:
        text, buttons = explain(refused.reason, facts(tracker), refused.extra)
        dispatcher.utter_message(text=text, buttons=buttons)
    except VerificationLocked as exc:
        log.warning("order checks locked for this conversation: %s", exc.message)
        tell_locked(dispatcher)
        return None, [SlotSet(k, v) for k, v in FORGET_VERIFICATION.items()]
    except WriteOutcomeUnknown as exc:
        # Never "not submitted" here: it may have gone through. A person checks.
        log.warning("order backend did not confirm a write: %s", exc)
        hand_off(
            dispatcher, "write_unconfirmed", write_unconfirmed(services.settings().support_email)
        )
    except OrderBackendUnavailable as exc:
        log.warning("order backend unavailable: %s", exc)
        dispatcher.utter_message(
            text=not_submitted(), buttons=[talk_to_person("order_system_down")]
        )
    except OrderNotFound:
        hand_off(
            dispatcher,
            "order_not_found",
            "I couldn't find that order any more, so I'm passing you to a person.",
        )
    return None, []


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
            services.order_client().lookup,
            order_number=number,
            email=email,
        )
        if order is not None:
            dispatcher.utter_message(text=status_message(order, date.today()))
        return events + failed


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
        kind = "exchange" if text_slot(tracker, "return_kind") == "exchange" else "return"
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


class ActionSubmitChange(Action):
    def name(self) -> str:
        return "action_submit_change"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        events = reset_flow()
        if handled_block(dispatcher, tracker) or declined(dispatcher, tracker):
            return events
        number, email = proof(tracker) or ("", "")
        item = chosen_item(tracker)
        attribute = text_slot(tracker, "change_attribute", 100)
        body = {
            "order_number": number,
            "email": email,
            "item_id": item.get("id"),
            "attribute": attribute,
            "new_value": text_slot(tracker, "change_value", 100),
        }
        body["idempotency_key"] = idempotency_key(tracker, "change", *body.values())
        done, failed = await call_backend(
            dispatcher, tracker, services.order_client().request_change, **body
        )
        if done is not None:
            dispatcher.utter_message(
                text=f"Done: change request {done.get('request_number')} is in. The "
                f"{ATTRIBUTE_NAMES.get(str(attribute), 'item')} of your "
                f"{item.get('product', 'item')} changes from {done.get('old_value')} to "
                f"{done.get('new_value')}. That was the one change this order allows."
            )
            events.append(SlotSet("order_facts", {**facts(tracker), "change_used": True}))
        return events + failed


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
            dispatcher, tracker, services.order_client().cancel, **body
        )
        if done is not None:
            dispatcher.utter_message(
                text=f"Done: order {number} is cancelled "
                f"(reference {done.get('cancellation_number')})."
            )
            events.append(SlotSet("order_facts", {**facts(tracker), "status": "cancelled"}))
        return events + failed


# The submit action each request's form ends in.
SUBMITS: dict[str, type[Action]] = {
    "return_form": ActionSubmitReturn,
    "change_form": ActionSubmitChange,
    "cancel_form": ActionSubmitCancel,
}


async def finish_lost_submit(
    dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
) -> list[EventType] | None:
    """The submit the shopper said "yes" to, run again when they say "yes" again after it
    was lost; None when no submit was lost.

    A form's "yes" ends the form and runs its submit, which always forgets the request
    (reset_flow). When the action server dies during the submit, Rasa drops the submit's
    events and says nothing, so the request's slots and confirm="yes" stay while no form
    runs; the gateway sends the "yes" again once the action server is back (or the shopper
    says it again). The same submit sends the same idempotency key: the backend answers with
    the record it made (or makes it now, or says why it can't), so the shopper hears
    "Done: ..." with the reference that was stored, never "How can I help?" and then, when
    they ask again, that the order "has already used" its change."""
    if active_form(tracker) is not None or text_slot(tracker, "confirm", 10) != "yes":
        return None
    submit = SUBMITS.get(last_form(tracker) or "")
    if submit is None:
        return None
    log.warning("running %s again: its outcome never reached the shopper", submit().name())
    events: list[EventType] = await submit().run(dispatcher, tracker, domain)
    return events
