"""Messages and payloads several actions send (helpers, not actions)."""

from __future__ import annotations

from rasa_sdk.executor import CollectingDispatcher

from bot import services

TALK_TO_PERSON = {"title": "Talk to a person", "payload": "/human_handoff"}
# Why the bot offered a person, carried by the button itself (an entity in its payload), so
# the staff queue shows the real reason and not just "the shopper asked".
# The reasons a "Talk to a person" button may carry; `assistant_error` is the gateway's,
# on the notice for a message the assistant could not answer (bot/gateway/chat.py).
BUTTON_HANDOFF_REASONS = frozenset(
    {"faq_unanswered", "order_system_down", "verification_locked", "assistant_error"}
)


def talk_to_person(reason: str) -> dict[str, str]:
    """The "Talk to a person" button, for a hand-off the bot itself suggested."""
    assert reason in BUTTON_HANDOFF_REASONS, reason
    return {
        "title": "Talk to a person",
        "payload": f'/human_handoff{{"handoff_reason": "{reason}"}}',
    }


def hand_off(dispatcher: CollectingDispatcher, reason: str, text: str | None = None) -> None:
    """Tell the shopper a person takes over, and tell the gateway (custom payload)."""
    email = services.settings().support_email
    dispatcher.utter_message(
        text=text
        or (
            "I'm passing you to a person from our team: they will see this conversation "
            f"and reply here. You can also write to {email}."
        )
    )
    dispatcher.utter_message(json_message={"handoff": {"reason": reason}})
