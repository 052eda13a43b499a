"""What the bot says about orders, and how it reads what shoppers type."""

from __future__ import annotations

import re
import shutil

import pytest

from bot.faq.text import Lemmatizer
from bot.settings import PROJECT_ROOT
from bot.shopper import process_wide
from bot.shopper.catalogue_match import match
from bot.shopper.identifiers import normalize_email, normalize_order_number
from bot.shopper.order_replies import status_message
from bot.shopper.refusals import QUOTED_RULES, explain, refusal_reason, store_says


@pytest.fixture(scope="module")
def lemmatizer(settings):  # type: ignore[no-untyped-def]
    return Lemmatizer(settings.faq_spacy_model)


@pytest.mark.parametrize(
    ("attribute", "text", "expected"),
    [
        ("metal", "rosegold", "rose gold"),
        ("metal", "pink gold please", "rose gold"),
        ("metal", "Rose Golds", "rose gold"),
        ("metal", "platnium", "platinum"),
        ("metal", "silver", None),
        ("gemstone", "rubies", "ruby"),
        ("gemstone", "a saphire instead", "sapphire"),
        ("gemstone", "opal", None),
        ("ring_size", "size seven", "7"),
        ("ring_size", "seven and a half", "7.5"),
        ("ring_size", "7 1/2", "7.5"),
        ("ring_size", "6.5", "6.5"),
        ("ring_size", "7.0", "7"),
        ("ring_size", "size 20", None),
        ("ring_size", "", None),
    ],
)
def test_free_text_is_normalised_against_the_catalogue(lemmatizer, attribute, text, expected):
    assert match(attribute, text, lemmatizer) == expected


def test_unknown_attribute_is_an_error(lemmatizer):
    with pytest.raises(ValueError, match="unknown attribute"):
        match("colour", "red", lemmatizer)


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("KNT-1001", "KNT-1001"),
        ("knt1002", "KNT-1002"),
        ("order #1003", "KNT-1003"),
        ("1004", "KNT-1004"),
        ("my order", None),
        ("12", None),
        (None, None),
    ],
)
def test_order_numbers(typed, expected):
    assert normalize_order_number(typed) == expected


def test_emails_are_trimmed_and_lowercased():
    assert normalize_email("  Ava@Example.COM ") == "ava@example.com"
    assert normalize_email("ava at example") is None
    assert normalize_email("") is None


@pytest.mark.parametrize("typed", ["Müller@Example.de", "josé.pérez@correo.es", "用户@例子.中国"])
def test_addresses_in_any_script_are_addresses(typed):
    # The order backend compares whatever was stored: refusing these would stop real shoppers.
    assert normalize_email(typed) == typed.lower()


@pytest.mark.parametrize("typed", ["x@y", "a@@b.com", "a b@c.com", "a@b.c1", "@b.com"])
def test_non_addresses_are_refused(typed):
    assert normalize_email(typed) is None


RING = {
    "id": 1,
    "product": "Solitaire ring",
    "gemstone": "sapphire",
    "metal": "white gold",
    "ring_size": "6",
}


def test_status_in_production_gives_the_crafting_window():
    text = status_message(
        {
            "order_number": "KNT-1001",
            "status": "in_production",
            "items": [RING],
            "payment": {"method": "card"},
            "crafting_eta": {"earliest": "2026-12-12", "latest": "2026-12-26"},
        }
    )
    assert "KNT-1001" in text and "being crafted" in text
    # The backend's dates, and no number of weeks of the bot's own.
    assert "December 12, 2026 and December 26, 2026" in text and "weeks" not in text
    assert "tracking number by e-mail" in text


def test_status_shipped_gives_carrier_tracking_and_return_window():
    order = {
        "order_number": "KNT-1002",
        "status": "delivered",
        "items": [RING],
        "shipment": {
            "carrier": "FedEx",
            "tracking_number": "771234567890",
            "shipped_at": "2026-11-16T10:00:00+00:00",
            "delivered_at": "2026-11-19T10:00:00+00:00",
        },
        "return_window_ends": "2026-12-16",
        "returnable": True,
    }
    text = status_message(order)
    assert "FedEx" in text and "771234567890" in text and "November 16, 2026" in text
    assert "delivered on November 19, 2026" in text
    assert "return or exchange it until December 16, 2026" in text
    # Whether it is still possible is the backend's word (not the bot's clock).
    later = status_message({**order, "returnable": False})
    assert "return window ended on December 16, 2026" in later and "30" not in later


def test_status_in_house_finance_shows_progress():
    text = status_message(
        {
            "order_number": "KNT-1005",
            "status": "awaiting_payment",
            "items": [RING],
            "payment": {"method": "in_house", "parts_paid": 1, "parts_total": 3},
        }
    )
    assert "1 of 3 parts" in text and "waiting for payment" in text
    # When crafting starts is the backend's rule (its status), not restated here.
    assert "half" not in text
    without = status_message(
        {
            "order_number": "KNT-1005",
            "status": "awaiting_payment",
            "items": [RING],
            "payment": {"method": "in_house", "parts_paid": 1},
        }
    )
    assert "parts" not in without  # no count made up when the backend gives none


@pytest.mark.parametrize(
    ("reason", "must_say"),
    [
        ("not_shipped", "within 45 days from the shipping-confirmation date"),
        ("outside_return_window", "within 45 days"),
        ("outside_return_window", "ended on November 10, 2026"),
        ("change_already_used", "you have one chance to change"),
        ("not_cancellable", "still in the production phase, you can request to cancel"),
        ("not_shipped", "still in the production phase, you can request to cancel"),
        ("outside_return_window", "free lifetime warranty against manufacturing flaws"),
        ("order_shipped", "return or exchange it within 45 days"),
        ("invalid_value", "ruby, emerald"),
        ("something_new", "A person from our team can help"),
    ],
)
def test_refusals_quote_the_store_rules(reason, must_say):
    text, buttons = explain(
        reason,
        {"order_number": "KNT-1003", "return_window_ends": "2026-11-10", "return_window_days": 45},
        {"allowed": ["ruby", "emerald"]},
    )
    assert must_say in text
    assert "30" not in text  # the backend's window (45 days here), never a number of its own
    if reason in ("not_shipped", "not_cancellable"):
        assert buttons and all(b["payload"].startswith("/") for b in buttons)


def test_every_rule_a_refusal_quotes_is_in_the_stores_faq():
    for rule in QUOTED_RULES:
        sentence = store_says(rule)
        assert rule[1] in sentence.lower()
        assert not re.search(r"\d", sentence)  # numbers are the backend's, never the FAQ's


def test_a_refusal_follows_the_faq_when_the_store_edits_it(tmp_path, monkeypatch):
    corpus = tmp_path / "corpus"
    shutil.copytree(PROJECT_ROOT / "faq_corpus", corpus)
    orders = corpus / "01_my_orders.yml"
    text = orders.read_text(encoding="utf-8")
    assert "you have one chance to change to a single item" in text
    orders.write_text(
        text.replace(
            "you have one chance to change to a single item",
            "you have one chance to change one item, free of charge",
        ),
        encoding="utf-8",
    )
    monkeypatch.setenv("FAQ_CORPUS_DIR", str(corpus))
    process_wide.reset()
    try:
        said, _ = explain("change_already_used", {"order_number": "KNT-1004"})
        assert "you have one chance to change one item, free of charge." in said
        # An entry the store deleted costs the reply a sentence, never the action.
        (corpus / "04_returns_refund.yml").write_text(
            (corpus / "04_returns_refund.yml")
            .read_text(encoding="utf-8")
            .replace("production phase", "making stage"),
            encoding="utf-8",
        )
        process_wide.reset()
        said, _ = explain("not_cancellable", {"order_number": "KNT-1001"})
        assert said.startswith("KNT-1001 has already shipped, so it can't be cancelled.")
        assert "production" not in said and "return it within" in said
        # A rule the store gave a number is not quoted: numbers are the backend's.
        orders.write_text(
            orders.read_text(encoding="utf-8").replace(
                "one chance to change one item, free of charge",
                "one chance to change one item within 24 hours",
            ),
            encoding="utf-8",
        )
        process_wide.reset()
        said, _ = explain("change_already_used", {"order_number": "KNT-1004"})
        assert said.startswith("KNT-1004 has already had its change, so it can't be changed")
        assert "24" not in said
        # "e.g." does not end the warranty's sentence.
        text = orders.read_text(encoding="utf-8")
        orders.write_text(
            text.replace(
                "We provide a free lifetime warranty",
                "We provide (e.g. for rings) a free lifetime warranty",
            ),
            encoding="utf-8",
        )
        process_wide.reset()
        said, _ = explain("outside_return_window", {"order_number": "KNT-1004"})
        assert "We provide (e.g. for rings) a free lifetime warranty against manufacturing" in said
        # An FAQ file that can't be read costs the replies their quotes, never the reply.
        orders.write_text("- id: [broken", encoding="utf-8")
        process_wide.reset()
        said, buttons = explain("change_already_used", {"order_number": "KNT-1004"})
        assert said.startswith("KNT-1004 has already had its change") and buttons
    finally:
        monkeypatch.delenv("FAQ_CORPUS_DIR")
        process_wide.reset()


def test_an_already_cancelled_order_is_worded_from_the_backends_reason_and_status():
    text, _ = explain("not_cancellable", {"order_number": "KNT-1001", "status": "cancelled"})
    assert text == "KNT-1001 is already cancelled."


def test_the_refusal_reason_is_the_backends_verdict():
    order = {
        "possible": {
            "cancel": {"possible": False, "reason": "not_cancellable"},
            "change": {"possible": True, "reason": None},
        }
    }
    assert refusal_reason(order, "cancel") == "not_cancellable"
    assert refusal_reason(order, "change") is None
    assert refusal_reason(order, "return") is None  # not said: the backend decides on submit
    assert refusal_reason({}, "cancel") is None
