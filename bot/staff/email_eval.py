"""Scoring suggestions on annotated messages and e-mails: one place for the bench and tests.

E-mail files are JSON lines `{"id", "email", "questions": [{"span", "faq_id"}], "noise": [...]}`:
`span` is an exact substring of the e-mail, `faq_id` the FAQ entry that answers it (null:
the FAQ does not), `noise` exact substrings that are no questions (greetings, sign-offs,
signatures, quoted earlier messages, statements).

An extracted question matches an annotated one when it covers at least half of the
annotated span's characters, or lies inside it (a sentence split into two questions
still matches the annotation of the whole). A span or noise text that occurs more than
once counts at every place it occurs; a noise text inside an annotated question does not
count as noise there.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.faq.engine import FaqEngine


@dataclass(frozen=True)
class Extracted:
    """One question found in an e-mail and what the FAQ said about it."""

    text: str
    start: int
    end: int
    top: tuple[str, ...]  # faq ids, best first (up to 3)
    answered: bool


Extractor = Callable[[str], list[Extracted]]


def load_jsonl(path: Path) -> list[dict[str, Any]]:
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            rows.append(json.loads(line))
    return rows


def occurrences(text: str, sub: str) -> list[tuple[int, int]]:
    out, start = [], 0
    while sub:
        at = text.find(sub, start)
        if at < 0:
            break
        out.append((at, at + len(sub)))
        start = at + 1
    return out


def _overlap(a: tuple[int, int], b: tuple[int, int]) -> int:
    return max(0, min(a[1], b[1]) - max(a[0], b[0]))


def matches(extracted: tuple[int, int], span: tuple[int, int]) -> bool:
    """The extracted question covers >= 50 % of the annotated span, or lies inside it."""
    length = span[1] - span[0]
    if length <= 0:
        return False
    inside = span[0] <= extracted[0] and extracted[1] <= span[1] and extracted[1] > extracted[0]
    return inside or _overlap(extracted, span) * 2 >= length


@dataclass
class EmailScore:
    emails: int = 0
    questions: int = 0  # annotated questions
    answerable: int = 0  # ... with a faq_id
    unanswerable: int = 0  # ... with faq_id null
    found: int = 0  # annotated questions matched by an extracted question
    found_answered: int = 0  # answerable, matched, and the faq_id in that question's top 3
    answered_right: int = 0  # answerable, matched, confident, and top 1 == faq_id
    unanswerable_flagged: int = 0  # null, matched, and every match has answered=false
    unanswerable_answered: int = 0  # null, and some match claims a confident answer
    extracted: int = 0  # questions extracted
    noise_hits: int = 0  # extracted questions overlapping a noise text
    stray: int = 0  # extracted questions overlapping no annotated question
    bad_annotations: int = 0  # spans or noise texts not found in their e-mail
    failures: list[str] = field(default_factory=list)

    @staticmethod
    def _rate(n: int, d: int) -> float:
        return n / d if d else 0.0

    @property
    def found_answered_rate(self) -> float:
        return self._rate(self.found_answered, self.answerable)

    @property
    def found_rate(self) -> float:
        return self._rate(self.found, self.questions)

    @property
    def answered_right_rate(self) -> float:
        return self._rate(self.answered_right, self.answerable)

    @property
    def unanswerable_flagged_rate(self) -> float:
        return self._rate(self.unanswerable_flagged, self.unanswerable)

    def to_json(self) -> dict[str, Any]:
        return {
            "emails": self.emails,
            "questions": self.questions,
            "answerable": self.answerable,
            "unanswerable": self.unanswerable,
            "found_answered": self.found_answered,
            "found_answered_rate": round(self.found_answered_rate, 4),
            "found": self.found,
            "found_rate": round(self.found_rate, 4),
            "answered_right": self.answered_right,
            "answered_right_rate": round(self.answered_right_rate, 4),
            "unanswerable_flagged": self.unanswerable_flagged,
            "unanswerable_flagged_rate": round(self.unanswerable_flagged_rate, 4),
            "unanswerable_answered": self.unanswerable_answered,
            "extracted": self.extracted,
            "noise_hits": self.noise_hits,
            "stray": self.stray,
            "bad_annotations": self.bad_annotations,
        }


def score_emails(rows: Iterable[dict[str, Any]], extract: Extractor) -> EmailScore:
    """Run `extract` on every annotated e-mail and count what it found, answered and got wrong."""
    score = EmailScore()
    for row in rows:
        email: str = row["email"]
        found = extract(email)
        score.emails += 1
        score.extracted += len(found)
        spans_all: list[tuple[int, int]] = []
        for q in row["questions"]:
            spans = occurrences(email, q["span"])
            if not spans:
                score.bad_annotations += 1
                score.failures.append(f"{row['id']}: annotated span not in e-mail: {q['span']!r}")
            spans_all += spans
            faq_id = q["faq_id"]
            hits = [x for x in found if any(matches((x.start, x.end), s) for s in spans)]
            score.questions += 1
            score.found += bool(hits)
            if faq_id is None:
                score.unanswerable += 1
                if hits and not any(x.answered for x in hits):
                    score.unanswerable_flagged += 1
                if any(x.answered for x in hits):
                    score.unanswerable_answered += 1
                    score.failures.append(
                        f"{row['id']}: unanswerable but answered: {q['span']!r} -> "
                        f"{[x.top[:1] for x in hits if x.answered]}"
                    )
                elif not hits:
                    score.failures.append(f"{row['id']}: not found (null): {q['span']!r}")
                continue
            score.answerable += 1
            if any(faq_id in x.top[:3] for x in hits):
                score.found_answered += 1
            else:
                got = [(x.text, x.top) for x in hits] or "not found"
                score.failures.append(f"{row['id']}: {q['span']!r} ({faq_id}): {got}")
            if any(x.answered and x.top[:1] == (faq_id,) for x in hits):
                score.answered_right += 1
        noise_spans = []
        for text in row.get("noise", []):
            where = occurrences(email, text)
            if not where:
                score.bad_annotations += 1
                score.failures.append(f"{row['id']}: noise text not in e-mail: {text!r}")
            noise_spans += [
                n for n in where if not any(s[0] <= n[0] and n[1] <= s[1] for s in spans_all)
            ]
        for x in found:
            if any(_overlap((x.start, x.end), n) for n in noise_spans):
                score.noise_hits += 1
                score.failures.append(f"{row['id']}: noise taken for a question: {x.text!r}")
            if not any(_overlap((x.start, x.end), s) for s in spans_all):
                score.stray += 1
    return score


def email_extractor(engine: FaqEngine, nlp: Any) -> Extractor:
    """The real thing: `answer_email`'s questions and suggestions."""
    from bot.staff.suggest import answer_email

    def extract(email: str) -> list[Extracted]:
        out = answer_email(engine, nlp, email)
        return [
            Extracted(
                q["text"],
                q["start"],
                q["end"],
                tuple(s["faq_id"] for s in q["suggestions"]),
                q["answered"],
            )
            for q in out["questions"]
        ]

    return extract


def naive_extractor(engine: FaqEngine) -> Extractor:
    """The baseline: every piece between sentence punctuation and line breaks, searched."""
    from bot.staff.questions import naive_questions
    from bot.staff.suggest import faq_suggestions

    def extract(email: str) -> list[Extracted]:
        out = []
        for q in naive_questions(email):
            suggestions, confident = faq_suggestions(engine, q.text)
            top = tuple(s.faq_id for s in suggestions)
            out.append(Extracted(q.text, q.start, q.end, top, confident))
        return out

    return extract


@dataclass
class SuggestionScore:
    questions: int = 0
    top1: int = 0
    top3: int = 0
    confident: int = 0  # the engine would answer on its own
    confident_right: int = 0  # ... and its answer is the labelled entry
    failures: list[str] = field(default_factory=list)

    def rate(self, n: int) -> float:
        return n / self.questions if self.questions else 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "questions": self.questions,
            "top1": round(self.rate(self.top1), 4),
            "top3": round(self.rate(self.top3), 4),
            "confident": round(self.rate(self.confident), 4),
            "confident_right": round(self.rate(self.confident_right), 4),
        }


def score_suggestions(rows: Iterable[dict[str, Any]], engine: FaqEngine) -> SuggestionScore:
    """Top-1/top-3 of `faq_suggestions` on `{"text", "faq_id"}` rows (all answerable)."""
    from bot.staff.suggest import faq_suggestions

    score = SuggestionScore()
    for row in rows:
        labels = row["faq_id"] if isinstance(row["faq_id"], list) else [row["faq_id"]]
        suggestions, confident = faq_suggestions(engine, row["text"])
        ids = [s.faq_id for s in suggestions]
        score.questions += 1
        score.top1 += bool(ids[:1]) and ids[0] in labels
        score.top3 += any(i in labels for i in ids[:3])
        score.confident += confident
        score.confident_right += confident and bool(ids) and ids[0] in labels
        if not any(i in labels for i in ids[:3]):
            score.failures.append(f"{row['text']!r} ({labels}): {ids}")
    return score


__all__ = [
    "EmailScore",
    "Extracted",
    "Extractor",
    "SuggestionScore",
    "email_extractor",
    "load_jsonl",
    "matches",
    "naive_extractor",
    "occurrences",
    "score_emails",
    "score_suggestions",
]
