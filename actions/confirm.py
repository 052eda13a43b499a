"""The confirmation every request ends with: the question, worded by the request's own
capability module, and a submit whose outcome was lost run again."""

from __future__ import annotations

import logging
from collections.abc import Callable

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import cancellation, changes, returns
from actions.inputs import active_form, last_form, text_slot
from bot.shopper.buttons import YES_NO

log = logging.getLogger(__name__)

# Each request form: the question that confirms it, and the submit action it ends in.
QUESTIONS: dict[str, Callable[[Tracker], str]] = {
    "return_form": returns.confirm_question,
    "change_form": changes.confirm_question,
    "cancel_form": cancellation.confirm_question,
}
SUBMITS: dict[str, type[Action]] = {
    "return_form": returns.ActionSubmitReturn,
    "change_form": changes.ActionSubmitChange,
    "cancel_form": cancellation.ActionSubmitCancel,
}


class ActionAskConfirm(Action):
    def name(self) -> str:
        return "action_ask_confirm"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        question = QUESTIONS.get(active_form(tracker) or "", returns.confirm_question)
        dispatcher.utter_message(text=question(tracker), buttons=YES_NO)
        return []


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
