"""The buttons the bot offers shoppers (the one "Talk to a person" among them)."""

from __future__ import annotations

# Why the bot offered a person, carried by the button itself (an entity in its payload), so
# the staff queue shows the real reason and not just "the shopper asked".
# The reasons a "Talk to a person" button may carry; `assistant_error` is the gateway's,
# on the notice for a message the assistant could not answer (bot/gateway/chat.py).
BUTTON_HANDOFF_REASONS = frozenset(
    {"faq_unanswered", "order_system_down", "verification_locked", "assistant_error"}
)

START_RETURN = {"title": "Start a return", "payload": "/start_return"}
CANCEL = {"title": "Cancel my order", "payload": "/cancel_order"}
CHANGE = {"title": "Change my order", "payload": "/change_order"}
YES_NO = [{"title": "Yes", "payload": "yes"}, {"title": "No", "payload": "no"}]


def talk_to_person(reason: str | None = None) -> dict[str, str]:
    """The "Talk to a person" button; with `reason` when the bot itself suggested it
    (without, the hand-off counts as the shopper's own wish)."""
    if reason is None:
        return {"title": "Talk to a person", "payload": "/human_handoff"}
    assert reason in BUTTON_HANDOFF_REASONS, reason
    return {
        "title": "Talk to a person",
        "payload": f'/human_handoff{{"handoff_reason": "{reason}"}}',
    }
