"""The store's rules, as the bot explains them when a request cannot go ahead.

Keys are the order backend's machine-readable refusal reasons (plus the bot's own
pre-checks); every text quotes the store's FAQ rules, never new policy.
"""

from __future__ import annotations

from typing import Any

from bot.shopper.buttons import CANCEL, CHANGE, START_RETURN, talk_to_person
from bot.shopper.dates import long_date

TALK = talk_to_person()


def explain(
    reason: str, order: dict[str, Any], extra: dict[str, Any] | None = None
) -> tuple[str, list[dict[str, str]]]:
    """(text, buttons) for a refused or impossible request."""
    number = order.get("order_number", "your order")
    extra = extra or {}
    if reason == "not_shipped":
        return (
            f"Returns and exchanges start once an order has shipped: you then have 30 days "
            f"from the shipping-confirmation date. {number} hasn't shipped yet. While it's in "
            "production you can still cancel it, or make the one allowed change (gemstone, "
            "metal colour or ring size).",
            [CANCEL, CHANGE, TALK],
        )
    if reason == "outside_return_window":
        ended = long_date(extra.get("window_ended_on") or order.get("return_window_ends"))
        return (
            "You can return or exchange an item within 30 days from the shipping-confirmation "
            f"date; for {number} that window ended on {ended}. If something is wrong with the "
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
    if reason in ("order_shipped", "order_shipped_change"):
        return (
            f"{number} has already shipped, so it can't be changed any more. You can "
            "return or exchange it within 30 days from the shipping-confirmation date.",
            [START_RETURN, TALK],
        )
    if reason in ("not_cancellable", "order_shipped_cancel"):
        return (
            f"{number} has already shipped, so it can't be cancelled: orders can be cancelled "
            "only while they are still in production. You can return it within 30 days from "
            "the shipping-confirmation date for a full refund.",
            [START_RETURN, TALK],
        )
    if reason in ("order_cancelled", "already_cancelled"):
        return (f"{number} is already cancelled.", [TALK])
    if reason == "invalid_value":
        allowed = ", ".join(extra.get("allowed", []))
        return (f"That isn't one of the options. You can choose: {allowed}.", [])
    return (
        "Sorry, that request can't go ahead as it is. A person from our team can help.",
        [TALK],
    )
