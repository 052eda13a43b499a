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
    new.__dict__[MEMO] = tracker.__dict__.setdefault(MEMO, {})
    return new


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
