"""The JSON that Rasa posts to the action server, encoded with ujson.

Every custom action sends the whole tracker (all events of the session) to the action
server; our actions read those events (actions/inputs.py `offered_before`), so the
payload stays whole. Rasa hands it to aiohttp, which encodes it with `json.dumps`:
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
from typing import Any

import ujson


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
