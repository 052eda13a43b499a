"""Free answers to the order forms' questions, as shoppers type them (bot.shopper.free_answers),
read with the real spaCy lemmatizer the action server uses, and without one."""

from __future__ import annotations

import pytest

from bot.faq.text import Lemmatizer
from bot.settings import Settings
from bot.shopper.free_answers import (
    Lemmas,
    ReturnChoice,
    attribute_to_change,
    item_number,
    return_or_exchange,
    size_step,
    yes_or_no,
)


@pytest.fixture(scope="module")
def lemmas() -> Lemmas:
    return Lemmatizer(Settings().faq_spacy_model).tokens


YES = [
    "yes",
    "Yes.",
    "YES",
    "y",
    "yeah",
    "yeahhh",
    "Yesss!",
    "yep",
    "yup",
    "ya",
    "sure",
    "sure, go ahead",
    "Sure thing!",
    "ok",
    "okay thanks",
    "yes please",
    "yes please!",
    "go for it",
    "do it",
    "please do",
    "sounds good to me",
    "that's right",
    "correct",
    "absolutely",
    "of course",
    "why not",
    "no problem",
    "yea go ahead",
    "yes, submit it",
    "yes, for a size 7",  # the summary already says size 7: a plain yes
    "\U0001f44d",
    "yeah sure",
    "I guess so",
    "that\u2019s fine",
]
NO = [
    "no",
    "No.",
    "n",
    "nope",
    "nope, keep it",
    "nah",
    "no thanks",
    "no thank you",
    "not now",
    "not yet",
    "not really",
    "keep it",
    "never mind",
    "nevermind",
    "I don't think so",
    "I\u2019d rather not",
    "please don't",
    "don't do it",
    "definitely not",
    "of course not",
    "absolutely not",
    "no, exchange it",  # a no to this question, whatever comes next
    "no, but thanks",
    "stop",
    "changed my mind",
    "\U0001f44e",
]
NEITHER = [
    # Questions, conditions and irony keep the answer open (a "yes" here submits an order
    # change that cannot be undone).
    "are you sure?",
    "okay?",
    "yes?",
    "sure, if you can refund the deposit",
    "ok if it's gold",
    "perfect, now I lose my money",
    "yeah right",
    "sure, when pigs fly",
    "wouldn't that be great",
    "correct me if I'm wrong",
    "good question",
    "not sure",
    "I'm not sure",
    "maybe",
    "hmm",
    "dunno",
    "I don't know",
    "wait",
    "hold on",
    "yes but smaller",  # a yes with a condition is not a yes
    "yes, but in rose gold",
    "yes no",
    "thanks",
    "what?",
    "cancel it",  # at "cancel this order?" a yes, elsewhere a no: not guessed
    "",
    "the ring",
]


@pytest.mark.parametrize("text", YES)
def test_yes(text: str) -> None:
    assert yes_or_no(text) is True


@pytest.mark.parametrize("text", NO)
def test_no(text: str) -> None:
    assert yes_or_no(text) is False


@pytest.mark.parametrize("text", NEITHER)
def test_neither_yes_nor_no(text: str) -> None:
    assert yes_or_no(text) is None


EXCHANGE_FOR_SIZE = [
    ("it's too big", "smaller"),
    ("It\u2019s a bit too big", "smaller"),
    ("too big", "smaller"),
    ("it's too small", "bigger"),
    ("the band is too tight", "bigger"),
    ("it's too loose", "smaller"),
    ("it slips off my finger", "smaller"),
    ("it keeps falling off", "smaller"),
    ("i need a size up", "bigger"),
    ("I'd like a bigger size", "bigger"),
    ("yes but smaller", "smaller"),
    ("wrong size", None),
    ("the ring is the wrong size", None),
    ("doesn't fit", None),
    ("it does not fit", None),
    ("it didn't fit my finger", None),
    ("a different size please", None),
    ("return it, it's too big", "smaller"),  # an exchange sends it back too
]


@pytest.mark.parametrize(("text", "direction"), EXCHANGE_FOR_SIZE)
def test_a_size_complaint_is_an_exchange_for_another_size(
    text: str, direction: str | None, lemmas: Lemmas
) -> None:
    choice = return_or_exchange(text, lemmas)
    assert choice is not None
    assert (choice.kind, choice.other_size, choice.direction) == ("exchange", True, direction)


def test_the_complaint_is_kept_as_the_reason_and_a_wish_is_not(lemmas: Lemmas) -> None:
    assert return_or_exchange("it's too big", lemmas) == ReturnChoice(
        "exchange", True, "smaller", "it's too big"
    )
    assert return_or_exchange("return it, it's too big", lemmas).reason == "it's too big"  # type: ignore[union-attr]
    assert return_or_exchange("I'd like a bigger size", lemmas).reason is None  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "text",
    [
        "exchange",
        "an exchange please",
        "no, exchange it",
        "exchanging it please",
        "i want to swap it",
        "can I get a different one",
        "not a refund, an exchange",
        "I don't want a refund",
        "I'd rather have a replacement",
    ],
)
def test_exchange(text: str, lemmas: Lemmas) -> None:
    assert return_or_exchange(text, lemmas) == ReturnChoice("exchange")


@pytest.mark.parametrize(
    "text",
    [
        "return",
        "refund",
        "refund please",
        "I want my money back",
        "get my money back",
        "just send it back",
        "I don't want to exchange it",
        "too big, I want a refund",  # the size is the reason; the money is the choice
        "it doesn't fit, refund me",
        "I'd like it refunded",
        "a return for a refund",
    ],
)
def test_return(text: str, lemmas: Lemmas) -> None:
    choice = return_or_exchange(text, lemmas)
    assert choice is not None and choice.kind == "return" and not choice.other_size


@pytest.mark.parametrize(
    "text",
    [
        "not sure",
        "I don't know",
        "either is fine",
        "what's the difference?",
        "it's broken",  # either could be meant
        "the stone fell out",
        "smaller than I expected",  # how it looks, not its size
        "it fits fine but I changed my mind",
        "refund or exchange, whichever",
        "I want a refund or a different size",
        "",
        "hello",
    ],
)
def test_unclear_return_or_exchange(text: str, lemmas: Lemmas) -> None:
    assert return_or_exchange(text, lemmas) is None


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("I want to return my ring", None),
        ("please send back my order KNT-1002", None),
        ("I'd like to return my ring for a refund", "return"),
        ("I want my money back for order KNT-1043", "return"),
        ("I want to exchange my necklace", "exchange"),
        ("I'd like to return my ring, it's too small", "exchange"),
    ],
)
def test_starting_a_return_decides_only_when_refund_or_exchange_is_said(
    text: str, kind: str | None, lemmas: Lemmas
) -> None:
    choice = return_or_exchange(text, lemmas, bare_return=False)
    assert (choice.kind if choice else None) == kind


def test_lemmas_catch_inflections_the_word_lists_do_not_spell_out(lemmas: Lemmas) -> None:
    # "fits" is only "fit" once lemmatized: without lemmas it is no size complaint.
    assert return_or_exchange("it no longer fits", lemmas) == ReturnChoice(
        "exchange", True, reason="it no longer fits"
    )
    assert return_or_exchange("it no longer fits") is None


@pytest.mark.parametrize(
    ("text", "attribute"),
    [
        ("the stone", "gemstone"),
        ("gemstone", "gemstone"),
        ("the diamond", "gemstone"),
        ("the stone's colour", "gemstone"),
        ("rubies", "gemstone"),
        ("metal colour", "metal"),
        ("the colour", "metal"),
        ("rose gold", "metal"),
        ("change the gold", "metal"),
        ("not the stone, the metal", "metal"),
        ("ring size", "ring_size"),
        ("size", "ring_size"),
        ("make it bigger", "ring_size"),
        ("it's too tight", "ring_size"),
        ("neither the stone nor the metal", "ring_size"),
        ("not sure", None),
        ("the stone and the size", None),
        ("everything", None),
    ],
)
def test_what_to_change(text: str, attribute: str | None, lemmas: Lemmas) -> None:
    assert attribute_to_change(text, lemmas) == attribute


@pytest.mark.parametrize(
    ("text", "count", "number"),
    [
        ("2", 3, 2),
        ("#2", 3, 2),
        ("number 3", 3, 3),
        ("the first", 2, 1),
        ("the second one", 3, 2),
        ("the 2nd one please", 3, 2),
        ("the last one", 3, 3),
        ("one", 2, 1),
        ("4", 3, None),
        ("both", 2, None),
        ("not the first one", 3, None),  # names the one it rules out
        ("-1", 3, None),
        ("no. 2", 3, 2),
        ("the one with the ruby", 2, None),
        ("1 and 2", 2, None),
    ],
)
def test_which_item(text: str, count: int, number: int | None) -> None:
    assert item_number(text, count) == number


@pytest.mark.parametrize(
    ("text", "step"),
    [
        ("a size up", 1.0),
        ("one size bigger", 1.0),
        ("one up", 1.0),
        ("half a size smaller", -0.5),
        ("half size down", -0.5),
        ("two sizes down", -2.0),
        ("2 sizes up", 2.0),
        ("bigger", None),  # by how much is not said
        ("a bit bigger", None),
        ("size 7", None),  # a size, not a step
        ("up or down, not sure", None),
    ],
)
def test_size_step(text: str, step: float | None) -> None:
    assert size_step(text) == step


async def test_a_short_hedged_reply_is_not_taken_as_yes_from_its_intent() -> None:
    # "are you sure?" may well be classified affirm; the intent must not decide it.
    import time

    from rasa_sdk import Tracker
    from rasa_sdk.executor import CollectingDispatcher

    from actions.cancellation import ValidateCancelForm

    for text in ("are you sure?", "yeah right", "okay?"):
        slots = {
            "verified_order": "KNT-1001",
            "verified_email": "ava@example.com",
            "verified_at": time.time(),
            "confirm": text,
            "requested_slot": "confirm",
        }
        latest = {"text": text, "intent": {"name": "affirm"}, "entities": []}
        events = [
            {"event": "user", "text": text, "parse_data": latest},
            {"event": "slot", "name": "confirm", "value": text},
        ]
        tracker = Tracker("s", slots, latest, events, False, None, {"name": "cancel_form"}, "")
        dispatcher = CollectingDispatcher()
        result = await ValidateCancelForm().validate_confirm(text, dispatcher, tracker, {})
        assert result == {"confirm": None}, text
        assert "yes or a no" in dispatcher.messages[0]["text"]
