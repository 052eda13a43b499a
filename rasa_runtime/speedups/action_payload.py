"""The JSON that Rasa posts to the action server: the recent events only, encoded with ujson.

Rasa sends the whole tracker (every event of the conversation) with every custom action
call, so each call of a long conversation cost more than the last. Our actions read
events only around the latest messages (actions/inputs.py `offered_before`: the bot's
reply before the latest message; actions/verification.py `started_now`: since the latest
message; rasa-sdk's `slots_to_validate()`: the slot events after the last action); the
slots, the latest message, the active loop and the rest of the tracker's state are sent
whole, as Rasa computes them. So `send_recent_events` sends the events from the
RECENT_USER_TURNS-th last user message on (one turn more than those readers need), plus
the latest form activation when it is older (`last_form`, which runs a lost submit
again, reads the name of the form started last). What came between that activation and
the window (the form's end, a restart) is not sent: an action that needs more of the
history than the last three messages must not read it from `tracker.events` (keep it in
a slot instead), and rasa-sdk's `applied_events()` sees only this window.

Rasa hands the payload to aiohttp, which encodes it with `json.dumps`:
measured 1.6 ms for the 54 KB of a 110-event tracker (bench/turn_cost.py's conversations
at turn 40), 0.8 ms with ujson, and it grows with every turn. A whole call of a custom
action in Rasa (encode, post, read the reply) on a 193-event tracker: 3.1 ms p50 with
`json.dumps`, 2.1 ms with ujson (400 calls each, interleaved, to a bare HTTP server).
ujson is already in Rasa's runtime (Rasa requires it); the action server already parses
the body with it (Sanic's default when ujson is installed).

The text differs only in the separators (no spaces); parsed back it is the same JSON:
floats in their shortest round-tripping form, as Python prints them; non-ASCII escaped as
`\\uXXXX`; None as null; big integers, NaN and Infinity as `json.dumps` writes them.
Whatever ujson refuses goes to `json.dumps`, which then encodes it or raises its own
error, as before. One difference is left: ujson
encodes an object that has a `__json__` or `toDict` method, which `json.dumps` refuses;
Rasa's payload is made of dicts, lists, strings, numbers and None only (`as_dict` of its
events), and a payload that `json.dumps` refused never reached the action server anyway.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import ujson

# Events of the last three user messages (and what followed them) go to the action server.
RECENT_USER_TURNS = 3


def dumps(payload: Any) -> str:
    """`payload` as JSON text that parses back to what `json.dumps(payload)` does."""
    try:
        return ujson.dumps(payload, escape_forward_slashes=False, reject_bytes=True)
    except (TypeError, OverflowError, ValueError):
        return json.dumps(payload)


def encode_action_payloads_with_ujson() -> None:
    """Every aiohttp session Rasa opens to an endpoint (the action server's among them)
    encodes a `json=` body with `dumps`; all else about the session is Rasa's."""
    import aiohttp
    from rasa.utils.endpoints import EndpointConfig

    original = EndpointConfig.session
    if getattr(original, "encodes_with_ujson", False):
        return  # installed already

    def session(self: EndpointConfig) -> aiohttp.ClientSession:
        made: aiohttp.ClientSession = original(self)
        # aiohttp 3.9 reads this attribute (set from its `json_serialize` argument) for
        # every request's `json=` body; setting it keeps the rest of Rasa's session.
        if not hasattr(made, "_json_serialize"):
            raise RuntimeError("aiohttp changed: rasa_runtime/speedups/action_payload.py")
        made._json_serialize = dumps
        return made

    session.encodes_with_ujson = True  # type: ignore[attr-defined]
    EndpointConfig.session = session  # type: ignore[method-assign]


def recent_events(events: Sequence[Any], user_turns: int = RECENT_USER_TURNS) -> list[Any]:
    """The events from the `user_turns`-th last user message on (all of them when the
    conversation has fewer user messages), preceded by the latest form activation when
    that is older: `last_form` (actions/inputs.py) finds the form whose submit was lost
    from it, however long the form took."""
    from rasa.shared.core.events import ActiveLoop, UserUttered

    tail: list[Any] = []
    seen = 0
    form_in_tail = False
    backwards = reversed(events)
    for event in backwards:
        tail.append(event)
        if isinstance(event, ActiveLoop) and event.name:
            form_in_tail = True
        if isinstance(event, UserUttered):
            seen += 1
            if seen == user_turns:
                break
    if not form_in_tail:
        # A walk over the older events' types only: nothing is serialised but the one.
        activation = next((e for e in backwards if isinstance(e, ActiveLoop) and e.name), None)
        if activation is not None:
            tail.append(activation)
    tail.reverse()
    return tail


def send_recent_events() -> None:
    """Rasa's request to the action server (`RemoteAction._action_call_format`, Rasa 3.6)
    carries the recent events instead of all of them; every other field is Rasa's."""
    import rasa
    from rasa.core.actions.action import RemoteAction
    from rasa.shared.core.trackers import EventVerbosity

    original = RemoteAction._action_call_format
    if getattr(original, "sends_recent_events", False):
        return  # installed already
    if not rasa.__version__.startswith("3.6."):
        raise RuntimeError(
            f"rasa_runtime/speedups/action_payload.py was written for Rasa 3.6, not "
            f"{rasa.__version__}: check RemoteAction._action_call_format and update it"
        )

    def _action_call_format(self: Any, tracker: Any, domain: Any) -> dict[str, Any]:
        state = tracker.current_state(EventVerbosity.NONE)
        state["events"] = [event.as_dict() for event in recent_events(tracker.events)]
        result = {
            "next_action": self._name,
            "sender_id": tracker.sender_id,
            "tracker": state,
            "version": rasa.__version__,
        }
        if not self._is_selective_domain_enabled() or (
            domain.does_custom_action_explicitly_need_domain(self.name())
        ):
            result["domain"] = domain.as_dict()
        return result

    _action_call_format.sends_recent_events = True  # type: ignore[attr-defined]
    RemoteAction._action_call_format = _action_call_format
