"""Answer policy questions from the store's FAQ (also the NLU fallback's last resort)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.handoff import hand_off
from actions.inputs import latest_intent, latest_text, number_slot, offered_before
from bot.settings import get_settings
from bot.shopper import process_wide
from bot.shopper.buttons import talk_to_person
from bot.shopper.free_answers import yes_or_no

log = logging.getLogger(__name__)

MISSES_BEFORE_OFFERING_A_PERSON = 2
# Intents that reach this action only because nothing was asked. A short answer with no
# question mark ("yes", "KNT-1001", "size 7") is not a question we failed, so the bot just
# asks how it can help; "insured?" or a whole sentence ("I'd like to know about the
# warranty on my ring") is looked up.
TERSE_INTENTS = {"affirm", "inform"}
TERSE_MAX_WORDS = 3


def is_terse(intent: str | None, text: str) -> bool:
    return intent in TERSE_INTENTS and "?" not in text and len(text.split()) <= TERSE_MAX_WORDS


def answer_digression(dispatcher: CollectingDispatcher, question: str) -> None:
    """Answer a policy question asked in the middle of a flow (the flow then goes on)."""
    try:
        result = process_wide.faq_engine().search(question)
    except Exception:
        log.exception("FAQ retrieval failed")
        result = None
    if result is not None and result.entry is not None:
        dispatcher.utter_message(text=result.entry.answer)
    else:
        email = get_settings().support_email
        dispatcher.utter_message(
            text=f"I'm not sure about that one; you can ask a person or write to {email}."
        )


class ActionAnswerFaq(Action):
    def __init__(self) -> None:
        # The action server creates its actions once, at start: load the FAQ engine then
        # (about a second), so the first shopper's question is not the one that waits.
        # A broken corpus or model is logged here and answered with a hand-off later.
        try:
            process_wide.faq_engine()
        except Exception:
            log.exception("FAQ engine could not be loaded at start")

    def name(self) -> str:
        return "action_answer_faq"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        if latest_intent(tracker) == "affirm":
            # Imported here: confirm imports this module (through the request forms'
            # verification, which answers policy questions asked mid-flow).
            from actions.confirm import finish_lost_submit

            lost = await finish_lost_submit(dispatcher, tracker, domain)
            if lost is not None:
                return lost
        question = latest_text(tracker)
        if offered_before(tracker, "/human_handoff") and yes_or_no(question):
            # "yeah" to "Would you like a person from our team to take over?"
            hand_off(dispatcher, "faq_unanswered")
            return [SlotSet("faq_misses", 0.0)]
        if is_terse(latest_intent(tracker), question):
            dispatcher.utter_message(response="utter_how_can_i_help")
            return []
        try:
            # Retrieval is CPU work (~5 ms); keep the event loop free for other chats.
            result = await asyncio.to_thread(process_wide.faq_engine().search, question)
        except Exception:
            log.exception("FAQ retrieval failed")
            hand_off(dispatcher, "faq_error", "Sorry, I can't look that up right now.")
            return []
        if result.entry is not None:
            buttons = []
            if result.entry.follow_up:
                buttons.append(result.entry.follow_up.model_dump())
            dispatcher.utter_message(text=result.entry.answer, buttons=buttons)
            return [SlotSet("faq_misses", 0.0)]

        if latest_intent(tracker) in TERSE_INTENTS:
            dispatcher.utter_message(response="utter_how_can_i_help")
            return []
        misses = int(min(max(number_slot(tracker, "faq_misses") or 0, 0), 100)) + 1
        self._record(tracker, question, result)
        email = get_settings().support_email
        if misses >= MISSES_BEFORE_OFFERING_A_PERSON:
            dispatcher.utter_message(
                text=(
                    "I couldn't find an answer to that either, sorry. Would you like a person "
                    f"from our team to take over? You can also write to {email}."
                ),
                buttons=[
                    talk_to_person("faq_unanswered"),
                    {"title": "No, thanks", "payload": "/deny"},
                ],
            )
        else:
            dispatcher.utter_message(
                text=(
                    "I'm sorry, I don't know the answer to that. A person from our team can "
                    f'help: tap "Talk to a person" or write to {email}.'
                ),
                buttons=[talk_to_person("faq_unanswered")],
            )
        # Tells the gateway (metrics, staff) that the assistant did not know; not shown.
        dispatcher.utter_message(json_message={"fallback": {"misses": misses}})
        return [SlotSet("faq_misses", float(misses))]

    @staticmethod
    def _record(tracker: Tracker, question: str, result: Any) -> None:
        closest = result.alternatives[0] if result.alternatives else None
        try:
            process_wide.unanswered_log().record(
                sender_id=tracker.sender_id,
                question=question,
                intent=latest_intent(tracker),
                closest_faq_id=closest.faq_id if closest else None,
                closest_score=closest.score if closest else None,
            )
        except Exception:
            # Losing the log entry must not cost the shopper their answer; it is logged.
            log.exception("could not record unanswered question %r", question)
