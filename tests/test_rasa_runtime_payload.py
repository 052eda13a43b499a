"""rasa_runtime/speedups/action_payload.py (issue 11): the tracker Rasa posts to the action
server is encoded with ujson, and the action server receives the same JSON as before.

Through Rasa's own path (RemoteAction.run, its EndpointConfig and aiohttp session) to a
real HTTP server in Rasa's Python (.venv-rasa), as the launcher runs it: the body that
arrives is ujson's text (the hook is installed) and parses to exactly what Rasa's
`json.dumps` of the same payload parses to, with the whole tracker (every event), floats,
non-ASCII text, slashes and None. What ujson refuses is left to `json.dumps`.
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
    assert before == result["rasa_json"].replace('"action_after"', '"action_before"')
    assert after == result["ujson"]
    assert after != result["rasa_json"]
    # The same JSON: the whole tracker, every value as Rasa's json.dumps wrote it.
    sent = json.loads(after)
    assert sent == json.loads(result["rasa_json"])
    assert len(sent["tracker"]["events"]) == result["events"] == 151
    assert sent["sender_id"] == "s/ü"
    assert "\\u00eb" in after  # ASCII only, as json.dumps writes it
    assert "https://example.com/a/b" in after  # slashes not escaped
    # Big integers, NaN and Infinity as json.dumps writes them; what ujson refuses is
    # json.dumps's to encode, or to refuse with its own error.
    assert result["fallbacks"] == [f"[{2**70}]", "[NaN,Infinity]"]
    assert result["refused"] == "Object of type object is not JSON serializable"
