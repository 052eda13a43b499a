"""rasa_runtime/speedups/action_payload.py (issue 11): the tracker Rasa posts to the action
server carries the events of the last three user messages only and is encoded with ujson;
everything else the action server receives is the same JSON as before.

Through Rasa's own path (RemoteAction.run, its EndpointConfig and aiohttp session) to a
real HTTP server in Rasa's Python (.venv-rasa), as the launcher runs it: the body that
arrives is ujson's text (the hook is installed) and parses to exactly what Rasa's
`json.dumps` of the same payload parses to, with floats, non-ASCII text, slashes and None;
compared with the unpatched request, only the events are shorter. What ujson refuses is
left to `json.dumps`.
"""

from __future__ import annotations

import json

from tests.test_rasa_runtime_turn_cost import in_rasa

THROUGH_RASA = """
import asyncio, json, math
from aiohttp import web
from rasa.core.actions.action import RemoteAction
from rasa.core.channels import CollectingOutputChannel
from rasa.core.nlg import TemplatedNaturalLanguageGenerator
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig

domain = Domain.load("domain.yml")
slot = domain.slots[0].name
events = [ActionExecuted("action_listen")]
for turn in range(30):
    events += [
        UserUttered(
            f"Zoë's ring №{turn} — size 6½ / 7? 😀 \\u2028 \\"quoted\\"",
            {"name": "ask_resize", "confidence": 0.1 + turn / 3},
            [{"entity": "size", "value": 6.5, "start": 1, "end": 2, "confidence": 1e-7}],
            timestamp=1700000000.123456 + turn,
        ),
        ActionExecuted("action_faq", policy="RulePolicy", confidence=1 / 3),
        BotUttered("Voilà: https://example.com/a/b", {"buttons": None}, {"x": 1e16}),
        SlotSet(slot, None),
        ActionExecuted("action_listen"),
    ]
tracker = DialogueStateTracker.from_dict("s/ü", [e.as_dict() for e in events], domain.slots)
received = []
unpatched = []

async def handle(request):
    received.append(await request.read())
    return web.json_response({"events": [], "responses": []})

async def call(action, port):
    endpoint = EndpointConfig(f"http://127.0.0.1:{port}/webhook")
    await RemoteAction(action, endpoint).run(
        CollectingOutputChannel(), TemplatedNaturalLanguageGenerator(domain.responses),
        tracker, domain,
    )

async def main():
    app = web.Application(client_max_size=10 * 2**20)
    app.router.add_post("/webhook", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    await call("action_before", port)
    whole = RemoteAction("action_before", None)._action_call_format(tracker, domain)
    unpatched.append(json.dumps(whole))
    from rasa_runtime.launch import flatten_turn_cost
    flatten_turn_cost()
    await call("action_after", port)
    await runner.cleanup()

asyncio.run(main())
from rasa_runtime.speedups.action_payload import dumps
expected = RemoteAction("action_after", None)._action_call_format(tracker, domain)
unencodable = object()
try:
    dumps([unencodable])
    refused = None
except TypeError as exc:
    refused = str(exc)
print(json.dumps({
    "before": received[0].decode(),
    "after": received[1].decode(),
    "rasa_json": json.dumps(expected),
    "rasa_json_before": unpatched[0],
    "ujson": dumps(expected),
    "events": len(tracker.events),
    "fallbacks": [dumps([2**70]), dumps([math.nan, math.inf])],
    "refused": refused,
}))
"""


def test_action_server_receives_the_same_json_encoded_by_ujson() -> None:
    result = in_rasa(THROUGH_RASA)
    before, after = result["before"], result["after"]
    # Unpatched, aiohttp's json.dumps (its ", " separators); patched, ujson's text.
    assert before == result["rasa_json_before"]
    assert after == result["ujson"]
    assert after != result["rasa_json"]
    # The same JSON, every value as Rasa's json.dumps wrote it.
    sent = json.loads(after)
    assert sent == json.loads(result["rasa_json"])
    # Unpatched Rasa sent every event; patched, the events from the third last user
    # message on (5 events a turn here), and every other field as it was.
    whole = json.loads(before)
    assert len(whole["tracker"]["events"]) == result["events"] == 151
    assert sent["tracker"]["events"] == whole["tracker"]["events"][-15:]
    assert sent["tracker"]["events"][0]["event"] == "user"
    assert sent["tracker"].pop("events") != whole["tracker"].pop("events")
    assert sent["tracker"] == whole["tracker"]  # slots, latest message, loop, ...
    assert sent["domain"] == whole["domain"] and sent["version"] == whole["version"]
    assert {sent.pop("next_action"), whole.pop("next_action")} == {"action_after", "action_before"}
    assert sent == whole
    assert sent["sender_id"] == "s/ü"
    assert "\\u00eb" in after  # ASCII only, as json.dumps writes it
    assert "https://example.com/a/b" in after  # slashes not escaped
    # Big integers, NaN and Infinity as json.dumps writes them; what ujson refuses is
    # json.dumps's to encode, or to refuse with its own error.
    assert result["fallbacks"] == [f"[{2**70}]", "[NaN,Infinity]"]
    assert result["refused"] == "Object of type object is not JSON serializable"


RECENT = """
import json
from rasa.shared.core.events import (
    ActionExecuted, ActiveLoop, BotUttered, SessionStarted, UserUttered,
)
from rasa_runtime.speedups.action_payload import recent_events

def turns(n):
    events = [ActionExecuted("action_session_start"), SessionStarted()]
    events.append(ActionExecuted("action_listen"))
    for i in range(n):
        events += [UserUttered(f"m{i}"), BotUttered(f"r{i}"), ActionExecuted("action_listen")]
    return events

def names(events):
    said = [getattr(e, "text", None) or getattr(e, "name", None) for e in events]
    return [s or type(e).__name__ for s, e in zip(said, events)]

def with_form(n, form_at, ended=False):
    events = turns(n)
    at = 3 + 3 * form_at + 1  # after user message `form_at`
    loops = [ActiveLoop("cancel_form")] + ([ActiveLoop(None)] if ended else [])
    return events[:at] + loops + events[at:]

got = {str(n): names(recent_events(turns(n))) for n in (0, 2, 3, 5)}
got["form long ago"] = names(recent_events(with_form(8, 0, ended=True)))
got["form in the window"] = names(recent_events(with_form(8, 6)))
got["two forms"] = names(recent_events([ActiveLoop("return_form")] + with_form(8, 1)))
print(json.dumps(got))
"""


def test_recent_events_start_at_the_third_last_user_message_after_the_latest_form() -> None:
    got = in_rasa(RECENT)
    start = ["ActionExecuted", "SessionStarted", "ActionExecuted"]
    assert got["0"] == start  # no user message yet: everything
    assert got["2"] == [*start, "m0", "r0", "ActionExecuted", "m1", "r1", "ActionExecuted"]
    assert got["3"][0] == "m0" and len(got["3"]) == 9
    # A form started before the window: its activation comes first (last_form reads it).
    assert got["form long ago"] == [
        "cancel_form",
        "m5",
        "r5",
        "ActionExecuted",
        "m6",
        "r6",
        "ActionExecuted",
        "m7",
        "r7",
        "ActionExecuted",
    ]
    assert got["two forms"][:2] == ["cancel_form", "m5"]  # only the latest one
    assert got["form in the window"] == [
        "m5",
        "r5",
        "ActionExecuted",
        "m6",
        "cancel_form",
        "r6",
        "ActionExecuted",
        "m7",
        "r7",
        "ActionExecuted",
    ]
    assert got["5"] == [
        "m2",
        "r2",
        "ActionExecuted",
        "m3",
        "r3",
        "ActionExecuted",
        "m4",
        "r4",
        "ActionExecuted",
    ]
