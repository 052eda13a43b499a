"""Verification: the shopper proves the order is theirs, in every order form.

`OrderFormValidation` is the base of every order form's validation: order number and
e-mail, checked against the order backend, a uniform reply on a mismatch, a hand-off
after the third failure, a refusal when the backend has locked checks for these details
(too many failures anywhere), expiry of the verified state, a policy question answered
mid-flow, and the answers every request shares (which item, yes or no). Each capability
module (order_status, returns, changes, cancellation) subclasses it with its own
questions. Every value is read through actions.inputs, so no slot or entity value can
make a validator raise.
"""

from __future__ import annotations

import logging
import time
from abc import ABC, abstractmethod
from typing import Any, ClassVar, cast

from rasa_sdk import FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.faq import answer_digression
from actions.inputs import (
    active_form,
    ascii_digits,
    clean_text,
    drop_candidates,
    facts,
    latest_intent,
    latest_text,
    number_slot,
    shopper,
    text_slot,
)
from actions.slots import FORGET_VERIFICATION, REQUEST_SLOTS, VERIFICATION_SLOTS
from bot.settings import get_settings
from bot.shopper import process_wide
from bot.shopper.free_answers import hedged, item_number, yes_or_no
from bot.shopper.identifiers import normalize_email, normalize_order_number
from bot.shopper.order_backend import (
    OrderBackendUnavailable,
    OrderNotFound,
    Shopper,
    VerificationLocked,
)
from bot.shopper.refusals import refusal_reason

log = logging.getLogger(__name__)

MAX_VERIFY_FAILURES = 3
QUESTION_INTENTS = {"faq", "out_of_scope", "nlu_fallback", "bot_challenge"}
NOT_VERIFIED = (
    "I couldn't find an order matching those details. Please check the order number and the "
    "e-mail address you used for the order, and try again."
)


def order_number_of(value: Any) -> str | None:
    """ "KNT-1001", "knt ١٠٠١", "#1001" -> "KNT-1001"; None for anything else."""
    return normalize_order_number(ascii_digits(clean_text(value, 200)))


def email_of(value: Any) -> str | None:
    return normalize_email(clean_text(value, 320))


def is_verified(tracker: Tracker) -> bool:
    verified_at = number_slot(tracker, "verified_at")
    if not (verified_at and text_slot(tracker, "verified_order") and verified_email(tracker)):
        return False
    ttl = get_settings().verification_ttl_seconds
    return 0 <= time.time() - verified_at < ttl


def verified_email(tracker: Tracker) -> str | None:
    return email_of(tracker.get_slot("verified_email"))


def locked(exc: VerificationLocked) -> dict[str, Any]:
    """The backend refused to check these details at all: nothing half-verified stays,
    and the request ends with the explanation (never "wrong details")."""
    log.warning("order checks locked for this conversation: %s", exc.message)
    return {**FORGET_VERIFICATION, "request_blocked": "verification_locked"}


def digression(dispatcher: CollectingDispatcher, tracker: Tracker) -> bool:
    """Answer a question asked instead of the requested value; True if it was one.

    A question is what NLU calls one, with a question mark and a few words: "return?" as
    the answer to "return or exchange?" is an answer, not a question.
    """
    intent, text = latest_intent(tracker), latest_text(tracker)
    if intent == "bot_challenge":
        dispatcher.utter_message(response="utter_iamabot")
        return True
    if intent in QUESTION_INTENTS and "?" in text and len(text.split()) >= 4:
        answer_digression(dispatcher, text)
        return True
    return False


def started_now(tracker: Tracker) -> bool:
    """The latest message started the running form: Rasa logs the form's activation
    before it asks the form's validation action, so `active_loop` is already the form."""
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            return False
        if event.get("event") == "active_loop" and event.get("name"):
            return True
    return False


class OrderFormValidation(FormValidationAction, ABC):
    """Shared by every order form: verification first, then the request's own slots."""

    @abstractmethod
    def name(self) -> str: ...

    def flow_slots(self, tracker: Tracker) -> list[str]:
        """The request's own slots, asked after verification."""
        return []

    # Which of the order backend's possibilities ("cancel", "change", "return") this
    # request needs; None when any verified order will do (the status).
    possibility: ClassVar[str | None] = None

    def blocked_reason(self, order: dict[str, Any]) -> str | None:
        """Why this request cannot go ahead for this order, as the order backend decided
        it (checked after verification; the bot has no rules of its own)."""
        return refusal_reason(order, self.possibility) if self.possibility else None

    async def given_with_request(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """The request's own answers the shopper gave in the message that started it
        ("exchange my ring, it's too small"), validated: given once, not asked again.
        Only what the message makes clear; nothing is said about the rest."""
        return {}

    def confirm_choices(self, tracker: Tracker) -> str:
        """What "yes" and "no" do at this request's confirmation, for an unclear answer."""
        return 'Say "yes" to submit it as summarised, or "no" and nothing is sent.'

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        events: list[EventType] = []
        starting = active_form(tracker) != self.form_name() or started_now(tracker)
        if starting:
            # The form starts: a new request. Nothing of the previous one counts, least of
            # all a "yes" whose submit never finished (the action server died in it): it
            # would submit this request before the shopper saw "To confirm".
            events = [SlotSet(s, None) for s in REQUEST_SLOTS]
            drop_candidates(tracker, REQUEST_SLOTS)
        if tracker.get_slot("verified_at") is not None and not is_verified(tracker):
            # Verified too long ago: ask again rather than trust a stale proof.
            events += [SlotSet(s, None) for s in (*VERIFICATION_SLOTS, "order_number", "email")]
        elif is_verified(tracker) and tracker.get_slot("requested_slot") is None:
            # A new request on the order verified earlier in this conversation: fresh facts
            # from the backend and the same pre-checks as after verification. (Another
            # order number in the message is validate_order_number's case: verify it.)
            incoming = order_number_of(tracker.slots_to_validate().get("order_number"))
            if incoming in (None, text_slot(tracker, "verified_order")):
                events += [SlotSet(k, v) for k, v in (await self._refresh(tracker)).items()]
        # Into the slots only, not the events: what the bot decided is not an answer of
        # the shopper's to validate (and "KNT-... doesn't look like an order number" for
        # a slot the bot just cleared would be nonsense).
        tracker.slots.update({e["name"]: e["value"] for e in events})
        if starting:
            # What the starting message already said counts as answered (rasa-sdk would
            # validate it only once asked, after verification: too late not to ask).
            given = await self.given_with_request(dispatcher, tracker, domain)
            events += [SlotSet(k, v) for k, v in given.items()]
            tracker.slots.update(given)
        return events + cast("list[EventType]", await super().run(dispatcher, tracker, domain))

    async def _refresh(self, tracker: Tracker) -> dict[str, Any]:
        try:
            order = await process_wide.order_client().lookup(
                str(text_slot(tracker, "verified_order")),
                str(verified_email(tracker)),
                shopper(tracker),
            )
        except VerificationLocked as exc:
            return locked(exc)
        except (OrderBackendUnavailable, OrderNotFound) as exc:
            log.warning("order backend unavailable: %s", exc)
            return {"request_blocked": "backend_down"}
        return self._facts_slots(order)

    def _facts_slots(self, order: dict[str, Any]) -> dict[str, Any]:
        slots: dict[str, Any] = {"order_facts": order}
        items = order.get("items") or []
        if len(items) == 1 and isinstance(items[0], dict) and "id" in items[0]:
            slots["order_item"] = str(items[0]["id"])
        reason = self.blocked_reason(order)
        if reason:
            slots["request_blocked"] = reason
        return slots

    async def required_slots(
        self,
        domain_slots: list[str],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> list[str]:
        if text_slot(tracker, "request_blocked", 100):
            return []  # the submit action explains why
        if not is_verified(tracker):
            return ["order_number", "email"]
        return ["order_number", "email", *self.flow_slots(tracker)]

    # --- verification ------------------------------------------------------------

    async def validate_order_number(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if digression(dispatcher, tracker):
            return {"order_number": None}
        number = order_number_of(value)
        if number is None:
            dispatcher.utter_message(
                text="That doesn't look like a KNT order number. It looks like KNT-1234 "
                "and is in your order confirmation e-mail."
            )
            return {"order_number": None}
        if is_verified(tracker) and number == text_slot(tracker, "verified_order"):
            return {"order_number": number}
        # A new order number: whatever was known or decided about another order goes.
        slots: dict[str, Any] = {
            "order_number": number,
            **dict.fromkeys((*VERIFICATION_SLOTS, "request_blocked", "order_item")),
        }
        email = email_of(tracker.get_slot("email"))
        if is_verified(tracker):
            slots["email"] = None  # another order: prove it is theirs too
            # What was chosen for the other order is not chosen for this one (a "yes" in
            # this message is refused by validate_confirm). What this message says about
            # the new order itself ("exchange KNT-1005 instead") is validated after this.
            # (A request that starts with this message kept only what the message said.)
            if not started_now(tracker):
                said_now = set(tracker.slots_to_validate()) - {"confirm"}
                slots |= {name: None for name in REQUEST_SLOTS if name not in said_now}
        elif email and "email" not in tracker.slots_to_validate():
            # The e-mail came earlier; with both in this message, validate_email verifies.
            slots |= await self._verify(dispatcher, tracker, number, email)
        return slots

    async def validate_email(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if digression(dispatcher, tracker):
            return {"email": None}
        if value and tracker.get_slot("email") is None:
            # validate_order_number just cleared it: the message named another order, and
            # the e-mail of the previous one proves nothing about it.
            return {"email": None}
        email = email_of(value)
        if email is None:
            dispatcher.utter_message(
                text="That doesn't look like an e-mail address. Please type the address "
                "you used for the order, like name@example.com."
            )
            return {"email": None}
        if is_verified(tracker) and email == verified_email(tracker):
            return {"email": email}
        number = order_number_of(tracker.get_slot("order_number"))
        if not number:
            return {"email": email}
        return {"email": email, **await self._verify(dispatcher, tracker, number, email)}

    async def _verify(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, number: str, email: str
    ) -> dict[str, Any]:
        client = process_wide.order_client()
        who: Shopper = shopper(tracker)
        try:
            ok = await client.verify(number, email, who)
            order = await client.lookup(number, email, who) if ok else None
        except VerificationLocked as exc:
            return locked(exc)
        except (OrderBackendUnavailable, OrderNotFound) as exc:
            log.warning("order backend unavailable during verification: %s", exc)
            return {"request_blocked": "backend_down"}
        if order is None:
            failures = int(min(max(number_slot(tracker, "verify_failures") or 0, 0), 99)) + 1
            slots: dict[str, Any] = {
                "verify_failures": float(failures),
                "order_number": None,
                "email": None,
            }
            if failures >= MAX_VERIFY_FAILURES:
                slots["request_blocked"] = "verification_failed"
            else:
                dispatcher.utter_message(text=NOT_VERIFIED)
            return slots
        return {
            "verified_order": order["order_number"],
            "verified_email": email,
            "verified_at": time.time(),
            "verify_failures": 0.0,
            "order_number": order["order_number"],
            **self._facts_slots(order),
        }

    # --- answers several requests ask for -----------------------------------------

    async def validate_order_item(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if digression(dispatcher, tracker):
            return {"order_item": None}
        items = facts(tracker).get("items", [])
        text = ascii_digits(clean_text(value, 200)).strip().lower()
        picked = item_number(text, len(items))  # "2", "the second one", "the last one"
        if picked is not None:
            return {"order_item": str(items[picked - 1]["id"])}
        # Named by a word of it ("the ruby"); a number out of the list's range is no name,
        # or "3" would pick the item whose id or price happens to hold a 3.
        named = any(c.isalpha() for c in text)
        hits = [i for i in items if named and text in " ".join(str(v).lower() for v in i.values())]
        if len(hits) == 1:
            return {"order_item": str(hits[0]["id"])}
        dispatcher.utter_message(text="Please pick the item by its number in the list.")
        return {"order_item": None}

    async def validate_confirm(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if digression(dispatcher, tracker):
            return {"confirm": None}
        named = order_number_of(tracker.slots_to_validate().get("order_number"))
        if not is_verified(tracker) or named not in (None, text_slot(tracker, "verified_order")):
            # "yes, cancel KNT-1005 instead": the yes answered the summary of another order;
            # the new one's summary is shown and asked about on its own.
            return {"confirm": None}
        text = clean_text(value, 200).strip()
        answer = yes_or_no(text)
        short = len(text.split()) <= 3 and "but" not in text.lower()
        if answer is None and short and not hedged(text):
            # A short reply the word lists miss ("spot on", "uh huh"): NLU's affirm/deny.
            # Never for a longer one, where a condition can hide ("ok if it's gold").
            answer = {"affirm": True, "deny": False}.get(latest_intent(tracker) or "")
        if answer is not None:
            return {"confirm": "yes" if answer else "no"}
        dispatcher.utter_message(
            text=f"I'm not sure that was a yes or a no. {self.confirm_choices(tracker)}",
            buttons=[{"title": "Yes", "payload": "yes"}, {"title": "No", "payload": "no"}],
        )
        return {"confirm": None}
