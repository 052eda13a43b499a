"""What shoppers ask and how the hand-offs go, for the staff console's Insights page.

`compute_insights` reads the transcripts, the hand-offs and the unanswered questions of the
last `days` UTC days (today included, days without anything included) and returns plain
JSON. Definitions:

- A conversation counts on a day when the shopper wrote in it that day: the widget's hello
  opens a conversation before anyone types, so counting by creation would count page views.
  A conversation the shopper wrote in on two days counts on both days, once in the totals.
- Resolved by the bot: a counted conversation that was never handed off (no hand-off row,
  no hand-off payload) and none of whose answers got a thumbs-down.
- Fallback rate: the bot's "I don't know" replies (custom `{"fallback": ...}`) divided by
  the shopper messages the bot answered (status `answered`; messages for an agent or still
  waiting for Rasa are not the bot's to answer).
- Hand-offs: hand-offs started in the window, agents' take-overs included (reason
  `agent_took_over`); a conversation handed off before the hand-off table existed counts
  by its `handoff_at`. Waits are over the hand-offs a shopper waited on (take-overs, which
  are claimed when they start, would only pull the medians to zero): claimed minus started,
  first agent reply minus started; `never_claimed` includes those still waiting.
- Feedback and suggestion use: the thumbs on the bot's answers, and how agents' replies
  used a suggestion, for the messages written in the window.
- Unanswered questions (the MAX_UNANSWERED most recent) are grouped by meaning
  (`group_questions`), largest groups first. A group's `closest` is the engine's best entry
  for its representative (the member nearest the group's centroid) with the fused score,
  plus `abstained` (False when the engine would answer that question now); its `yaml` is
  the representative as a paraphrase item, indented like the items in the entry's file.

Every text in the result went through the redactor; everything else is a number, a date,
a reason code or the FAQ's own text.
"""

from __future__ import annotations

import re
import statistics
import threading
import unicodedata
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import yaml
from sqlalchemy import ColumnElement, and_, case, distinct, exists, func, literal_column, select

from bot.db import get_engine, migrate_app_db
from bot.faq.unanswered import unanswered
from bot.gateway.transcripts import chat_conversations, chat_messages
from bot.settings import PROJECT_ROOT, Settings
from bot.staff.queue import TAKEN_OVER
from bot.staff.redact import Redactor
from bot.staff.tables import chat_handoffs

if TYPE_CHECKING:
    from bot.faq.engine import FaqEngine

# Two unanswered questions are one group when their vectors' cosine is at least this.
# Measured with the project's fine-tuned encoder on hand-written pairs of questions the
# FAQ does not answer (tests/test_staff_insights.py): true paraphrases ("do you gift
# wrap?" / "can you wrap it as a present") score 0.63-0.94, most above 0.65; different
# questions on a near topic ("do you gift wrap?" / "do you sell gift cards", "do you ship
# to canada" / "how much is shipping to canada") up to 0.64. A wrong merge tells staff to
# paste a paraphrase under the wrong question; a missed one only splits a count, so the
# threshold sits just above the near-topic pairs.
GROUP_THRESHOLD = 0.65
# Only the most recent unanswered questions are grouped (and counted): encoding costs
# 1.5-3.5 ms a question in batches on these busy cores (1,000 distinct questions: 1.5-3.5 s
# the first time, 0.3 s after that from the cache below), so the page stays usable even in
# a bad month.
MAX_UNANSWERED = 1_000
TOP_GROUPS = 10
QUESTIONS_PER_GROUP = 5
_ENCODE_BATCH = 64
# The C loader is several times faster; fall back to the pure-Python one where missing.
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _utc(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; the app stores UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _day(column: Any, dialect: str) -> ColumnElement[Any]:
    """The UTC calendar day of a timestamp column, as 'YYYY-MM-DD', in SQL."""
    if dialect == "postgresql":
        return func.to_char(func.timezone("UTC", column), "YYYY-MM-DD")
    if dialect == "sqlite":
        # SQLAlchemy stores SQLite datetimes as 'YYYY-MM-DD HH:MM:SS.ffffff', in UTC here.
        return func.substr(column, 1, 10)
    return func.date(column)


def _dates(first: date, days: int) -> list[str]:
    return [(first + timedelta(days=i)).isoformat() for i in range(days)]


def _count(condition: ColumnElement[bool]) -> ColumnElement[Any]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _median_seconds(values: list[float]) -> float | None:
    return round(statistics.median(values), 1) if values else None


def compute_insights(
    database_url: str,
    days: int = 30,
    now: datetime | None = None,
    engine: FaqEngine | None = None,
    redactor: Redactor | None = None,
    corpus_dir: Path | None = None,
) -> dict[str, Any]:
    """The Insights page's data for the last `days` UTC days (see the module docstring).

    `engine` groups the unanswered questions by meaning and finds each group's closest FAQ
    entry (without it only identical questions are grouped). `redactor` defaults to the
    patterns-only `Redactor()`; pass one with spaCy to redact names too. `corpus_dir`
    (default: the FAQ_CORPUS_DIR setting) says which file holds which FAQ entry.
    """
    if days < 1:
        raise ValueError("days must be at least 1")
    now = _utc(now or datetime.now(UTC))
    last = now.date()
    first = last - timedelta(days=days - 1)
    start = datetime(first.year, first.month, first.day, tzinfo=UTC)
    end = datetime(last.year, last.month, last.day, tzinfo=UTC) + timedelta(days=1)
    redactor = redactor or Redactor()

    migrate_app_db(database_url)
    db = get_engine(database_url)
    dialect = db.dialect.name
    m, c, h = chat_messages, chat_conversations, chat_handoffs
    in_window = and_(m.c.created_at >= start, m.c.created_at < end)
    shopper, bot, agent = m.c.role == "shopper", m.c.role == "bot", m.c.role == "agent"
    # as_string(): JSON_EXTRACT / ->> give SQL NULL when the key is missing.
    fallback = m.c.custom["fallback"].as_string().is_not(None)
    day = _day(m.c.created_at, dialect).label("day")

    with db.connect() as conn:
        conversations_by_day: dict[str, int] = {
            str(d): int(n)
            for d, n in conn.execute(
                select(day, func.count(distinct(m.c.conversation_id)))
                .where(in_window, shopper)
                .group_by(literal_column("day"))
            )
        }
        totals = conn.execute(
            select(
                func.count(distinct(case((shopper, m.c.conversation_id)))).label("conversations"),
                _count(shopper).label("shopper_messages"),
                _count(shopper & (m.c.status == "answered")).label("bot_answers"),
                _count(bot & fallback).label("fallbacks"),
                _count(bot & (m.c.feedback == "up")).label("up"),
                _count(bot & (m.c.feedback == "down")).label("down"),
                _count(agent & (m.c.suggestion_use == "unchanged")).label("unchanged"),
                _count(agent & (m.c.suggestion_use == "edited")).label("edited"),
                _count(agent & (m.c.suggestion_use == "none")).label("none"),
            ).where(in_window)
        ).one()
        counted = select(m.c.conversation_id).where(in_window, shopper).distinct().subquery()
        down = m.alias("down")
        resolved = conn.execute(
            select(func.count())
            .select_from(counted.join(c, c.c.id == counted.c.conversation_id))
            .where(
                c.c.handoff_reason.is_(None),
                ~exists().where(h.c.conversation_id == counted.c.conversation_id),
                ~exists().where(
                    down.c.conversation_id == counted.c.conversation_id,
                    down.c.role == "bot",
                    down.c.feedback == "down",
                ),
            )
        ).scalar_one()
        # One row per hand-off: a few per hundred conversations, so the waits' medians
        # are taken here rather than in dialect-specific SQL.
        handoffs = conn.execute(
            select(h.c.created_at, h.c.reason, h.c.claimed_at, h.c.first_reply_at).where(
                h.c.created_at >= start, h.c.created_at < end
            )
        ).all()
        legacy = conn.execute(
            select(c.c.handoff_at, c.c.handoff_reason).where(
                c.c.handoff_at >= start,
                c.c.handoff_at < end,
                ~exists().where(h.c.conversation_id == c.c.id),
            )
        ).all()
        questions = conn.execute(
            select(unanswered.c.question)
            .where(unanswered.c.created_at >= start, unanswered.c.created_at < end)
            .order_by(unanswered.c.created_at.desc(), unanswered.c.id.desc())
            .limit(MAX_UNANSWERED)
        ).all()

    handoffs_by_day: dict[str, int] = {}
    reasons: dict[str, int] = {}
    claimed_waits: list[float] = []
    reply_waits: list[float] = []
    never_claimed = 0
    for when, reason in [(r.created_at, r.reason) for r in handoffs] + [
        (r.handoff_at, r.handoff_reason) for r in legacy
    ]:
        key = _utc(when).date().isoformat()
        handoffs_by_day[key] = handoffs_by_day.get(key, 0) + 1
        reasons[reason or "unknown"] = reasons.get(reason or "unknown", 0) + 1
    for row in handoffs:
        if row.reason == TAKEN_OVER:
            continue
        started = _utc(row.created_at)
        if row.claimed_at is None:
            never_claimed += 1
        else:
            claimed_waits.append((_utc(row.claimed_at) - started).total_seconds())
        if row.first_reply_at is not None:
            reply_waits.append((_utc(row.first_reply_at) - started).total_seconds())

    return {
        "days": days,
        "from": first.isoformat(),
        "to": last.isoformat(),
        "per_day": [
            {
                "date": d,
                "conversations": int(conversations_by_day.get(d, 0)),
                "handoffs": handoffs_by_day.get(d, 0),
            }
            for d in _dates(first, days)
        ],
        "totals": {
            "conversations": int(totals.conversations),
            "resolved_by_bot": int(resolved),
            "resolved_by_bot_share": _share(int(resolved), int(totals.conversations)),
            "shopper_messages": int(totals.shopper_messages),
            "bot_answers": int(totals.bot_answers),
            "fallbacks": int(totals.fallbacks),
            "fallback_rate": _share(int(totals.fallbacks), int(totals.bot_answers)),
            "handoffs": len(handoffs) + len(legacy),
        },
        "handoffs_by_reason": [
            {"reason": reason, "count": n}
            for reason, n in sorted(reasons.items(), key=lambda item: (-item[1], item[0]))
        ],
        "wait": {
            "claimed_median_seconds": _median_seconds(claimed_waits),
            "first_reply_median_seconds": _median_seconds(reply_waits),
            "claimed": len(claimed_waits),
            "never_claimed": never_claimed,
        },
        "feedback": {"up": int(totals.up), "down": int(totals.down)},
        "suggestion_use": {
            "unchanged": int(totals.unchanged),
            "edited": int(totals.edited),
            "none": int(totals.none),
        },
        "unanswered": unanswered_groups(
            [r.question for r in questions], engine, redactor, corpus_dir
        ),
    }


# --- unanswered questions -------------------------------------------------------------

_PUNCTUATION_AROUND = re.compile(r"^[\W_]+|[\W_]+$")


def normalize_question(text: str) -> str:
    """What makes two questions "the same": case, spacing, Unicode forms and the
    punctuation around them ("Do you  engrave?" == "do you engrave")."""
    folded = " ".join(unicodedata.normalize("NFKC", text).casefold().split())
    return _PUNCTUATION_AROUND.sub("", folded)


@dataclass
class _Distinct:
    """One normalized question: its newest wording and how often it was asked."""

    text: str
    count: int = 0


def group_questions(
    vectors: np.ndarray, weights: Sequence[int], threshold: float = GROUP_THRESHOLD
) -> list[list[int]]:
    """Greedy grouping by cosine similarity (the vectors are normalized).

    The question with the most asked questions within `threshold` leads a group of every
    question within `threshold` of it that no earlier group took; repeat. Members are
    all close to one leader, so a chain of small steps cannot join unrelated questions
    (single linkage would). Ties go to the lower index (the more recent question).
    O(n^2) for n questions.
    """
    n = len(weights)
    if n == 0:
        return []
    near = (vectors @ vectors.T) >= threshold
    np.fill_diagonal(near, True)  # an empty question's zero vector still leads its own group
    weight = np.asarray(weights, dtype=np.float64)
    score = near.astype(np.float64) @ weight
    left = np.ones(n, dtype=bool)
    groups = []
    while left.any():
        candidates = np.flatnonzero(left)
        leader = int(candidates[np.argmax(score[candidates])])
        members = np.flatnonzero(left & near[leader])
        groups.append([int(i) for i in members])
        left[members] = False
        score -= near[:, members].astype(np.float64) @ weight[members]
    return groups


# Vectors of questions seen before, by (encoder key, question): the page is opened again
# and again over mostly the same month of questions, and encoding is its slow part
# (~2 ms a question here). Bounded: 384 floats a question, 10,000 questions ~15 MB.
_VECTOR_CACHE_SIZE = 10_000
_vector_cache: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()
_vector_lock = threading.Lock()


def _encode(engine: FaqEngine, texts: list[str]) -> np.ndarray:
    """Normalized vectors of `texts`: cached ones, the rest in batches of similar length
    (less padding)."""
    from bot.faq.engine import MAX_QUERY_CHARS

    key = engine.encoder.key
    found: dict[int, np.ndarray] = {}
    with _vector_lock:
        for i, text in enumerate(texts):
            vector = _vector_cache.get((key, text))
            if vector is not None:
                _vector_cache.move_to_end((key, text))
                found[i] = vector
    missing = sorted((i for i in range(len(texts)) if i not in found), key=lambda i: len(texts[i]))
    for at in range(0, len(missing), _ENCODE_BATCH):
        batch = missing[at : at + _ENCODE_BATCH]
        encoded = engine.encoder.encode([texts[i][:MAX_QUERY_CHARS] for i in batch])
        with _vector_lock:
            for i, vector in zip(batch, encoded, strict=True):
                found[i] = vector
                _vector_cache[(key, texts[i])] = vector
            while len(_vector_cache) > _VECTOR_CACHE_SIZE:
                _vector_cache.popitem(last=False)
    return np.stack([found[i] for i in range(len(texts))]).astype(np.float32, copy=False)


def unanswered_groups(
    questions: Sequence[str],
    engine: FaqEngine | None,
    redactor: Redactor,
    corpus_dir: Path | None = None,
) -> list[dict[str, Any]]:
    """The top groups of `questions` (newest first), redacted, with their closest FAQ entry
    and a YAML paraphrase line for it."""
    distinct_questions: dict[str, _Distinct] = {}
    for text in questions:
        key = normalize_question(text)
        if not key:
            continue
        distinct_questions.setdefault(key, _Distinct(text)).count += 1
    items = list(distinct_questions.values())  # newest first
    if engine is not None and items:
        vectors = _encode(engine, [item.text for item in items])
        groups = group_questions(vectors, [item.count for item in items])
    else:
        vectors = None
        groups = [[i] for i in range(len(items))]
    # Largest first; between equals, the one asked most recently.
    groups.sort(key=lambda members: (-sum(items[i].count for i in members), min(members)))
    groups = groups[:TOP_GROUPS]

    representatives = []
    wordings = []
    for members in groups:
        members.sort()  # newest first
        if vectors is not None:
            weights = np.array([items[i].count for i in members], dtype=np.float32)
            centroid = weights @ vectors[members]
            representatives.append(members[int(np.argmax(vectors[members] @ centroid))])
        else:
            representatives.append(members[0])
        # Twice as many as shown: redaction can make two wordings the same ("I'm [name]").
        wordings.append([items[i].text for i in members[: 2 * QUESTIONS_PER_GROUP]])

    rep_texts = [items[i].text for i in representatives]
    flat = [t for texts in wordings for t in texts]
    redacted = iter(redactor.redact_many(flat + rep_texts))
    shown = [[next(redacted) for _ in texts] for texts in wordings]
    rep_redacted = [next(redacted) for _ in rep_texts]

    files = _entry_files(corpus_dir) if engine is not None and groups else {}
    result = []
    for members, texts, rep_text, rep_clean in zip(
        groups, shown, rep_texts, rep_redacted, strict=True
    ):
        closest = _closest(engine, rep_text, files) if engine is not None else None
        indent = files.get(closest["faq_id"], ("", "  "))[1] if closest else "  "
        result.append(
            {
                "count": sum(items[i].count for i in members),
                "questions": list(dict.fromkeys(texts))[:QUESTIONS_PER_GROUP],
                "closest": closest,
                "yaml": paraphrase_line(rep_clean, indent),
            }
        )
    return result


def _closest(
    engine: FaqEngine, question: str, files: dict[str, tuple[str, str]]
) -> dict[str, Any] | None:
    found = engine.search(question)
    if found.entry is not None:
        entry = found.entry
    elif found.alternatives:
        entry = engine.corpus.get(found.alternatives[0].faq_id)
    else:
        return None  # an empty question
    return {
        "faq_id": entry.id,
        "question": entry.question,
        "section": entry.section,
        "score": round(found.score, 4),
        "file": files.get(entry.id, (None, ""))[0],
        # False: the engine answers this question now (the corpus grew since it was asked).
        "abstained": found.abstained,
    }


def paraphrase_line(text: str, indent: str = "  ") -> str:
    """`text` as one item of a YAML list, double-quoted and escaped, on one line: ready to
    paste under an entry's `paraphrases:` at `indent` (the corpus files use two spaces)."""
    one_line = " ".join(text.split())
    dumped = yaml.safe_dump([one_line], default_style='"', allow_unicode=True, width=1 << 30)
    return indent + dumped.rstrip("\n")


def _entry_files(corpus_dir: Path | None) -> dict[str, tuple[str, str]]:
    """FAQ entry id -> (its file, as 'faq_corpus/03_shipping.yml'; the indentation of the
    items of its `paraphrases:` list). The corpus object does not keep file names."""
    folder = corpus_dir or Settings().faq_corpus_dir
    try:
        shown_as = folder.resolve().relative_to(PROJECT_ROOT)
    except ValueError:
        shown_as = Path(folder.name)
    files: dict[str, tuple[str, str]] = {}
    for path in sorted(folder.glob("*.yml")):
        try:
            root = yaml.compose(path.read_text(encoding="utf-8"), Loader=_Loader)
        except yaml.YAMLError:
            continue  # the engine loaded the corpus; a file broken since just has no name
        if not isinstance(root, yaml.SequenceNode):
            continue
        for node in root.value:
            if not isinstance(node, yaml.MappingNode):
                continue
            keys = {k.value: v for k, v in node.value if isinstance(k, yaml.ScalarNode)}
            entry_id = keys.get("id")
            if not isinstance(entry_id, yaml.ScalarNode):
                continue
            indent = "  "
            paraphrases = keys.get("paraphrases")
            if isinstance(paraphrases, yaml.SequenceNode) and paraphrases.value:
                # An item's node starts after "- ": two columns right of the dash.
                indent = " " * max(paraphrases.value[0].start_mark.column - 2, 0)
            files[str(entry_id.value)] = ((shown_as / path.name).as_posix(), indent)
    return files


__all__ = [
    "GROUP_THRESHOLD",
    "compute_insights",
    "group_questions",
    "normalize_question",
    "paraphrase_line",
    "unanswered_groups",
]
