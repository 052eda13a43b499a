"""The store's rules, as the bot explains them when a request cannot go ahead.

Keys are the order backend's machine-readable refusal reasons, from its order view
(`possible`) before a request or its 409 answer to one: the bot has no rules of its own.
Every number and date of a rule comes from the backend's view (`return_window_days`,
`return_window_ends`), never from here.
"""

from __future__ import annotations

from typing import Any

from bot.shopper.buttons import CANCEL, CHANGE, START_RETURN, talk_to_person
from bot.shopper.dates import long_date

TALK = talk_to_person()


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
            "Returns and exchanges start once an order has shipped: you can then return or "
            f"exchange it {_window(order)}. {number} hasn't shipped yet. While it's in "
            "production you can still cancel it, or make the one allowed change (gemstone, "
            "metal colour or ring size).",
            [CANCEL, CHANGE, TALK],
        )
    if reason == "outside_return_window":
        ended = long_date(extra.get("window_ended_on") or order.get("return_window_ends"))
        return (
            f"You can return or exchange an item {_window(order)}; for {number} that window "
            f"ended on {ended}. If something is wrong with the "
            "piece, our free lifetime warranty covers manufacturing flaws, and a person from "
            "our team can help with that.",
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
            "After submitting an order you have one chance to change a single item, and "
            f"{number} has already used it. A person from our team can look at what's "
            "possible.",
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
            f"{number} has already shipped, so it can't be cancelled: orders can be cancelled "
            f"only while they are still in production. You can return it {_window(order)} "
            "for a full refund.",
            [START_RETURN, TALK],
        )
    if reason == "invalid_value":
        allowed = ", ".join(extra.get("allowed", []))
        return (f"That isn't one of the options. You can choose: {allowed}.", [])
    return (
        "Sorry, that request can't go ahead as it is. A person from our team can help.",
        [TALK],
    )
