"""A cheap copy of a `DialogueStateTracker` that behaves exactly like the original.

Rasa copies a tracker by replaying every event into a new one (`tracker.copy()`), which
costs as much as the conversation is long. Here the state is copied as it is: the same
event objects in a new list, and copies of everything Rasa changes in place on a tracker
(the slots, the active loop, the latest action). The events themselves are shared: Rasa
changes an event in place only as `EntitiesAdded` and `DefinePrevUserUtteredFeaturization`
applied to `tracker.latest_message`, which in a turn is that turn's new message; replaying
older events applies again the same idempotent changes they already hold. (The tracker
cache checks that its latest message was not changed by a turn that was never saved.)
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

MEMO = "_knt_memo"  # see dialogue_states.py: shared by a tracker and its copies


def copy_tracker(tracker: Any) -> Any:
    """A tracker equal to `tracker` in every attribute, safe to change independently."""
    new = object.__new__(type(tracker))
    new.__dict__.update(tracker.__dict__)
    new.events = tracker._create_events(list(tracker.events))
    new.slots = type(tracker.slots)()
    for name, slot in tracker.slots.items():
        new.slots[name] = copy_plain(slot)
    if tracker.active_loop is not None:
        new.active_loop = dataclasses.replace(tracker.active_loop)
    if isinstance(tracker.latest_action, dict):
        new.latest_action = dict(tracker.latest_action)
    latest = tracker.latest_message
    if latest is not None and not any(e is latest for e in reversed(new.events)):
        # An empty placeholder (no user message yet): EntitiesAdded may still change it.
        new.latest_message = copy_plain(latest)
        new.latest_message.entities = list(latest.entities)
        new.latest_message.parse_data = dict(latest.parse_data)
    new.__dict__[MEMO] = tracker.__dict__.setdefault(MEMO, {})
    return new


def cheap_tracker_copy() -> None:
    """`DialogueStateTracker.copy()` without replaying every event.

    Rasa's processor copies the tracker before every action it runs (a temporary tracker,
    in case the action is rejected): at turn 40 a replay of 243 events, twice a turn.
    `copy()` is that replay into a new tracker (`travel_back_in_time(inf)`), so its result
    is this tracker's state as its events made it, with the new tracker's defaults for
    what events do not set (model and assistant id, sender source). The one thing Rasa
    changes outside the events is `followup_action` (the processor clears it before
    running it), so it is taken from the events: the latest of the events that set it.
    Events that replay the history themselves (reverts), a story export (its replay
    writes a file) or a tracker that keeps only its latest events: Rasa's own copy."""
    from rasa.shared.constants import DEFAULT_SENDER_ID
    from rasa.shared.core.constants import ACTION_LISTEN_NAME, ACTION_SESSION_START_NAME
    from rasa.shared.core.events import (
        ActionExecuted,
        ActionReverted,
        FollowupAction,
        Restarted,
        SessionStarted,
        StoryExported,
        UserUtteranceReverted,
        UserUttered,
    )
    from rasa.shared.core.trackers import DialogueStateTracker

    original = DialogueStateTracker.copy
    if getattr(original, "knt_cheap", False):
        return
    unknown = object()

    def replayed_followup(tracker: Any) -> Any:
        for event in reversed(tracker.events):
            kind = type(event)
            if kind is ActionExecuted or kind is UserUttered:
                return None
            if kind is FollowupAction:
                return event.action_name
            if kind is Restarted:
                return ACTION_SESSION_START_NAME
            if kind is SessionStarted:
                return ACTION_LISTEN_NAME
            if kind in (UserUtteranceReverted, ActionReverted, StoryExported):
                return unknown
            if isinstance(event, (ActionExecuted, UserUttered, FollowupAction)):
                return unknown  # a subclass: let Rasa replay it
        return ACTION_LISTEN_NAME

    def copy(self: DialogueStateTracker) -> DialogueStateTracker:
        followup = replayed_followup(self)
        if (
            followup is unknown
            or self._max_event_history is not None
            or any(type(e) is StoryExported for e in self.events)
        ):
            return original(self)
        new: DialogueStateTracker = copy_tracker(self)
        new.sender_id = self.sender_id or DEFAULT_SENDER_ID
        new.sender_source = None
        new.model_id = None
        new.assistant_id = None
        new.followup_action = followup
        if type(new.slots) is not dict:
            new.slots = dict(new.slots)  # init_copy makes a domain-less tracker's slots a dict
        return new

    copy.knt_cheap = True  # type: ignore[attr-defined]
    DialogueStateTracker.copy = copy  # type: ignore[method-assign]


_PLAIN: dict[type, bool] = {}
_OWN_COPYING = {
    "__copy__",
    "__reduce__",
    "__reduce_ex__",
    "__getstate__",
    "__setstate__",
}


def copy_plain(obj: Any) -> Any:
    """What `copy.copy` does for a plain object (no class in its MRO but `object` defines
    how it is copied or pickled, as Rasa's slots), without copy's generic machinery (8 of
    its 10 us); anything else goes to `copy.copy`."""
    cls = type(obj)
    plain = _PLAIN.get(cls)
    if plain is None:
        plain = _PLAIN[cls] = not any(
            _OWN_COPYING & vars(k).keys() or vars(k).get("__slots__") for k in cls.__mro__[:-1]
        )  # (abc.ABC's empty __slots__ puts nothing outside __dict__)
    if not plain:
        return copy.copy(obj)
    new = object.__new__(cls)
    new.__dict__.update(obj.__dict__)
    return new
