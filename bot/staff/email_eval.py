"""Scoring suggestions on annotated messages and e-mails: one place for the bench and tests.

E-mail files are JSON lines `{"id", "email", "questions": [{"span", "faq_id"}], "noise": [...]}`:
`span` is an exact substring of the e-mail, `faq_id` the FAQ entry that answers it (null:
the FAQ does not), `noise` exact substrings that are no questions. A noise item is either
an object `{"text", "kind"}` with kind greeting, signoff, signature, quoted or statement,
or (older files) a plain string, whose kind `classify_noise` works out from where it
stands in the e-mail.

An extracted question matches an annotated one when it covers at least half of the
annotated span's characters, or lies inside it (a sentence split into two questions
still matches the annotation of the whole). A span or noise text that occurs more than
once counts at every place it occurs; a noise text inside an annotated question does not
count as noise there.

Noise is counted by kind. Greetings, sign-offs, signatures and quoted lines must never
be taken for a question (`EmailScore.guaranteed_noise_hits`, a hard guarantee); a
statement taken for one is a mistake too, but of the kind a reader may argue about.
`answer_email` also lists requests for an action the FAQ speaks to ("Please cancel my
order."), marked as requests: one may match a question the annotators saw in it, but a
request is no claim that the customer asked something, so one over a statement is counted
apart (`requests_on_statements`), not as noise.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Sequence
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
    kind: str = "question"  # or "request": a request for an action (`Question.kind`)


Extractor = Callable[[str], list[Extracted]]


def load_jsonl(path: Path) -> list[dict[str, Any]]:
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            rows.append(json.loads(line))
    return rows


def occurrences(text: str, sub: str) -> list[tuple[int, int]]:
    """Where `sub` stands in `text` as words of its own: "hi" in "Hi," but not in "Chicago"."""
    out, start = [], 0
    while sub:
        at = text.find(sub, start)
        if at < 0:
            break
        end = at + len(sub)
        cuts_word = (sub[0].isalnum() and at > 0 and text[at - 1].isalnum()) or (
            sub[-1].isalnum() and end < len(text) and text[end].isalnum()
        )
        if not cuts_word:
            out.append((at, end))
        start = at + 1
    return out


NOISE_KINDS = ("greeting", "signoff", "signature", "quoted", "statement")
# What may never be taken for a question: the e-mail's frame, not the customer's words.
GUARANTEED_KINDS = frozenset({"greeting", "signoff", "signature", "quoted"})


@dataclass(frozen=True)
class Noise:
    """One place a noise text stands in an e-mail, and what it is."""

    start: int
    end: int
    kind: str


# The classifier of plain-string noise reads the e-mail by the conventions of mail
# clients and letters alone, never with the rules of `bot.staff.email_parts`: a
# classifier sharing the finder's blind spots would hide exactly its failures.
_THREAD_OPEN = re.compile(r"^\s*(?:On|Le|Am|El|Il|Op)\s+\S")
_THREAD_WROTE = re.compile(
    r"(?:wrote|a\s+écrit|schrieb|escribió|ha\s+scritto|schreef)\s*:\s*$", re.I
)
_THREAD_SEPARATOR = re.compile(
    r"^\s*(?:-{2,}\s*(?:original|forwarded)\s+message\s*-{2,}|begin\s+forwarded\s+message"
    r"|_{10,}\s*$|-{10,}\s*$)",
    re.I,
)
_FROM_HEADER = re.compile(r"^\s*\*?from\s*:", re.I)
_HEADER_LINE = re.compile(r"^\s*\*?(?:from|sent|to|cc|date|subject)\s*:\*?\s", re.I)
_GREETS = re.compile(
    r"^\s*(?:hi|hello|hey|hiya|heya|dear|greetings|good\s+(?:morning|afternoon|evening|day)"
    r"|to\s+whom|yo|howdy)\b",
    re.I,
)
# The words a letter closes with, first on the sign-off line.
_CLOSES = re.compile(
    r"^\s*(?:(?:with\s+)?(?:many|much|kind|kindest|best|warm|warmest|all\s+the)\s+"
    r"(?:thanks|regards|wishes|best)|with\s+thanks|thanks|thank\s+you|thank\s+u|thx|thnx|ty"
    r"|ta|cheers|regards|best|warmly|sincerely|yours|love|xo+|x+|take\s+care|talk\s+soon"
    r"|(?:much\s+)?appreciated|respectfully|cordially)\b",
    re.I,
)
_ALWAYS_CLOSES = re.compile(r"^\s*(?:sent\s+from\b|get\s+outlook\b|--\s*$)", re.I)
_PS_LINE = re.compile(r"^\s*p\.?\s?s\b", re.I)
_NAME_ONLY = re.compile(r"^\s*[^\W\d_][\w.'’-]*(?:\s+(?:&|and)?\s*[^\W\d_][\w.'’-]*){0,3},?\s*$")


def _line_spans(text: str) -> list[tuple[int, int]]:
    spans, start = [], 0
    for line in text.splitlines(keepends=True):
        spans.append((start, start + len(line.rstrip("\r\n"))))
        start += len(line)
    return spans


@dataclass(frozen=True)
class _Thread:
    """Where the earlier messages are."""

    start: int  # everything from here on is an earlier message (len(email): none is)
    # "On ... wrote:" headers above a quote the customer answers below: only these lines
    # and the ">" lines are quoted there.
    headers: tuple[tuple[int, int], ...]


def _thread(email: str, lines: Sequence[tuple[int, int]]) -> _Thread:
    seen_text = False
    headers: list[tuple[int, int]] = []
    for n, (a, b) in enumerate(lines):
        line = email[a:b]
        if not line.strip() or any(x <= a < y for x, y in headers):
            continue
        if _THREAD_OPEN.match(line):
            # Mail clients wrap a long "On ... wrote:" over up to three lines.
            end = next((y for x, y in lines[n : n + 3] if _THREAD_WROTE.search(email[x:y])), -1)
            if end >= 0:
                below = next((email[x:y] for x, y in lines if x > end and email[x:y].strip()), "")
                if not below.lstrip().startswith(">"):
                    return _Thread(a, tuple(headers))  # top-posted: all below is earlier
                headers.append((a, end))
                continue
        if _THREAD_SEPARATOR.match(line) or (seen_text and _FROM_HEADER.match(line)):
            return _Thread(a, tuple(headers))
        if not line.lstrip().startswith(">"):
            seen_text = True
    return _Thread(len(email), tuple(headers))


def _is_name(line: str) -> bool:
    """ "Ben", "kay", "Will Parker", "Daniel & Sofia": a name alone on its line."""
    words = [w for w in line.rstrip(",").split() if w not in {"&", "and"}]
    if any(c.isdigit() for c in line) or _GREETS.match(line):
        return False  # "KNT-1001", "Hi,"
    return bool(_NAME_ONLY.match(line)) and (
        len(words) == 1 or (len(words) <= 3 and all(w[:1].isupper() for w in words))
    )


def _closes(lines: Sequence[str], n: int) -> bool:
    """Line n closes the letter: "Thanks,", "Best regards", "Thanks so much, Anna",
    "Sent from my iPhone", "--", a sentence of thanks right above a name ("Thank you in
    advance for your help.\nRebecca Stone"); or a few words ending in a comma above a name
    ("Enjoy your day,\nPriya"). "Thank you for the lovely ring." alone is a sentence."""
    line = lines[n].strip()
    if _ALWAYS_CLOSES.match(line):
        return True
    words = line.split()
    below = lines[n + 1].strip() if n + 1 < len(lines) else ""
    if _CLOSES.match(line):
        return (
            len(words) <= 4
            or line.endswith(",")
            or not line.endswith((".", "?"))
            or _is_name(below)
        )
    return line.endswith(",") and len(words) <= 4 and _is_name(below)


def _signoff_start(email: str, own: Sequence[tuple[int, int]], after: int) -> int | None:
    """Where the sign-off starts among the customer's own lines `own` (with the blank
    ones): the first line closing the letter after offset `after` (the end of the last
    annotated question), else a name alone there with only short lines below it. The
    first line of the e-mail (its greeting) is never the sign-off."""
    texts = [email[a:b] for a, b in own]
    first = next((n for n, t in enumerate(texts) if t.strip()), len(texts))
    for n, (a, _b) in enumerate(own):
        if n > first and a >= after and texts[n].strip() and _closes(texts, n):
            return a
    for n, (a, _b) in enumerate(own):
        name = n > first and a >= after and _is_name(texts[n].strip())
        if name and all(len(t.split()) <= 8 for t in texts[n:]):
            return a
    return None


def classify_noise(email: str, start: int, end: int, questions: Sequence[str] = ()) -> str:
    """The kind of the plain-string noise at email[start:end] (older annotation files).

    - quoted: on a line starting with ">", or from an "On ... wrote:" header on (only the
      header and the ">" lines when the customer writes below the quote), a
      "-----Original Message-----" or a "From:" line under the customer's text; and any
      header line ("From:", "Sent:", "Subject:" ...);
    - greeting: at the start of the first line, when it greets or is a few words; or a
      line that greets before any question ("Hi again," under a pasted subject line);
    - signoff: from the sign-off on: the first line after the last annotated question
      (not counting a P.S.) that closes the letter ("Thanks,", "Best regards", "Sent from
      my iPhone", "--"), else a name alone there;
    - statement: anything else, including a sign-off word on a question's own line: the
      older files do not say which those are.
    `questions` are the e-mail's annotated question spans.
    """
    lines = _line_spans(email)
    thread = _thread(email, lines)
    line_a, line_b = next(((a, b) for a, b in lines if a <= start <= b), (start, end))
    if email[line_a:line_b].lstrip().startswith(">"):
        return "quoted"
    if start >= thread.start or any(x <= start < y for x, y in thread.headers):
        return "quoted"
    if _HEADER_LINE.match(email[line_a:line_b]):
        return "quoted"  # a header block ("From: ... Subject: ..."), pasted on top or below
    own_end = thread.start
    spans = [x for q in questions for x in occurrences(email, q) if x[1] <= own_end]
    text = email[start:end]
    starts_line = not email[line_a:start].strip()
    first = next(((a, b) for a, b in lines if email[a:b].strip()), None)
    if starts_line and first is not None and first[0] == line_a:
        few = len(text.split()) <= 4 and not text.rstrip().endswith((".", "!", "?"))
        if _GREETS.match(text) or few:
            return "greeting"
    if starts_line and _GREETS.match(text) and all(start < a for a, _b in spans):
        return "greeting"  # "Hi again," under a subject line pasted on top
    # The customer's own lines: not quoted, no "On ... wrote:", no header; a P.S. below
    # the sign-off is the customer's again.
    own = [
        (a, b)
        for a, b in lines
        if a < own_end
        and not email[a:b].lstrip().startswith(">")
        and not _HEADER_LINE.match(email[a:b])
        and not any(x <= a < y for x, y in thread.headers)
    ]
    ps = next((a for a, b in own if _PS_LINE.match(email[a:b])), own_end)
    last_q = max((b for a, b in spans if a < ps), default=0)
    signoff = _signoff_start(email, [x for x in own if x[0] < ps], last_q)
    if signoff is not None and signoff <= start < ps:
        return "signoff"
    return "statement"


def noise_in(row: dict[str, Any]) -> tuple[list[Noise], list[str]]:
    """Every place of every noise item of an annotated e-mail, with its kind; and the
    noise texts that are not in the e-mail (annotation errors)."""
    email: str = row["email"]
    questions = [q["span"] for q in row["questions"]]
    out: list[Noise] = []
    missing: list[str] = []
    for item in row.get("noise", []):
        text, kind = (item, None) if isinstance(item, str) else (item["text"], item["kind"])
        if kind is not None and kind not in NOISE_KINDS:
            raise ValueError(f"{row.get('id')}: unknown noise kind {kind!r}")
        where = occurrences(email, text)
        if not where:
            missing.append(text)
        for a, b in where:
            out.append(Noise(a, b, kind or classify_noise(email, a, b, questions)))
    return out, missing


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
    # ... by the kind of noise they overlap (one question may overlap two kinds)
    noise_by_kind: dict[str, int] = field(default_factory=lambda: dict.fromkeys(NOISE_KINDS, 0))
    stray: int = 0  # extracted questions overlapping no annotated question
    requests: int = 0  # requests for an action listed (`Extracted.kind == "request"`)
    requests_on_statements: int = 0  # ... overlapping a statement: no noise hit (see above)
    bad_annotations: int = 0  # spans or noise texts not found in their e-mail
    failures: list[str] = field(default_factory=list)

    @staticmethod
    def _rate(n: int, d: int) -> float:
        return n / d if d else 0.0

    @property
    def guaranteed_noise_hits(self) -> int:
        """Questions taken from a greeting, sign-off, signature or quoted line: must be 0."""
        return sum(self.noise_by_kind[k] for k in GUARANTEED_KINDS)

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
            "noise_by_kind": dict(self.noise_by_kind),
            "guaranteed_noise_hits": self.guaranteed_noise_hits,
            "stray": self.stray,
            "requests": self.requests,
            "requests_on_statements": self.requests_on_statements,
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
        noise, missing = noise_in(row)
        for text in missing:
            score.bad_annotations += 1
            score.failures.append(f"{row['id']}: noise text not in e-mail: {text!r}")
        noise = [n for n in noise if not any(s[0] <= n.start and n.end <= s[1] for s in spans_all)]
        for x in found:
            kinds = {n.kind for n in noise if _overlap((x.start, x.end), (n.start, n.end))}
            if x.kind == "request":
                score.requests += 1
                if "statement" in kinds:
                    score.requests_on_statements += 1
                    kinds.discard("statement")
            elif not any(_overlap((x.start, x.end), s) for s in spans_all):
                score.stray += 1
            if kinds:
                score.noise_hits += 1
                for kind in sorted(kinds):
                    score.noise_by_kind[kind] += 1
                score.failures.append(
                    f"{row['id']}: noise ({', '.join(sorted(kinds))}) taken for a "
                    f"{x.kind}: {x.text!r}"
                )
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
                q.get("kind", "question"),
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
    "GUARANTEED_KINDS",
    "NOISE_KINDS",
    "EmailScore",
    "Extracted",
    "Extractor",
    "Noise",
    "SuggestionScore",
    "classify_noise",
    "email_extractor",
    "load_jsonl",
    "matches",
    "naive_extractor",
    "noise_in",
    "occurrences",
    "score_emails",
    "score_suggestions",
]
