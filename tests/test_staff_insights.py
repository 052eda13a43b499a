"""Insights over a real app database (SQLite and PostgreSQL) built through the real stores,
with every number known in advance; unanswered questions grouped by the real FAQ engine."""

from __future__ import annotations

import itertools
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from sqlalchemy import insert, select, update

from bot.db import get_engine
from bot.faq.corpus import load_corpus, load_file
from bot.faq.unanswered import UnansweredLog, unanswered
from bot.gateway.transcripts import (
    Conversation,
    Message,
    TranscriptStore,
    chat_conversations,
    chat_messages,
    chat_sessions,
)
from bot.staff.accounts import StaffAccounts
from bot.staff.insights import (
    GROUP_THRESHOLD,
    compute_insights,
    group_questions,
    normalize_question,
    paraphrase_line,
    unanswered_groups,
)
from bot.staff.queue import HandoffStore
from bot.staff.redact import Redactor

from .orders_helpers import postgres_database

NOW = datetime(2026, 11, 30, 15, 0, tzinfo=UTC)


def at(day: int, hour: int = 10, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, second, tzinfo=UTC)


class Shop:
    """The real stores on one database, with the clock set by the test: the stores stamp
    the current time, so each row is moved to its moment afterwards (no store method
    does that)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.transcripts = TranscriptStore(url)
        self.queue = HandoffStore(url)
        self.unanswered = UnansweredLog(url)
        self.agent = StaffAccounts(url).add("mia@kntofficial.com", "Mia Jensen", "a-long-secret-1")
        self.db = get_engine(url)
        self._ids = itertools.count(1)

    def _move(self, table: Any, key: Any, when: datetime, column: str = "created_at") -> None:
        with self.db.begin() as conn:
            conn.execute(update(table).where(table.c.id == key).values({column: when}))

    def conversation(self, when: datetime) -> Conversation:
        conv = self.transcripts.open_session(f"session-{next(self._ids)}")
        self._move(chat_conversations, conv.id, when)
        return conv

    def ask(
        self,
        conv: Conversation,
        when: datetime,
        text: str,
        replies: list[dict[str, Any]] | None = None,
        feedback: str | None = None,
    ) -> list[Message]:
        """A shopper message and the bot's replies a second later (none: Rasa was down)."""
        message, _ = self.transcripts.add_shopper(conv, f"client-{next(self._ids)}", text, None)
        self._move(chat_messages, message.id, when)
        answers = self.transcripts.answer(message.id, replies) if replies else []
        for reply in answers:
            self._move(chat_messages, reply.id, when + timedelta(seconds=1))
            if reply.custom and "handoff" in reply.custom:
                self._move(chat_conversations, conv.id, when, "handoff_at")
        if feedback:
            assert self.transcripts.set_feedback(conv.session_id, answers[0].id, feedback)
        return answers

    def reply(self, conv: Conversation, when: datetime, suggestion_use: str) -> None:
        message, _ = self.transcripts.add_staff_message(
            conv.id,
            "agent",
            "Happy to help!",
            author_id=self.agent.id,
            author_name="Mia",
            suggestion_use=suggestion_use,
            suggestion_source="shipping_production_time",
        )
        self._move(chat_messages, message.id, when)

    def record(self, conv: Conversation, when: datetime, question: str) -> None:
        self.unanswered.record(conv.id, question, "faq", None, None)
        with self.db.begin() as conn:
            newest = conn.execute(select(unanswered.c.id).order_by(unanswered.c.id.desc())).first()
            assert newest is not None
        self._move(unanswered, newest.id, when)


FALLBACK = {"text": "Sorry, I don't know that one.", "custom": {"fallback": {"misses": 1}}}


def answer(text: str = "Here is what our FAQ says.") -> dict[str, Any]:
    return {"text": text}


def handoff(reason: str) -> list[dict[str, Any]]:
    return [{"text": "A person will take over."}, {"custom": {"handoff": {"reason": reason}}}]


def build(shop: Shop) -> None:
    """Seven days, 2026-11-24 .. 2026-11-30; the numbers are worked out in EXPECTED."""
    q = shop.queue
    # Outside the window (its replies a second before it starts), with all that counts.
    old = shop.conversation(at(23, 23, 59))
    shop.ask(
        old, at(23, 23, 59, 58), "old question", [FALLBACK, *handoff("faq_unanswered")], "down"
    )
    q.start(old.id, "faq_unanswered", now=at(20))
    q.claim(old.id, shop.agent, now=at(20, 10, 1))
    shop.reply(old, at(23, 12), "unchanged")
    q.end(old.id, shop.agent, "closed", now=at(20, 11))
    shop.record(old, at(23, 23, 59, 59), "Do you engrave rings?")

    # 11-24: answered and liked (on the first second of the window); a fallback, then a
    # thumbs-down.
    c1 = shop.conversation(at(24, 0))
    shop.ask(c1, at(24, 0, 0, 0), "do you ship to canada?", [answer()], "up")
    c2 = shop.conversation(at(24, 11))
    shop.ask(c2, at(24, 11), "can you engrave my ring?", [FALLBACK])
    shop.ask(c2, at(24, 11, 5), "ok, and gift wrap?", [answer()], "down")
    shop.record(c2, at(24, 11), "can you engrave my ring?")
    # 11-25: a page view only (the widget's hello opens a conversation, nobody types).
    shop.conversation(at(25, 9))
    # 11-26: the shopper asks for a person (claimed after 120 s, first reply after 300 s);
    # two fallbacks and a hand-off (claimed after 60 s, first reply after 90 s).
    c3 = shop.conversation(at(26, 10))
    shop.ask(c3, at(26, 10), "a person please", handoff("shopper_asked"))
    q.start(c3.id, "shopper_asked", now=at(26, 10, 0, 1))
    q.claim(c3.id, shop.agent, now=at(26, 10, 2, 1))
    shop.reply(c3, at(26, 10, 5, 1), "unchanged")
    q.first_reply(c3.id, now=at(26, 10, 5, 1))
    q.end(c3.id, shop.agent, "closed", now=at(26, 10, 20))
    c4 = shop.conversation(at(26, 12))
    shop.ask(c4, at(26, 12), "do you sell watches", [FALLBACK])
    shop.ask(c4, at(26, 12, 1), "Can you engrave my ring", [FALLBACK, *handoff("faq_unanswered")])
    shop.record(c4, at(26, 12), "do you sell watches")
    shop.record(c4, at(26, 12, 1), "Can you engrave my ring")
    q.start(c4.id, "faq_unanswered", now=at(26, 12, 2))
    q.claim(c4.id, shop.agent, now=at(26, 12, 3))
    q.first_reply(c4.id, now=at(26, 12, 3, 30))
    shop.reply(c4, at(26, 12, 3, 30), "edited")
    q.end(c4.id, shop.agent, "handed_back", now=at(26, 12, 30))
    # 11-27: the order system was down before hand-offs had their table (only the
    # conversation's handoff_at); and a conversation over midnight (11-27 and 11-28).
    c10 = shop.conversation(at(27, 10))
    shop.ask(c10, at(27, 10), "is my order KNT-1001 shipped?", handoff("order_system_down"))
    c9 = shop.conversation(at(27, 23))
    shop.ask(c9, at(27, 23, 59), "do you ship to canada", [answer()])
    shop.ask(c9, at(28, 0, 1), "and to mexico?", [answer()])
    # 11-28: handed off, never claimed; the shopper's next message still waits for Rasa.
    c5 = shop.conversation(at(28, 9))
    shop.ask(c5, at(28, 9), "talk to a human", handoff("shopper_asked"))
    q.start(c5.id, "shopper_asked", now=at(28, 9, 0, 1))
    shop.ask(c5, at(28, 9, 10), "hello?")
    shop.record(c5, at(28, 9, 10), "My name is Ava Thompson, can you ENGRAVE my ring??")
    # 11-29: an agent takes a conversation over from the bot.
    c6 = shop.conversation(at(29, 14))
    shop.ask(c6, at(29, 14), "where is my order", [answer()])
    q.claim(c6.id, shop.agent, now=at(29, 14, 5))
    shop.reply(c6, at(29, 14, 6), "none")
    q.first_reply(c6.id, now=at(29, 14, 6))
    q.end(c6.id, shop.agent, "closed", now=at(29, 14, 30))
    # 11-30: Rasa was down, nobody answered.
    c7 = shop.conversation(at(30, 8))
    shop.ask(c7, at(30, 8), "are you open on sundays")
    shop.record(c7, at(30, 8), "email ava@example.com about order #1001 please")


EXPECTED: dict[str, Any] = {
    "days": 7,
    "from": "2026-11-24",
    "to": "2026-11-30",
    "per_day": [
        {"date": "2026-11-24", "conversations": 2, "handoffs": 0},
        {"date": "2026-11-25", "conversations": 0, "handoffs": 0},
        {"date": "2026-11-26", "conversations": 2, "handoffs": 2},
        {"date": "2026-11-27", "conversations": 2, "handoffs": 1},
        {"date": "2026-11-28", "conversations": 2, "handoffs": 1},
        {"date": "2026-11-29", "conversations": 1, "handoffs": 1},
        {"date": "2026-11-30", "conversations": 1, "handoffs": 0},
    ],
    "totals": {
        # c1 c2 c3 c4 c5 c6 c7 c9 c10; resolved: c1, c7, c9
        "conversations": 9,
        "resolved_by_bot": 3,
        "resolved_by_bot_share": 0.3333,
        # 1 + 2 + 1 + 2 + 2 + 1 + 1 + 2 + 1; all answered but c5's second and c7's
        "shopper_messages": 13,
        "bot_answers": 11,
        "fallbacks": 3,  # c2's one, c4's two
        "fallback_rate": 0.2727,
        "handoffs": 5,
    },
    "handoffs_by_reason": [
        {"reason": "shopper_asked", "count": 2},
        {"reason": "agent_took_over", "count": 1},
        {"reason": "faq_unanswered", "count": 1},
        {"reason": "order_system_down", "count": 1},
    ],
    # c3: 120 s / 300 s, c4: 60 s / 90 s, c5: never; c6's take-over is no wait.
    "wait": {
        "claimed_median_seconds": 90.0,
        "first_reply_median_seconds": 195.0,
        "claimed": 2,
        "never_claimed": 1,
    },
    "feedback": {"up": 1, "down": 1},
    "suggestion_use": {"unchanged": 1, "edited": 1, "none": 1},
    # Without the engine only the same question (case, spaces, punctuation aside) groups.
    "unanswered": [
        {
            "count": 2,
            "questions": ["Can you engrave my ring"],
            "closest": None,
            "yaml": '  - "Can you engrave my ring"',
        },
        {
            "count": 1,
            "questions": ["email [email] about order [order] please"],
            "closest": None,
            "yaml": '  - "email [email] about order [order] please"',
        },
        {
            "count": 1,
            "questions": ["My name is [name], can you ENGRAVE my ring??"],
            "closest": None,
            "yaml": '  - "My name is [name], can you ENGRAVE my ring??"',
        },
        {
            "count": 1,
            "questions": ["do you sell watches"],
            "closest": None,
            "yaml": '  - "do you sell watches"',
        },
    ],
}


def test_every_number_on_sqlite(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'app.db'}"
    build(Shop(url))
    assert compute_insights(url, days=7, now=NOW) == EXPECTED


def test_every_number_on_postgresql() -> None:
    with postgres_database() as url:
        build(Shop(url))
        assert compute_insights(url, days=7, now=NOW) == EXPECTED
        get_engine(url).dispose()  # the database is dropped next


def test_the_window_ends_today_and_counts_whole_utc_days(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'app.db'}"
    build(Shop(url))
    one = compute_insights(url, days=1, now=datetime(2026, 11, 30, 23, 59, 59))  # naive = UTC
    assert (one["from"], one["to"], one["per_day"]) == (
        "2026-11-30",
        "2026-11-30",
        [{"date": "2026-11-30", "conversations": 1, "handoffs": 0}],
    )
    assert one["totals"]["resolved_by_bot_share"] == 1.0
    assert one["totals"]["fallback_rate"] is None  # nothing the bot answered
    empty = compute_insights(url, days=3, now=datetime(2027, 6, 1, tzinfo=UTC))
    assert empty["totals"]["resolved_by_bot_share"] is None
    assert empty["wait"]["claimed_median_seconds"] is None
    assert [d["conversations"] for d in empty["per_day"]] == [0, 0, 0]
    assert json.loads(json.dumps(empty)) == empty
    with pytest.raises(ValueError):
        compute_insights(url, days=0, now=NOW)


# --- unanswered questions, grouped by meaning ------------------------------------------

# Hand-written, none of them in the corpus. Same question in other words:
PARAPHRASES = [
    ("can you engrave my ring?", "do you offer engraving?"),
    ("do you gift wrap?", "can you wrap it as a present"),
    ("do you have a physical store i can visit", "is there a showroom i can visit"),
    ("do you sell watches", "do you carry wristwatches"),
    ("can you send me a ring sizer", "do you mail out ring sizers"),
    ("are your diamonds lab grown", "do you use lab-created diamonds"),
    ("do you sell gift cards", "are gift cards available"),
    ("is the metal nickel free", "do your rings contain nickel"),
    ("how should i clean my ring", "what's the best way to clean my ring"),
    ("do you have a student discount", "any discounts for students?"),
    ("do you ship to canada", "can i order from canada"),
    ("do you sell men's wedding bands", "have you got wedding rings for men"),
]
# Different questions, most of them on a near topic:
DIFFERENT = [
    ("do you gift wrap?", "do you sell gift cards"),
    ("can you send me a ring sizer", "can my ring be resized later"),
    ("how should i clean my ring", "can i wear my ring in the shower"),
    ("do you sell watches", "do you sell men's wedding bands"),
    ("are your diamonds lab grown", "does the diamond come with a GIA certificate"),
    ("can you engrave my ring?", "can my ring be resized later"),
    ("do you ship to canada", "how much is shipping to canada"),
    ("is the metal nickel free", "is the gold solid or plated"),
    ("can i pick up my order in person", "do you have a physical store i can visit"),
    ("do you have a loyalty program", "do you have a student discount"),
]


def _cosines(engine: Any, pairs: list[tuple[str, str]]) -> np.ndarray:
    left = engine.encoder.encode([a for a, _ in pairs])
    right = engine.encoder.encode([b for _, b in pairs])
    return np.asarray((left * right).sum(axis=1))


def test_the_threshold_joins_paraphrases_and_keeps_different_questions_apart(engine) -> None:
    same = _cosines(engine, PARAPHRASES)
    different = _cosines(engine, DIFFERENT)
    # Measured: paraphrases 0.63-0.94 (11 of 12 at or above 0.65), different ones up to 0.64.
    assert (same >= GROUP_THRESHOLD).mean() >= 0.8, same.round(3)
    assert (different < GROUP_THRESHOLD).all(), different.round(3)


def test_grouping_takes_the_best_connected_question_first() -> None:
    # 0 and 1 are near 2 but not near each other; 3 is alone; 2 leads (two neighbours).
    vectors = np.array(
        [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.7071, 0.7071, 0.0], [0.0, 0.0, 1.0]],
        dtype=np.float32,
    )
    assert group_questions(vectors, [1, 1, 1, 1], threshold=0.7) == [[0, 1, 2], [3]]
    # A chain 0 - 1 - 2 - 3 (40 degrees apart: neighbours 0.77, next but one 0.17) is
    # never one group; the weights say where it is cut.
    angles = np.radians([0, 40, 80, 120])
    chain = np.stack([np.cos(angles), np.sin(angles), np.zeros(4)], axis=1).astype(np.float32)
    assert group_questions(chain, [1, 1, 1, 1], threshold=0.7) == [[0, 1, 2], [3]]
    assert group_questions(chain, [1, 1, 1, 5], threshold=0.7) == [[1, 2, 3], [0]]
    assert group_questions(np.zeros((0, 3), dtype=np.float32), []) == []
    assert group_questions(np.zeros((1, 3), dtype=np.float32), [1]) == [[0]]


def test_normalized_questions() -> None:
    assert normalize_question("  Can you ENGRAVE my ring?? ") == "can you engrave my ring"
    assert normalize_question("ｄｏ you  ship?") == "do you ship"
    assert normalize_question("?!") == ""


QUESTIONS = [  # newest first, as compute_insights reads them
    "Can you engrave my ring",
    "do you gift wrap? it's for my wife Maria Lopez",
    "do you sell watches",
    "hi, my name is Ava Thompson, can you engrave the inside of the band?",
    "can you wrap it as a present",
    "do you offer engraving?",
    "do you carry wristwatches",
    "can you engrave my ring?",
    "do you sell gift cards",
    "how much is shipping to canada",
    "can you engrave my order KNT-1001 with our initials",
    "Do you ship to Canada? write to ben@example.com",
]


@pytest.fixture(scope="session")
def redactor(settings) -> Redactor:  # type: ignore[no-untyped-def]
    from bot.staff.nlp import full_pipeline

    return Redactor(full_pipeline(settings.faq_spacy_model))


def test_unanswered_questions_are_grouped_by_meaning(engine, redactor, corpus_dir) -> None:
    groups = unanswered_groups(QUESTIONS, engine, redactor, corpus_dir)
    # The second time the vectors come from the cache: the same groups.
    assert unanswered_groups(QUESTIONS, engine, redactor, corpus_dir) == groups
    assert [(g["count"], g["questions"]) for g in groups] == [
        (
            5,
            [
                "Can you engrave my ring",  # "can you engrave my ring?" is the same question
                "hi, my name is [name], can you engrave the inside of the band?",
                "do you offer engraving?",
                "can you engrave my order [order] with our initials",
            ],
        ),
        (2, ["do you gift wrap? it's for my wife [name]", "can you wrap it as a present"]),
        (2, ["do you sell watches", "do you carry wristwatches"]),
        (1, ["do you sell gift cards"]),
        (1, ["how much is shipping to canada"]),
        (1, ["Do you ship to Canada? write to [email]"]),
    ]
    text = json.dumps(groups, ensure_ascii=False)
    for secret in ("Ava", "Thompson", "Maria", "Lopez", "KNT-1001", "1001", "ben@example.com"):
        assert secret not in text
    corpus = engine.corpus
    for group in groups:
        closest = group["closest"]
        entry = corpus.get(closest["faq_id"])
        assert (closest["question"], closest["section"]) == (entry.question, entry.section)
        assert 0 <= closest["score"] <= 1
        assert closest["file"] in {f"faq_corpus/{p.name}" for p in corpus_dir.glob("*.yml")}
        assert closest["faq_id"] in {
            e.id for e in load_file(corpus_dir / Path(closest["file"]).name)
        }
    # Asked again after the corpus learnt it: the engine would answer it now.
    answered = unanswered_groups(["when will my order ship?"], engine, redactor, corpus_dir)
    assert answered[0]["closest"]["faq_id"] == "orders_ship_time"
    assert answered[0]["closest"]["abstained"] is False
    assert groups[0]["closest"]["abstained"] is True


def test_the_yaml_line_pastes_under_the_closest_entry(engine, redactor, corpus_dir) -> None:
    groups = unanswered_groups(QUESTIONS, engine, redactor, corpus_dir)
    for group in groups:
        line = group["yaml"]
        (question,) = yaml.safe_load(f"paraphrases:\n{line}")["paraphrases"]
        assert question in group["questions"]
        # Pasted as the first item under the entry's `paraphrases:`, the file still loads
        # and the entry has the new paraphrase.
        faq_id = group["closest"]["faq_id"]
        path = corpus_dir / Path(group["closest"]["file"]).name
        lines = path.read_text(encoding="utf-8").splitlines()
        start = lines.index(f"- id: {faq_id}")
        key = next(i for i in range(start, len(lines)) if lines[i].strip() == "paraphrases:")
        lines.insert(key + 1, line)
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        entry = next(e for e in load_file(path) if e.id == faq_id)
        assert entry.paraphrases[0] == question
    assert len(load_corpus(corpus_dir)) == len(engine.corpus)


@pytest.mark.parametrize(
    "text",
    [
        'he said "hi" \\ bye',
        "key: value # not a comment",
        "- a list? [x] {y} & *z !tag %p @q `r`",
        "yes",
        "null",
        "line\nbreak\ttab",
        "עברית ועוד 中文 🙂",
        "'single' and \u0007 bell",
    ],
)
def test_paraphrase_lines_are_valid_yaml(text: str) -> None:
    line = paraphrase_line(text)
    assert "\n" not in line and line.startswith('  - "')
    expected = " ".join(text.split())
    assert yaml.safe_load(f"paraphrases:\n{line}") == {"paraphrases": [expected]}


def test_insights_with_the_engine_and_spacy(tmp_path: Path, engine, redactor) -> None:
    url = f"sqlite:///{tmp_path / 'app.db'}"
    build(Shop(url))
    result = compute_insights(url, days=7, now=NOW, engine=engine, redactor=redactor)
    assert {k: v for k, v in result.items() if k != "unanswered"} == {
        k: v for k, v in EXPECTED.items() if k != "unanswered"
    }
    first = result["unanswered"][0]
    assert first["count"] == 3  # the three ways of asking to engrave a ring
    assert first["questions"] == [
        "My name is [name], can you ENGRAVE my ring??",
        "Can you engrave my ring",
    ]
    assert first["closest"]["file"].startswith("faq_corpus/")
    assert "Ava" not in json.dumps(result) and "ava@example.com" not in json.dumps(result)


# --- size -------------------------------------------------------------------------------


def test_a_hundred_thousand_messages_take_a_second_or_two(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'big.db'}"
    TranscriptStore(url)  # migrates
    db = get_engine(url)
    conversations, per_conversation = 10_000, 10
    sessions, convs, messages = [], [], []
    for n in range(conversations):
        when = NOW - timedelta(days=n % 30, minutes=n % 600)
        sid, cid = f"s{n}", f"web-{n}"
        sessions.append(
            {"id": sid, "created_at": when, "last_seen_at": when, "conversation_id": cid}
        )
        convs.append({"id": cid, "session_id": sid, "created_at": when})
        for k in range(per_conversation):
            shopper = k % 2 == 0
            messages.append(
                {
                    "session_id": sid,
                    "conversation_id": cid,
                    "role": "shopper" if shopper else "bot",
                    "text": "do you ship to canada?" if shopper else "Yes, we do.",
                    "status": "answered" if shopper else None,
                    "custom": {"fallback": {"misses": 1}} if not shopper and k == 1 else None,
                    "feedback": "down" if not shopper and n % 7 == 0 and k == 1 else None,
                    "created_at": when + timedelta(seconds=k),
                }
            )
    with db.begin() as conn:
        conn.execute(insert(chat_sessions), sessions)
        conn.execute(insert(chat_conversations), convs)
        conn.execute(insert(chat_messages), messages)
    started = time.perf_counter()
    result = compute_insights(url, days=30, now=NOW)
    elapsed = time.perf_counter() - started
    print(f"compute_insights over {len(messages)} messages: {elapsed * 1000:.0f} ms")
    totals = result["totals"]
    assert totals["conversations"] == conversations
    assert totals["shopper_messages"] == totals["bot_answers"] == conversations * 5
    assert totals["fallbacks"] == conversations
    assert result["feedback"]["down"] == len(range(0, conversations, 7))
    assert totals["resolved_by_bot"] == conversations - len(range(0, conversations, 7))
    assert elapsed < 4, elapsed
