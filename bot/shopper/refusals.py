"""The store's rules, as the bot explains them when a request cannot go ahead.

Keys are the order backend's machine-readable refusal reasons, from its order view
(`possible`) before a request or its 409 answer to one: the bot has no rules of its own.
Every number and date of a rule comes from the backend's view (`return_window_days`,
`return_window_ends`), never from here; a rule without a number (one change per order,
cancelling while in production, the lifetime warranty) is quoted from the store's FAQ
text, so editing the FAQ changes what the bot says.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from bot.shopper import process_wide
from bot.shopper.buttons import CANCEL, CHANGE, START_RETURN, talk_to_person
from bot.shopper.dates import long_date

log = logging.getLogger(__name__)

TALK = talk_to_person()

# (FAQ entry, a phrase of the sentence to quote). Only sentences without a policy number:
# numbers are the backend's, and the FAQ's "30 days" would contradict a changed window.
CANCEL_RULE = ("returns_cancel_order", "production phase")
CHANGE_RULE = ("orders_change_item", "one chance")
WARRANTY_RULE = ("orders_warranty_other_jewelry", "lifetime warranty")
QUOTED_RULES = (CANCEL_RULE, CHANGE_RULE, WARRANTY_RULE)

# A sentence ends at . ! or ? followed by a space and a capital (so "e.g. loose" and
# "etc., " stay inside theirs).
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")
_DIGIT = re.compile(r"\d")


def store_says(rule: tuple[str, str]) -> str:
    """The sentence of the store's FAQ answer that states `rule`, verbatim; "" (and a
    warning in the log) when the FAQ no longer has it as a sentence without a number, or
    cannot be read, so a reply loses a sentence instead of the action failing."""
    entry_id, phrase = rule
    try:
        answer = process_wide.faq_corpus().get(entry_id).answer
    except Exception:  # a missing entry, a broken FAQ file: the reply goes on without it
        log.warning("FAQ entry %r can't be read: a refusal skips its rule", entry_id)
        return ""
    for sentence in _SENTENCE_END.split(answer.strip()):
        if phrase.lower() in sentence.lower():
            if _DIGIT.search(sentence):  # numbers are the backend's: never the FAQ's
                break
            return sentence
    log.warning("FAQ entry %r no longer says %r: a refusal skips that rule", entry_id, phrase)
    return ""


def _join(*parts: str) -> str:
    return " ".join(part for part in parts if part)


def refusal_reason(order: dict[str, Any], request: str) -> str | None:
    """The backend's reason why `request` ("cancel", "change", "return") can't go ahead
    for this order now; None when it can, or when the view doesn't say (the backend then
    decides when the request is sent)."""
    possible = order.get("possible")
    verdict = possible.get(request) if isinstance(possible, dict) else None
    if not isinstance(verdict, dict) or verdict.get("possible") is not False:
        return None
    reason = verdict.get("reason")
    return reason if isinstance(reason, str) and reason else "refused"


def _window(order: dict[str, Any]) -> str:
    """ "within 30 days from the shipping-confirmation date", with the backend's number."""
    days = order.get("return_window_days")
    if isinstance(days, int) and not isinstance(days, bool):
        return f"within {days} days from the shipping-confirmation date"
    return "within the return window after the shipping-confirmation date"


def explain(
    reason: str, order: dict[str, Any], extra: dict[str, Any] | None = None
) -> tuple[str, list[dict[str, str]]]:
    """(text, buttons) for a refused or impossible request."""
    number = order.get("order_number", "your order")
    extra = extra or {}
    if reason == "not_shipped":
        return (
            _join(
                f"{number} hasn't shipped yet: once it has, you can return or exchange it "
                f"{_window(order)}.",
                store_says(CANCEL_RULE),
                store_says(CHANGE_RULE),
            ),
            [CANCEL, CHANGE, TALK],
        )
    if reason == "outside_return_window":
        ended = long_date(extra.get("window_ended_on") or order.get("return_window_ends"))
        return (
            _join(
                f"You can return or exchange an item {_window(order)}; for {number} that "
                f"window ended on {ended}.",
                store_says(WARRANTY_RULE),
                "If something is wrong with the piece, a person from our team can help.",
            ),
            [TALK],
        )
    if reason == "return_already_open":
        return (
            f"There's already an open return for that item of {number}; a person from "
            "our team can tell you where it stands.",
            [TALK],
        )
    if reason == "change_already_used":
        return (
            _join(
                store_says(CHANGE_RULE),
                f"{number} has already had its change, so it can't be changed again. A "
                "person from our team can look at what's possible.",
            ),
            [TALK],
        )
    if reason == "order_cancelled" or (
        reason == "not_cancellable" and order.get("status") == "cancelled"
    ):
        return (f"{number} is already cancelled.", [TALK])
    if reason == "order_shipped":
        return (
            f"{number} has already shipped, so it can't be changed any more. You can "
            f"return or exchange it {_window(order)}.",
            [START_RETURN, TALK],
        )
    if reason == "not_cancellable":
        return (
            _join(
                f"{number} has already shipped, so it can't be cancelled.",
                store_says(CANCEL_RULE),
                f"You can return it {_window(order)}.",
            ),
            [START_RETURN, TALK],
        )
    if reason == "invalid_value":
        allowed = ", ".join(extra.get("allowed", []))
        return (f"That isn't one of the options. You can choose: {allowed}.", [])
    return (
        "Sorry, that request can't go ahead as it is. A person from our team can help.",
        [TALK],
    )
