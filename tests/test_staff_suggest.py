"""Staff suggestions: FAQ entries for a message, questions and a draft reply for an e-mail.

The real FAQ engine and the real spaCy pipeline; nothing is mocked. The held-out metrics
use the same code as bench/staff_suggest.py (bot/staff/email_eval.py).
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from bot.orders.normalize import find_order_number
from bot.settings import PROJECT_ROOT, Settings
from bot.staff.email_eval import (
    GUARANTEED_KINDS,
    EmailScore,
    Extracted,
    classify_noise,
    email_extractor,
    load_jsonl,
    matches,
    naive_extractor,
    noise_in,
    occurrences,
    score_emails,
    score_suggestions,
)
from bot.staff.email_parts import MAX_EMAIL_CHARS, read_email
from bot.staff.questions import find_questions, naive_questions
from bot.staff.suggest import (
    Suggestion,
    answer_email,
    email_order_number,
    faq_suggestions,
)

DATA = PROJECT_ROOT / "tests" / "data"
QUESTIONS_HELDOUT = DATA / "staff_questions_heldout.jsonl"
# Held-out e-mail sets, each written independently of the rules. The first three were
# looked at while the rules were improved (their numbers are regression floors now); the
# fourth and fifth were each run once after the rules were done (the fifth is the one whose
# number counts).
EMAILS_HELDOUT = [
    DATA / "staff_emails_heldout.jsonl",
    DATA / "staff_emails_heldout2.jsonl",
    DATA / "staff_emails_heldout3.jsonl",
    DATA / "staff_emails_heldout4.jsonl",
    DATA / "staff_emails_heldout5.jsonl",
]
# Found-and-answered as bench/staff_suggest.py measured it (rounded down), kept as
# regression floors; the target is 0.97. Measured after the rules were made to generalise
# (topic lists under any lead-in, questions without auxiliary, embedded questions from the
# parse): heldout 95/99 = 0.960, heldout2 139/142 = 0.979, heldout3 135/138 = 0.978 (they
# were 0.939 / 0.958 / 0.942; all three were read while the rules changed, so they are
# regression floors now, not a measure).
HELDOUT_FOUND_ANSWERED_FLOOR = {
    "staff_emails_heldout": 0.95,
    "staff_emails_heldout2": 0.97,
    "staff_emails_heldout3": 0.97,
    # Written by a new writer in many voices and run once, after the rules above were done:
    # 128/145 = 0.883 (the naive baseline 0.966): the target is missed on fresh e-mails.
    "staff_emails_heldout4": 0.88,
    # A fifth writer, who never saw the rules, run once with no rule changed after set 4:
    # 114/131 = 0.870 (naive 124/131 = 0.947). Even every sentence searched stays under 0.97.
    "staff_emails_heldout5": 0.86,
}
# The development e-mails: dev01-dev433 by the writer the rules were first tuned on
# (525/531 = 0.989), dev-b001-dev-b120 written later in eight other voices, before the rules
# were changed for them (204/230 = 0.887). Together 729/761 = 0.958: below the 0.97 target,
# and the floor says so rather than hiding the new e-mails.
DEV_FOUND_ANSWERED_FLOOR = 0.95
EMAILS_DEV = DATA / "staff_emails_dev.jsonl"


@pytest.fixture(scope="module")
def nlp(settings: Settings) -> Any:
    from bot.staff.nlp import full_pipeline

    return full_pipeline(settings.faq_spacy_model)


def texts(email: str, nlp: Any) -> list[str]:
    return [q.text for q in find_questions(email, nlp)]


def answers_of(result: dict[str, Any]) -> list[str]:
    return [q["suggestions"][0]["answer"] for q in result["questions"] if q["answered"]]


def top3(result: dict[str, Any], n: int) -> list[str]:
    return [s["faq_id"] for s in result["questions"][n]["suggestions"]]


THREAD = """Hi there,

Thanks for the label, it arrived today. Once you get the ring back, how long until the \
refund shows up on my card?

Thanks,
Will Parker
Parker Photography | +1 555 0188

Sent from my iPhone

On Tue, Mar 3, 2026 at 9:14 AM KNT Customer Service <service@kntofficial.com> wrote:
> Hi Will,
> Can you confirm the order number KNT-1002 so we can send you a return label?
> Is there anything else we can help with?
> Kind regards,
> Mia

-----Original Message-----
From: Will Parker <will@parkerphoto.com>
Sent: Monday, March 2, 2026 8:00 PM
To: service@kntofficial.com
Subject: Return?

How do I return a ring? Do you offer engraving?

CONFIDENTIALITY NOTICE: This e-mail is intended solely for the addressee. Do you really \
need to print it?
"""


# --- finding questions ------------------------------------------------------------------


def test_quoted_lines_greetings_and_signatures_are_never_questions(nlp: Any) -> None:
    found = find_questions(THREAD, nlp)
    assert [q.text for q in found] == ["how long until the refund shows up on my card?"]
    assert found[0].lead == "Once you get the ring back"  # the frame is searched with it
    own_end = THREAD.index("Thanks,\nWill")
    assert all(q.end <= own_end for q in found)


def test_bottom_posted_reply_keeps_the_customers_text_below_the_quote(nlp: Any) -> None:
    email = (
        "On Mon, Feb 2, 2026 at 3:45 PM KNT Customer Service <\n"
        "service@kntofficial.com> wrote:\n"
        "> Your ring has shipped. Do you have any other questions?\n\n"
        "If I miss the FedEx driver, will they try again?\n\nNoah"
    )
    assert texts(email, nlp) == ["will they try again?"]


def test_disclaimer_and_forwarded_block_are_dropped(nlp: Any) -> None:
    email = (
        "Hello KNT team,\n\nIs it possible to place an order over the phone?\n\n"
        "Regards,\nSarah Okafor\nT: +44 20 7946 0958\n\n"
        "---------- Forwarded message ---------\nFrom: KNT <orders@kntofficial.com>\n"
        "Date: Wed, Jan 14, 2026\nSubject: Shipped\n\nQuestions? Reply to this e-mail."
    )
    assert texts(email, nlp) == ["Is it possible to place an order over the phone?"]


def test_two_questions_in_one_sentence_are_two_with_their_own_entries(
    engine: Any, nlp: Any
) -> None:
    email = "Hi,\n\nHow long does shipping take and can I pay with Klarna?\n\nThanks,\nTom"
    result = answer_email(engine, nlp, email)
    assert [q["text"] for q in result["questions"]] == [
        "How long does shipping take",
        "can I pay with Klarna?",
    ]
    assert {"orders_ship_time", "shipping_production_time"} & set(top3(result, 0))
    assert top3(result, 1)[0] == "payments_bnpl"


def test_alternatives_in_one_question_are_not_split(nlp: Any) -> None:
    assert texts("Can I return or exchange it?", nlp) == ["Can I return or exchange it?"]
    assert texts("Will you charge my card right away or only when it ships?", nlp) == [
        "Will you charge my card right away or only when it ships?"
    ]


def test_question_without_question_mark_is_found(engine: Any, nlp: Any) -> None:
    result = answer_email(engine, nlp, "can i still cancel my order\n\nSent from my iPhone")
    assert [q["text"] for q in result["questions"]] == ["can i still cancel my order"]
    assert top3(result, 0)[0] == "returns_cancel_order"


def test_indirect_questions_are_found(nlp: Any) -> None:
    email = (
        "Good morning,\n\nI was wondering if I can still change the ring size. "
        "Please let me know how I can follow the shipment.\n\nMany thanks,\nAva"
    )
    assert texts(email, nlp) == [
        "I was wondering if I can still change the ring size.",
        "Please let me know how I can follow the shipment.",
    ]


def test_list_items_under_a_lead_in_are_questions_and_the_lead_in_is_not(
    engine: Any, nlp: Any
) -> None:
    email = (
        "Hi,\n\nI'd love some info on:\n- whether I can place the order over the phone\n"
        "- payment plans\n\nThanks,\nAnna"
    )
    found = find_questions(email, nlp)
    assert [q.text for q in found] == [
        "whether I can place the order over the phone",
        "payment plans",
    ]
    # The fragment is searched with its lead-in: "payment plans" alone is a topic.
    assert found[1].lead == "I'd love some info on:"
    result = answer_email(engine, nlp, email)
    assert "orders_by_phone" in top3(result, 0)
    assert "payments_in_house_finance" in top3(result, 1)


@pytest.mark.parametrize("marker", ["- ", "* ", "• ", "– ", "1. ", "1) ", "(1) ", "a) ", "A) "])
def test_list_markers(nlp: Any, marker: str) -> None:
    second = marker.replace("1", "2").replace("a", "b").replace("A", "B")
    email = (
        f"Hello,\n\nCould you tell me:\n{marker}if someone has to sign for it\n"
        f"{second}how long shipping takes\n\nBest,\nLeo"
    )
    assert texts(email, nlp) == ["if someone has to sign for it", "how long shipping takes"]


def test_items_without_markers_under_a_colon_and_inline_numbers(nlp: Any) -> None:
    email = "hi\n\nneed to know:\nwhether u do payment plans\nif returns are free\n\nthx"
    assert texts(email, nlp) == ["whether u do payment plans", "if returns are free"]
    inline = "I have two questions: 1) can I combine two codes and 2) when is my card charged?"
    assert texts(inline, nlp) == ["can I combine two codes", "when is my card charged?"]


def test_items_under_a_lead_in_that_states_are_not_questions(nlp: Any) -> None:
    for lead in ["Here is what I ordered:", "I received the following items:", "As you know:"]:
        email = f"Hi,\n\n{lead}\n- a white gold band\n- a pair of pearl earrings\n\nBest,\nMo"
        assert texts(email, nlp) == [], lead
    # ... and a statement in a list of questions is no question either.
    email = "Some questions:\n- I ordered it on Monday\n- whether it ships this week"
    assert texts(email, nlp) == ["whether it ships this week"]


@pytest.mark.parametrize(
    ("email", "expected"),
    [
        ("u have a store in NYC i could walk into", "u have a store in NYC"),
        ("r u open on weekends", "r u open on weekends"),
        ("cn i pay w klarna", "cn i pay w klarna"),
        ("pls let me know if you deliver to australia", None),
        ("plz tell me when my order ships", None),
        ("hey whens my ring gonna be ready its been 3 wks", "whens my ring gonna be ready"),
        ("ur site says 3-5 weeks is that right", "is that right"),
        ("pls lmk if u can fix a ring i didnt buy from u", None),
        ("i want 2 know if u do payment plans", None),
    ],
)
def test_texting_style(nlp: Any, email: str, expected: str | None) -> None:
    [question] = find_questions(email, nlp)
    assert question.text == (expected or email)
    assert email[question.start : question.end] == question.text  # spans stay exact


def test_shorthand_is_spelled_out_only_where_it_is_shorthand(nlp: Any) -> None:
    [q] = find_questions("r u open on sundays", nlp)
    assert q.said == "are you open on sundays"
    [q] = find_questions("Can I change it to size r or n?", nlp)
    assert q.said == "Can I change it to size r or n?"  # UK ring sizes, not "are" / "and"
    [q] = find_questions("Do you ship to the U.S. and can I pay w/ Klarna?", nlp)[1:]
    assert q.said == "can I pay with Klarna?"


@pytest.mark.parametrize(
    "email",
    [
        "Please confirm that's an option.",
        "Kindly advise when it will be dispatched.",
        "Let me know the status of my order KNT-1001 please.",
        "Tell me how long refunds take.",
        "Need to know if a signature is required.",
        "Can you check whether my order has shipped?",
        "I need you to confirm whether my card will be charged now.",
        "I'd like some advice on whether it's safe to ship a ring to my office.",
        "I should be grateful if you would advise me whether it needs a signature.",
        "I wonder whether the box will say jewelry on it.",
        "I am curious to know how the installment is taken.",
        "Was wondering if I could speak to someone while I order.",
    ],
)
def test_requests_for_information_are_questions(nlp: Any, email: str) -> None:
    assert texts(email, nlp) == [email.rstrip(".?")] or texts(email, nlp) == [email]


def test_declarative_questions(nlp: Any) -> None:
    assert texts("you guys do payment plans\nthanks", nlp) == ["you guys do payment plans"]
    assert texts("So the ring is insured? You ship to Canada?", nlp) == [
        "So the ring is insured?",
        "You ship to Canada?",
    ]
    statements = (
        "You have been so helpful. You guys make beautiful rings. You have my address "
        "already. You sent the wrong size."
    )
    assert texts(statements, nlp) == []


def test_requests_for_action_count_when_the_faq_answers_them(engine: Any, nlp: Any) -> None:
    email = (
        "Hello,\n\nPlease cancel my order KNT-1001, I found a ring elsewhere. Please send the "
        "invoice to my office. I returned a ring last year.\n\nRegards,\nAva"
    )
    assert texts(email, nlp) == []  # no question ...
    found = find_questions(email, nlp, requests=True)
    assert [(q.text, q.kind) for q in found] == [("Please cancel my order KNT-1001", "request")]
    result = answer_email(engine, nlp, email)  # ... but the cancel policy answers it
    assert [q["text"] for q in result["questions"]] == ["Please cancel my order KNT-1001"]
    assert top3(result, 0)[0] == "returns_cancel_order"
    assert result["questions"][0]["answered"] is True
    # A request the FAQ has nothing on is left to the agent, not listed with a guess.
    other = answer_email(engine, nlp, "Please remove me from your mailing list.")
    assert other["questions"] == []


@pytest.mark.parametrize(
    ("email", "expected"),
    [
        # a reason or circumstance after a comma or dash is no part of the question
        (
            "Can someone sign for it, we both work long shifts at the hospital?",
            "Can someone sign for it",
        ),
        (
            "Could I order by phone, as I'm not very confident online?",
            "Could I order by phone",
        ),
        ("can i pay with klarna, i dont like putting my card into websites", None),
        ("Does someone need to sign for it — we both work long hours.", None),
        ("status of my refund pls, sent the ring back 2 weeks ago", "status of my refund pls"),
        # ... but a condition, an alternative or a relative clause narrows it
        ("Can I exchange it, if the colour looks different?", "*"),
        ("Could FedEx hold it for us, or would we miss it?", "*"),
    ],
)
def test_a_trailing_clause_that_asks_nothing_is_cut_off(
    nlp: Any, email: str, expected: str | None
) -> None:
    if expected is None:
        expected = email.split(",")[0].split(" —")[0]
    [question] = find_questions(email, nlp)
    assert question.text == (email if expected == "*" else expected)


def test_a_framing_clause_is_the_lead_not_the_question(nlp: Any) -> None:
    email = (
        "Hi,\n\nI ordered the sapphire ring. Also, since I'll be at work most days, is it "
        "okay if my neighbour signs for the parcel? My sister wants one too — roughly how "
        "long does it take to make?\n\nThanks,\nDee"
    )
    found = find_questions(email, nlp)
    assert [q.text for q in found] == [
        "is it okay if my neighbour signs for the parcel?",
        "roughly how long does it take to make?",
    ]
    assert found[0].lead.endswith("since I'll be at work most days")
    assert "since I'll be at work" in found[0].query  # the FAQ search still reads it
    assert found[1].lead == "My sister wants one too"


@pytest.mark.parametrize(
    ("email", "expected"),
    [
        ("when does my ring ship? ordered yest", "when does my ring ship?"),
        ("Just got engaged 💍 How long does shipping take?", "How long does shipping take?"),
        ("Thank you so much :) Is the box discreet?", "Is the box discreet?"),
        ("Hi, can I pay with Klarna, cheers", "can I pay with Klarna"),
        ("is the box plain thx", "is the box plain"),
        ("where's my order KNT-1002, ty", "where's my order KNT-1002"),
        ("where's my ring at thx!!", "where's my ring at"),
        ("any chance I can cancel, cheers mate", "any chance I can cancel"),
        ("Could you tell me when my ring ships, many thanks", None),
        ("What's your return window? Thanks, Joe", "What's your return window?"),
    ],
)
def test_edges_of_a_question_on_its_line(nlp: Any, email: str, expected: str | None) -> None:
    [question] = find_questions(email, nlp)
    assert question.text == (expected or email.split(",")[0])


@pytest.mark.parametrize(
    "lead_in",
    [
        "Hoping you can help with a few things.",
        "I just bought a ring but I want to know some things.",
        "Could you clarify the following?",
        "I was wondering about a few things.",
        "Can I ask you a couple of questions?",
        "Could I pick your brain on a few things?",
        "Would you be able to help with a few questions?",
        "I have a couple of things I'd like to check.",
    ],
)
def test_a_sentence_that_announces_questions_asks_nothing(nlp: Any, lead_in: str) -> None:
    email = f"Hi,\n\n{lead_in} Is it insured? Does someone have to sign?\n\nThanks,\nKay"
    assert texts(email, nlp) == ["Is it insured?", "Does someone have to sign?"]


@pytest.mark.parametrize(
    "question",
    [
        "Can you help me track my order KNT-1002?",
        "I was hoping you could tell me whether it can be resized.",
        "I'd like to know about the warranty.",
        "Can I ask about returns?",
        "I was wondering about the payment options.",
        "Can I buy a few things with Klarna?",
        "Could you confirm this?",
    ],
)
def test_asking_about_something_named_is_no_announcement(nlp: Any, question: str) -> None:
    assert texts(question, nlp) == [question]


def test_help_with_a_named_task_is_still_a_question(nlp: Any) -> None:
    assert texts("Can you help me track my order KNT-1002?", nlp) == [
        "Can you help me track my order KNT-1002?"
    ]
    assert texts("I was hoping you could tell me whether it can be resized.", nlp) == [
        "I was hoping you could tell me whether it can be resized."
    ]


@pytest.mark.parametrize(
    ("email", "expected"),
    [
        ("ETA on shipping", None),
        ("ETA?", None),
        ("status of my refund pls", None),
        ("need signature or not", None),
        ("klarna ok or not", None),
        ("change ring size 7 to 7.5 possible", None),
        ("possible to get it by the 14th", None),
        ("ok to pay the deposit with klarna", None),
        ("resize after delivery ok", None),
        ("I would also be grateful to know whether the parcel is insured.", None),
        ("It would be really helpful to know how long the refund takes.", None),
        ("I'm also keen to find out if you do payment plans.", None),
        ("if my gf doesnt like it can i get all my $$ back", "can i get all my $$ back"),
        ("when it ships do i get a tracking number", "do i get a tracking number"),
    ],
)
def test_clipped_and_indirect_questions_are_found(
    nlp: Any, email: str, expected: str | None
) -> None:
    [question] = find_questions(email, nlp)
    assert question.text == (expected or email)


@pytest.mark.parametrize(
    "statement",
    [
        "Update: the parcel arrived this morning and it is perfect.",
        "It's possible I'll order the matching earrings next month.",
        "Delivery on a weekday is ok.",
        "I'm not bothered whether it's gift wrapped or not.",
        "The tracking status says delivered, and the ETA was yesterday.",
        "Order KNT-1001, size 6, white gold.",
        "Since my last email, the ring has arrived.",
        "I was hoping you could help me with my order, and you did.",
        "Please confirm once done.",
        "Collection in person isn't possible for me.",
    ],
)
def test_statements_that_look_like_the_new_rules_ask_nothing(nlp: Any, statement: str) -> None:
    assert texts(f"Hello,\n\n{statement}\n\nThanks,\nAnn", nlp) == []


def test_a_request_is_listed_as_a_request_not_a_question(engine: Any, nlp: Any) -> None:
    email = "Hi,\n\nI want to swap it for a different stone color. How long do I have?\n\nMay"
    assert texts(email, nlp) == ["How long do I have?"]
    result = answer_email(engine, nlp, email)
    kinds = [(q["text"], q["kind"]) for q in result["questions"]]
    assert kinds == [
        ("I want to swap it for a different stone color.", "request"),
        ("How long do I have?", "question"),
    ]


def test_question_that_names_nothing_is_searched_with_the_sentence_before(nlp: Any) -> None:
    [q] = find_questions("I'd like my money back in full. Is that possible?", nlp)
    assert (q.text, q.lead) == ("Is that possible?", "I'd like my money back in full.")
    [q] = find_questions("I ordered a ring. Can I return it?", nlp)
    assert q.lead == ""  # it says what it asks about itself


def test_statements_and_small_talk_are_not_questions(nlp: Any) -> None:
    email = (
        "Hey,\n\nHow are you? I ordered a ring last week. My order number is KNT-1001. "
        "When I ordered, I chose white gold. I want to return my ring. Thanks!\n\n"
        "Let me know if you need anything else.\n\nSent from my iPhone"
    )
    assert texts(email, nlp) == []


def test_statement_in_front_of_a_question_is_left_out_of_its_span(engine: Any, nlp: Any) -> None:
    email = "Hello, my order knt1003 arrived with a scratch on the band, can I get a full refund"
    [question] = find_questions(email, nlp)
    assert question.text == "can I get a full refund"
    assert question.lead == "my order knt1003 arrived with a scratch on the band"
    suggestions, _ = faq_suggestions(engine, question.query)
    assert "returns_full_refund" in [s.faq_id for s in suggestions]


def test_spans_are_exact_substrings_of_the_email(nlp: Any) -> None:
    rows = load_jsonl(EMAILS_DEV)
    assert len(rows) >= 30
    for row in rows:
        for q in find_questions(row["email"], nlp, requests=True):
            assert row["email"][q.start : q.end] == q.text, row["id"]
            assert q.text == q.text.strip() and q.text


def test_non_ascii_text(engine: Any, nlp: Any) -> None:
    email = (
        "Hallo,\n\nI'm writing from Zürich. Is the parcel insured if the ring is worth €4,000? "
        "Kann ich in Raten zahlen? 这个戒指可以退货吗?\n\nMerci & liebe Grüße,\nZoë"
    )
    result = answer_email(engine, nlp, email)
    found = [q["text"] for q in result["questions"]]
    assert found[0] == "Is the parcel insured if the ring is worth €4,000?"
    assert top3(result, 0)[0] == "shipping_insurance"
    for q in result["questions"]:
        assert email[q["start"] : q["end"]] == q["text"]
    assert result["draft"].startswith("Hello Zoë,")


def test_empty_and_question_free_emails(engine: Any, nlp: Any) -> None:
    for email in ["", "   \n\n ", "Thanks!\n\nAnna", "> Can you confirm your order?"]:
        result = answer_email(engine, nlp, email)
        assert result["questions"] == []
        assert result["order"] is None
        assert "[No question found in this e-mail" in result["draft"]
        assert result["draft"].endswith("Kind regards,\nKNT Customer Service")


def test_very_long_email_is_cut_and_answered_quickly(engine: Any, nlp: Any) -> None:
    own = "Hi,\n\nHow long does shipping take? I ordered a ring last week and love it. "
    email = (own * 2000)[:100_000]
    start = time.perf_counter()
    result = answer_email(engine, nlp, email)
    seconds = time.perf_counter() - start
    # 20,000 characters of the customer's own sentences are read (~0.9 s here); a quoted
    # thread of that size costs next to nothing (it never reaches the parser).
    assert seconds < 5, seconds
    body = read_email(email).body
    assert sum(b - a for a, b in body) <= MAX_EMAIL_CHARS
    assert all(q["end"] <= body[-1][1] for q in result["questions"])
    assert "Only the first 20,000 characters of the customer's text" in result["draft"]
    # The same answer is pasted once however often it is asked.
    assert result["draft"].count("take 2 to 3 weeks to ship") <= 1

    # A short reply below (bottom-posted) a 100 KB quoted thread is read and found.
    quoted = "> old thread line, is it?\n" * 4000 + "\nCan I return it?\n\nThanks,\nAnna"
    assert len(quoted) > 100_000
    start = time.perf_counter()
    result = answer_email(engine, nlp, quoted)
    assert time.perf_counter() - start < 1
    assert [q["text"] for q in result["questions"]] == ["Can I return it?"]
    assert "Only the first" not in result["draft"]


def test_naive_baseline_takes_every_sentence(nlp: Any) -> None:
    naive = [q.text for q in naive_questions(THREAD)]
    assert "Hi there," in naive and "> Kind regards," in naive
    assert len(naive) > 5 * len(find_questions(THREAD, nlp))
    for q in naive_questions(THREAD):
        assert THREAD[q.start : q.end] == q.text


def test_read_email_finds_own_text_signoff_and_signature() -> None:
    parts = read_email("yo\nklarna ok or not\n\n- jay")
    assert parts.body_text() == "klarna ok or not"  # "- jay" signs off, no list item
    list_end = read_email("Questions:\n- shipping\n\n- returns")
    assert "- returns" in list_end.body_text()
    parts = read_email(THREAD)
    assert "Once you get the ring back" in parts.body_text()
    assert "Mia" not in parts.body_text() and "engraving" not in parts.body_text()
    assert parts.signoff is not None
    assert THREAD[parts.signoff[0] : parts.signoff[1]] == "Thanks,"
    assert not parts.truncated


# --- suggestions for one message --------------------------------------------------------


def test_faq_suggestions_top3_best_first(engine: Any) -> None:
    suggestions, confident = faq_suggestions(engine, "can i pay with klarna?")
    assert confident
    assert len(suggestions) == 3
    assert suggestions[0].faq_id == "payments_bnpl"
    assert suggestions[0].section == "Payments"
    assert suggestions[0].answer == engine.corpus.get("payments_bnpl").answer
    scores = [s.score for s in suggestions]
    assert scores == sorted(scores, reverse=True)
    data = suggestions[0].to_json()
    assert set(data) == {"faq_id", "question", "answer", "section", "score"}
    assert data["score"] == round(suggestions[0].score, 4)


def test_faq_suggestions_not_confident_on_unanswerable_and_empty(engine: Any) -> None:
    suggestions, confident = faq_suggestions(engine, "do you offer engraving inside the band?")
    assert not confident
    assert len(suggestions) == 3  # still shown to the agent, marked not confident
    assert faq_suggestions(engine, "   ") == ([], False)
    assert faq_suggestions(engine, "shipping", k=1)[0][0].faq_id


def test_suggestion_is_frozen() -> None:
    s = Suggestion("a", "q", "answer", "Payments", 0.123456)
    assert s.to_json()["score"] == 0.1235
    with pytest.raises(AttributeError):
        s.score = 1.0  # type: ignore[misc]


# --- the answer for an e-mail: contract, draft, order -----------------------------------


def test_answer_email_json_contract(engine: Any, nlp: Any) -> None:
    result = answer_email(engine, nlp, THREAD)
    json.dumps(result)  # JSON-able as it is
    assert set(result) == {"questions", "order", "draft"}
    [question] = result["questions"]
    assert {"text", "suggestions", "answered", "kind"} <= set(question)
    assert question["kind"] == "question"
    assert 1 <= len(question["suggestions"]) <= 3
    for s in question["suggestions"]:
        assert {"faq_id", "question", "answer", "score"} <= set(s)
    assert question["suggestions"][0]["faq_id"] == "returns_refund_time"


def test_draft_has_greeting_one_answer_per_question_and_signoff_and_no_quoted_text(
    engine: Any, nlp: Any
) -> None:
    result = answer_email(engine, nlp, THREAD, agent_name="Mia")
    draft = result["draft"]
    refund = engine.corpus.get("returns_refund_time").answer
    assert draft == f"Hello Will,\n\n{refund}\n\nKind regards,\nMia"
    for quoted in ["Can you confirm", "anything else", "engraving", "How do I return", ">"]:
        assert quoted not in draft


def test_same_answer_is_pasted_once(engine: Any, nlp: Any) -> None:
    email = (
        "Hello,\n\nDoes your jewelry come with a warranty, and could you also repair a ring "
        "I bought from another jeweler?\n\nBest,\nHannah"
    )
    result = answer_email(engine, nlp, email)
    assert len(result["questions"]) == 2
    warranty = engine.corpus.get("orders_warranty_other_jewelry").answer
    assert all(
        q["suggestions"][0]["faq_id"] == "orders_warranty_other_jewelry"
        for q in result["questions"]
    )
    assert result["draft"].count(warranty) == 1
    assert result["draft"].startswith("Hello Hannah,\n\n")


def test_unanswerable_question_is_flagged_and_never_guessed(engine: Any, nlp: Any) -> None:
    email = (
        "Hello,\n\nDo you offer engraving on the inside of the band? Also, does somebody "
        "need to sign for the delivery?\n\nThank you,\nMarcus Lee"
    )
    result = answer_email(engine, nlp, email)
    engraving, signature = result["questions"]
    assert engraving["text"] == "Do you offer engraving on the inside of the band?"
    assert engraving["answered"] is False
    assert signature["answered"] is True
    draft = result["draft"]
    assert (
        '[No FAQ answer for: "Do you offer engraving on the inside of the band?" — '
        "please answer this yourself.]" in draft
    )
    # Only the confident question's answer is in the draft, after the greeting.
    pasted = [p for p in draft.split("\n\n")[1:-1] if not p.startswith("[")]
    assert pasted == [signature["suggestions"][0]["answer"]]
    assert draft.startswith("Hello Marcus,")


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("my order KNT-1001 is late", "KNT-1001"),
        ("order knt1001", "KNT-1001"),
        ("Re: KNT 1001", "KNT-1001"),
        ("order #1005 please", "KNT-1005"),
        ("my order number is 1003", "KNT-1003"),
        ("(KNT#1002)", "KNT-1002"),
        ("I ordered on 12 March 2026 and paid 1500 dollars", None),
        ("", None),
    ],
)
def test_find_order_number(text: str, number: str | None) -> None:
    assert find_order_number(text) == number


def test_order_lookup_gets_the_first_order_number_of_the_customers_own_text(
    engine: Any, nlp: Any
) -> None:
    asked: list[str] = []

    def lookup(number: str) -> dict[str, Any] | None:
        asked.append(number)
        return {"order_number": number, "status": "in_production"} if number == "KNT-1001" else None

    email = (
        "Hi,\n\nI ordered a sapphire ring (knt1001) and would like to change the size, is that "
        "still possible?\n\nAva\n\n"
        "On Mon, Mar 2, 2026 at 8:00 AM KNT <service@kntofficial.com> wrote:\n"
        "> Your order KNT-1004 is in production."
    )
    result = answer_email(engine, nlp, email, order_lookup=lookup)
    assert asked == ["KNT-1001"]
    assert email_order_number(email) == "KNT-1001"
    assert find_order_number(email[email.index("On Mon") :]) == "KNT-1004"
    assert result["order"] == {"order_number": "KNT-1001", "status": "in_production"}

    asked.clear()
    quoted_only = "Can I change the size?\n\n> Your order KNT-1001 is in production."
    assert answer_email(engine, nlp, quoted_only, order_lookup=lookup)["order"] is None
    assert asked == []
    assert email_order_number(quoted_only) is None
    assert answer_email(engine, nlp, email)["order"] is None  # no lookup given


def test_failing_order_lookup_still_gives_suggestions(engine: Any, nlp: Any) -> None:
    def broken(number: str) -> dict[str, Any] | None:
        raise ConnectionError("order backend down")

    result = answer_email(engine, nlp, "Where is my order KNT-1002?", order_lookup=broken)
    assert result["order"] is None
    assert result["questions"][0]["suggestions"]


# --- the metrics (shared with bench/staff_suggest.py) -----------------------------------


def test_metric_matching_rules() -> None:
    assert matches((0, 10), (0, 20))  # half the span
    assert not matches((15, 25), (0, 20))  # a quarter of the span, reaching out of it
    assert matches((5, 8), (0, 20))  # inside the span
    assert not matches((25, 30), (0, 20))
    assert occurrences("a? b a?", "a?") == [(0, 2), (5, 7)]


def test_score_emails_counts() -> None:
    email = "Hi,\nCan I return it? Do you engrave?\n> Is there anything else?"
    row = {
        "id": "t1",
        "email": email,
        "questions": [
            {"span": "Can I return it?", "faq_id": "returns_how_to"},
            {"span": "Do you engrave?", "faq_id": None},
        ],
        "noise": ["Hi,", "> Is there anything else?"],
    }

    def extract(text: str) -> list[Extracted]:
        return [
            Extracted("Can I return it?", 4, 20, ("returns_how_to",), True),
            Extracted("Do you engrave?", 21, 36, ("returns_how_to",), False),
            Extracted("Is there anything else?", 39, 62, ("x",), True),
        ]

    score = score_emails([row], extract)
    assert isinstance(score, EmailScore)
    assert (score.found_answered, score.answerable, score.found) == (1, 1, 2)
    assert (score.unanswerable_flagged, score.unanswerable_answered) == (1, 0)
    assert (score.noise_hits, score.stray, score.bad_annotations) == (1, 1, 0)


def test_noise_in_both_formats_is_counted_by_kind() -> None:
    email = "Hi,\nCan I return it? thx\nI love it though.\n> Is there anything else?"
    row = {
        "id": "t2",
        "email": email,
        "questions": [{"span": "Can I return it?", "faq_id": "returns_how_to"}],
        "noise": [
            "Hi,",  # an older file: plain strings, their kind worked out
            "> Is there anything else?",
            {"text": "thx", "kind": "signoff"},
            {"text": "I love it though.", "kind": "statement"},
        ],
    }
    kinds = {email[n.start : n.end]: n.kind for n in noise_in(row)[0]}
    assert kinds == {
        "Hi,": "greeting",
        "> Is there anything else?": "quoted",
        "thx": "signoff",
        "I love it though.": "statement",
    }

    def extract(text: str) -> list[Extracted]:
        return [
            Extracted("Can I return it? thx", 4, 24, ("returns_how_to",), True),
            Extracted("I love it though.", 25, 42, ("x",), False, kind="request"),
            Extracted("Is there anything else?", 45, 68, ("x",), True),
        ]

    score = score_emails([row], extract)
    assert score.noise_by_kind == {
        "greeting": 0,
        "signoff": 1,
        "signature": 0,
        "quoted": 1,
        "statement": 0,
    }
    assert score.guaranteed_noise_hits == 2 and score.noise_hits == 2
    # A request over a statement is no claim that the customer asked: counted apart.
    assert (score.requests, score.requests_on_statements) == (1, 1)
    with pytest.raises(ValueError, match="unknown noise kind"):
        noise_in({**row, "noise": [{"text": "Hi,", "kind": "salutation"}]})


@pytest.mark.parametrize(
    ("noise", "kind"),
    [
        ("Hi there,", "greeting"),
        ("I ordered a ring on Monday.", "statement"),
        ("Best regards,\nCarla Jensen", "signoff"),
        ("+1 555 0100", "signoff"),
        ("On Tue, Mar 3, 2026 at 9:14 AM KNT <service@kntofficial.com> wrote:", "quoted"),
        ("> Can you confirm the order number?", "quoted"),
        ("Do you have any other questions?", "quoted"),
    ],
)
def test_classify_noise_of_older_files(noise: str, kind: str) -> None:
    email = (
        "Hi there,\n\nI ordered a ring on Monday. When will it ship?\n\n"
        "Best regards,\nCarla Jensen\n+1 555 0100\n\n"
        "On Tue, Mar 3, 2026 at 9:14 AM KNT <service@kntofficial.com> wrote:\n"
        "> Can you confirm the order number?\n\n"
        "-----Original Message-----\nFrom: KNT\n\nDo you have any other questions?"
    )
    at = email.index(noise)
    assert classify_noise(email, at, at + len(noise), ["When will it ship?"]) == kind


def test_classify_noise_below_a_quote_and_after_a_ps() -> None:
    # A reply written below the quote: only the ">" lines (and the header) are quoted.
    email = (
        "On Mon, Feb 2, 2026 at 3:45 PM KNT wrote:\n> Your ring has shipped.\n\n"
        "Thanks. Will they try again if I miss them?\n\nNoah"
    )
    question = ["Will they try again if I miss them?"]
    for noise, kind in [("Thanks.", "statement"), ("Noah", "signoff"), ("> Your", "quoted")]:
        at = email.index(noise)
        assert classify_noise(email, at, at + len(noise), question) == kind, noise
    # A "From:" header on top of the customer's own text is no earlier message below it.
    top = "From: Olivia Brown\nSent: Thursday\n\nHi,\n\nIs it insured?\n\nOlivia"
    at = top.index("Is it")
    assert classify_noise(top, at, at + 14) == "statement"
    at = top.rindex("Olivia")
    assert classify_noise(top, at, at + 6, ["Is it insured?"]) == "signoff"
    # A P.S. after the sign-off is the customer's again.
    ps = "Hi,\n\nCan I return it?\n\nThanks,\nEve\n\nP.S. I love the colour. Is it insured?"
    at = ps.index("I love")
    assert classify_noise(ps, at, at + 15, ["Can I return it?", "Is it insured?"]) == "statement"
    at = ps.index("Thanks,")
    assert classify_noise(ps, at, at + 11, ["Can I return it?", "Is it insured?"]) == "signoff"


def test_dev_emails_metrics(engine: Any, nlp: Any) -> None:
    rows = load_jsonl(EMAILS_DEV)
    ours = score_emails(rows, email_extractor(engine, nlp))
    assert ours.bad_annotations == 0
    assert ours.found_answered_rate >= DEV_FOUND_ANSWERED_FLOOR, ours.failures
    assert ours.guaranteed_noise_hits == 0, ours.failures
    # Statements taken for questions: none among dev01-dev433; 8 among the later e-mails
    # (run-on reasons on a question's line: "how long til my ring ships ordered last tues").
    assert ours.noise_by_kind["statement"] <= 8, ours.failures
    naive = score_emails(rows, naive_extractor(engine))
    assert naive.noise_hits > 10 * max(ours.noise_hits, 1)


def test_heldout_messages_top3(engine: Any) -> None:
    if not QUESTIONS_HELDOUT.is_file():
        pytest.skip(f"{QUESTIONS_HELDOUT.name} is not there yet (written independently)")
    score = score_suggestions(load_jsonl(QUESTIONS_HELDOUT), engine)
    assert score.questions > 0
    assert score.top3 / score.questions >= 0.98, score.failures


@pytest.mark.parametrize("path", EMAILS_HELDOUT, ids=lambda p: p.stem)
def test_heldout_emails(engine: Any, nlp: Any, path: Any) -> None:
    if not path.is_file():
        pytest.skip(f"{path.name} is not there yet (written independently)")
    score = score_emails(load_jsonl(path), email_extractor(engine, nlp))
    # Counts only: the held-out e-mails' texts are not printed, so that nobody tunes on them
    # (`bench/staff_suggest.py --failures` lists them for whoever decides to look).
    summary = {
        "found_answered_rate": round(score.found_answered_rate, 4),
        "noise_by_kind": score.noise_by_kind,
    }
    assert score.bad_annotations == 0, summary
    # The hard guarantee: no greeting, sign-off, signature or quoted line is ever a question.
    assert sorted(GUARANTEED_KINDS) == ["greeting", "quoted", "signature", "signoff"]
    assert score.guaranteed_noise_hits == 0, summary
    assert score.found_answered_rate >= HELDOUT_FOUND_ANSWERED_FLOOR[path.stem], summary


def test_noise_text_counts_only_where_it_stands_as_words() -> None:
    from bot.staff.email_eval import occurrences

    email = "hi\nwe live in chicago, hi again"
    # "hi" inside "chicago" is not the greeting: counting it would charge a question about
    # Chicago with a greeting taken.
    assert occurrences(email, "hi") == [(0, 2), (23, 25)]
    assert occurrences(email, "chicago,") == [(14, 22)]
    assert occurrences(email, ", hi") == [(21, 25)]
