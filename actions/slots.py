"""The slot groups the order capabilities share: what verification proves, and what one
request collects (constants only, so every capability module reads them from here)."""

from __future__ import annotations

# The proof that the shopper owns an order, and the order's facts from the backend.
VERIFICATION_SLOTS = ("verified_order", "verified_email", "verified_at", "order_facts")
# What is forgotten when the backend refuses to check these details at all.
FORGET_VERIFICATION = dict.fromkeys((*VERIFICATION_SLOTS, "order_number", "email", "order_item"))
# What one request collects and decides: forgotten when it is submitted (the submit
# actions) and when a new one starts (the verified order stays for the next request).
REQUEST_SLOTS = (
    "order_item",
    "return_kind",
    "return_reason",
    "exchange_size",
    "change_attribute",
    "change_value",
    "confirm",
    "request_blocked",
)
