"""Retrieval behaviour of the real engine (trained encoder, real spaCy, real caches)."""

from __future__ import annotations

import time

import pytest


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("hi! can i still cancel? my ring isn't made yet", "returns_cancel_order"),
        ("klarna?", "payments_bnpl"),
        ("how many days do I have to send a ring back", "shipping_return_window"),
        (
            "when will my refund show up on my card after you get the ring back",
            "returns_refund_time",
        ),
        ("my ring's prong came loose, is that covered?", "orders_warranty_other_jewelry"),
        ("will the box say what's inside", "shipping_discreet_box"),
        ("does somebody have to be home to sign", "shipping_signature"),
        (
            "can i swap the sapphire for a ruby on the order i placed yesterday",
            "orders_change_item",
        ),
        ("do u have a showroom in NYC", "shipping_physical_store"),
        ("can I place my order over the phone", "orders_by_phone"),
    ],
)
def test_policy_questions_get_the_right_answer(engine, question, expected):
    result = engine.search(question)
    assert not result.abstained, result
    assert result.entry is not None and result.entry.id == expected
    assert result.entry.answer == engine.corpus.get(expected).answer


@pytest.mark.parametrize(
    "question",
    [
        "do you sell gift cards?",
        "what's the weather like in paris today",
        "can you engrave our initials inside the band",
        "how much is a two carat oval diamond ring",
        "asdfghjkl qwerty",
    ],
)
def test_questions_the_faq_does_not_answer_abstain(engine, question):
    result = engine.search(question)
    assert result.abstained
    assert result.entry is None
    assert result.to_json()["answer"] is None
    # Nothing is lost: the closest candidates are still reported.
    assert len(result.alternatives) == 3


def test_answer_carries_follow_up_and_ranked_alternatives(engine):
    result = engine.search("is it possible to cancel an order?")
    assert result.entry is not None and result.entry.id == "returns_cancel_order"
    assert result.entry.follow_up is not None
    assert result.entry.follow_up.payload == "/cancel_order"
    scores = [c.score for c in result.alternatives]
    assert len(scores) == 2 and scores == sorted(scores, reverse=True)
    assert result.score >= scores[0]
    assert result.entry.id not in {c.faq_id for c in result.alternatives}


def test_empty_input_is_an_error_not_an_answer(engine):
    for text in ["", "   ", "\t"]:
        result = engine.search(text)
        assert result.abstained and result.entry is None
        assert result.error == "empty question"


def test_very_long_and_non_ascii_input(engine):
    long = "can i return my ring? " * 5000
    started = time.perf_counter()
    result = engine.search(long)
    assert time.perf_counter() - started < 5
    assert result.query == long  # echoed whole, analysed in part
    assert result.entry is not None and result.entry.id in {
        "returns_how_to",
        "shipping_return_window",
        "returns_free_30_day",
        "returns_full_refund",
    }
    weird = engine.search("¿puedo pagar con Klarna? 💍 ринг 指輪")
    assert weird.error is None
    assert isinstance(weird.score, float)
