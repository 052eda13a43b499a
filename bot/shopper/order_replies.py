"""What the bot tells a shopper about their order, from the order backend's view.

Pure functions of the order view (a dict as /v1/orders/lookup returns it), so every
sentence is testable without a server. Every number and date of the store's rules in them
is the backend's (its view, its answer to a request): none is written here.
"""

from __future__ import annotations

from typing import Any

from bot.shopper.dates import day, long_date


def _item(order: dict[str, Any]) -> str:
    items = order.get("items") or []
    if len(items) != 1:
        return f"{len(items)} items"
    return describe_item(items[0])


def describe_item(item: dict[str, Any]) -> str:
    """ "Solitaire ring, sapphire, white gold, size 6" """
    parts = [item.get("product") or "item", item.get("gemstone"), item.get("metal")]
    if item.get("ring_size"):
        parts.append(f"size {item['ring_size']}")
    return ", ".join(str(p) for p in parts if p)


# --- when the bot can't do what was asked --------------------------------------------


def verification_locked(support_email: str) -> str:
    """Too many failed checks for these details: the backend refused to check at all, so
    this must never sound like "wrong details"."""
    return (
        "I can't check this order in the chat right now. Please write to "
        f"{support_email} and our team will help you with it, or talk to a person here."
    )


def not_submitted() -> str:
    """Only when the backend confirmed that nothing was written."""
    return (
        "I can't reach our order system right now, so nothing has been submitted. "
        "Please try again in a few minutes, or a person from our team can help."
    )


def write_unconfirmed(support_email: str) -> str:
    """The request was sent, and asking again could not tell whether it went through."""
    return (
        "I sent your request, but our order system didn't confirm it, so I can't tell "
        "whether it went through. Please don't submit it again: a person from our team "
        f"will check and reply here. You can also write to {support_email}."
    )


def return_done(done: dict[str, Any], kind: str, item: str) -> str:
    """A return or exchange the backend confirmed, with the label and refund times it gave."""
    text = f"Done: your {kind} request for {item} is {done.get('rma_number')}."
    label = done.get("label_within_business_days")
    text += (
        f" You'll receive an insured shipping label by e-mail within {label} business days; "
        if label
        else " You'll receive an insured shipping label by e-mail; "
    ) + "use it to send the item back to us."
    refund = done.get("refund_within_days")
    if kind == "return" and refund:
        text += (
            f" Your refund is processed within {refund} days after we've received the "
            "item and checked that it is in good condition."
        )
    return text


def status_message(order: dict[str, Any]) -> str:
    number = order["order_number"]
    status = order["status"]
    what = _item(order)
    payment = order.get("payment") or {}
    shipment = order.get("shipment") or {}
    if status == "cancelled":
        return f"Order {number} ({what}) was cancelled."
    if status == "awaiting_payment":
        text = f"Order {number} ({what}) is waiting for payment before we start crafting it."
        # The plan's parts are the backend's; without them no count is made up.
        if payment.get("method") == "in_house" and "parts_total" in payment:
            paid, total = payment.get("parts_paid", 0), payment["parts_total"]
            # When crafting starts is the backend's rule: it says so by the status.
            text += f" You've paid {paid} of {total} parts of your in-house payment plan."
        return text
    if status == "in_production":
        text = f"Order {number} ({what}) is being crafted."
        eta = order.get("crafting_eta") or {}
        earliest, latest = day(eta.get("earliest")), day(eta.get("latest"))
        if earliest and latest:
            text += (
                f" We expect it to be ready between {long_date(earliest)} and {long_date(latest)}."
            )
        text += " When it ships you'll get a tracking number by e-mail."
        if payment.get("method") == "in_house" and payment.get("parts_paid", 0) < payment.get(
            "parts_total", 0
        ):
            text += (
                f" Your payment plan: {payment['parts_paid']} of {payment['parts_total']} parts "
                "paid."
            )
        return text
    shipped = day(shipment.get("shipped_at"))
    carrier = shipment.get("carrier") or "the carrier"
    tracking = shipment.get("tracking_number")
    text = f"Order {number} ({what}) shipped"
    text += f" on {long_date(shipped)}" if shipped else ""
    text += f" with {carrier}" + (f", tracking number {tracking}." if tracking else ".")
    delivered = day(shipment.get("delivered_at"))
    if status == "delivered" and delivered:
        text += f" It was delivered on {long_date(delivered)}."
    else:
        text += f" {carrier} makes three delivery attempts and needs an adult's signature."
    window = day(order.get("return_window_ends"))
    if window and order.get("returnable"):
        text += f" You can return or exchange it until {long_date(window)}."
    elif window:
        text += f" Its return window ended on {long_date(window)}."
    return text
