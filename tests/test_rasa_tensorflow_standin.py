"""rasa_runtime/serving/tensorflow_standin.py (issue 12, memory): `rasa run` through the
launcher loads no TensorFlow, answers as Rasa with TensorFlow does, and refuses a model
that needs TensorFlow instead of answering wrongly."""

from __future__ import annotations

from pathlib import Path

from bot.rasa_model import model_path
from bot.settings import PROJECT_ROOT

from .live import new_sender, texts
from .test_rasa_runtime_turn_cost import in_rasa

SAME_ANSWERS = """
import asyncio, json, sys
standin = sys.argv[2] == "standin"
if standin:
    from rasa_runtime.serving import tensorflow_standin
    tensorflow_standin.install()
from rasa.core.agent import Agent

MESSAGES = ["hi", "how long does shipping take?", "is my package insured?",
            "can i pay with klarna", "where is my order", "I want to talk to a person",
            "thanks", "bye"]

async def main():
    agent = Agent.load(sys.argv[1])
    strict = None
    if standin:  # as the launcher does once the model is loaded: any use of TF raises
        tensorflow_standin._strict = True
        import tensorflow
        try:
            bool(tensorflow.constant(1))
        except tensorflow_standin.TensorFlowLeftOut as exc:
            strict = str(exc)
    parses = [await agent.parse_message(m) for m in MESSAGES]
    replies = [await agent.handle_text(m, sender_id="s") for m in MESSAGES]
    tf = sys.modules.get("tensorflow")
    found = []
    if standin:
        metadata = agent.processor.model_metadata
        found = [tensorflow_standin.tensorflow_components(metadata)]  # [] for our model
        # As if memoization's module imported TensorFlow (a custom component that does):
        # the check names it, and the model is refused before it loads, while the one
        # already loaded stays.
        import rasa.core.policies.memoization as memoization
        memoization.tf = sys.modules["tensorflow"]
        found.append(tensorflow_standin.tensorflow_components(metadata))
        tensorflow_standin.refuse_tensorflow_models()
        serving = agent.processor
        try:
            agent.load_model(sys.argv[1])
            found.append("loaded")
        except tensorflow_standin.TensorFlowLeftOut as refused:
            found.append(str(refused))
        found.append(agent.processor is serving)
    print(json.dumps({
        "intents": [[p["intent"]["name"], round(p["intent"]["confidence"], 6)] for p in parses],
        "entities": [[(e["entity"], e["value"]) for e in p["entities"]] for p in parses],
        "replies": replies,
        "tensorflow": type(tf).__name__,
        "found": found,
        "strict": strict,
    }, default=str))

asyncio.run(main())
"""


def test_without_tensorflow_the_model_parses_and_answers_the_same() -> None:
    model = str(model_path(PROJECT_ROOT / "models"))
    real, standin = in_rasa(SAME_ANSWERS, model, "real"), in_rasa(SAME_ANSWERS, model, "standin")
    assert real["tensorflow"] == "module"  # the real TensorFlow was loaded...
    assert standin["tensorflow"] == "_StandInModule"  # ...and here it was not
    for key in ("intents", "entities", "replies"):
        assert standin[key] == real[key], key
    # No component of our model needs TensorFlow; one that did would be named, and such a
    # model is refused (here through Agent.load_model, as Rasa's PUT /model loads one).
    nothing, named, refusal, kept = standin["found"]
    # RulePolicy builds on MemoizationPolicy: named too.
    assert (nothing, named, kept) == ([], ["MemoizationPolicy", "RulePolicy"], True)
    assert "uses MemoizationPolicy, RulePolicy, which need TensorFlow" in refusal
    assert "RASA_MEMORY_FIXES=0" in refusal
    # Answered above with the stand-in strict, as the launcher makes it once loaded.
    assert (
        standin["strict"]
        == "tensorflow.constant needs TensorFlow, which this Rasa server leaves out"
    )


def test_the_launched_rasa_maps_no_tensorflow_library(live) -> None:  # type: ignore[no-untyped-def]
    """The live stack's Rasa was started by the launcher (`rasa run`): it answers, and no
    TensorFlow library is in its memory."""
    assert "Hi!" in texts(live.say(new_sender(), "hi"))
    pid = live.supervisor.procs["rasa"].pid
    maps = Path(f"/proc/{pid}/maps").read_text(encoding="utf-8")
    assert "python" in maps and "libtensorflow" not in maps
