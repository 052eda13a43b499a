"""Suggested replies for support staff: FAQ entries for a message, answers for an e-mail.

- `faq_suggestions`: the FAQ engine's top entries for one shopper message, shown beside the
  agent's reply box. One engine search, nothing else (the agent waits for it).
- `answer_email`: for a pasted e-mail, the customer's questions (`bot.staff.questions`),
  the top entries for each, the order the e-mail is about, and a draft reply. The draft
  pastes an FAQ answer only where the engine is confident; elsewhere it leaves a marked
  placeholder for the agent: a guessed policy answer is worse than none. Nothing here is
  ever sent; the agent edits the draft first.

`answer_email`'s dict is the JSON contract of `POST /api/staff/suggest` and of
`bot suggest --json`:

    {"questions": [{"text", "start", "end", "answered", "kind",
                    "suggestions": [{"faq_id", "question", "answer", "section", "score"}]}],
     "order": {...} | null,
     "draft": str}

`kind` is "question", or "request": the customer asked for an action the FAQ speaks to
("Please cancel my order.") and asked nothing; the console may show it apart.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bot.orders import normalize
from bot.staff.email_parts import MAX_EMAIL_CHARS, EmailParts, read_email, sender_name
from bot.staff.questions import Question, find_questions

if TYPE_CHECKING:
    from bot.faq.engine import FaqEngine

log = logging.getLogger(__name__)

OrderLookup = Callable[[str], dict[str, Any] | None]

# More questions than this in one e-mail are listed for the agent but not searched: each
# search costs ~6 ms, and an e-mail with 30 questions needs a person, not 30 pastes.
MAX_QUESTIONS = 20
DEFAULT_AGENT = "KNT Customer Service"


@dataclass(frozen=True)
class Suggestion:
    faq_id: str
    question: str
    answer: str
    section: str
    score: float

    def to_json(self) -> dict[str, Any]:
        return {
            "faq_id": self.faq_id,
            "question": self.question,
            "answer": self.answer,
            "section": self.section,
            "score": round(self.score, 4),
        }


def faq_suggestions(engine: FaqEngine, text: str, k: int = 3) -> tuple[list[Suggestion], bool]:
    """The top-k FAQ entries for one message, best first, and whether the engine is confident.

    Confident means the engine would answer on its own (it does not abstain). One
    `engine.search`: its best entry (when it answers) and its alternatives are the top k.
    """
    result = engine.search(text, k=k)
    if result.error:
        return [], False
    ranked = [(c.faq_id, c.score) for c in result.alternatives]
    if result.entry is not None:
        ranked.insert(0, (result.entry.id, result.score))
    out = []
    for faq_id, score in ranked[:k]:
        entry = engine.corpus.get(faq_id)
        out.append(Suggestion(faq_id, entry.question, entry.answer, entry.section, score))
    return out, not result.abstained


def email_order_number(text: str, parts: EmailParts | None = None) -> str | None:
    """The first order number in the customer's own text of an e-mail (not in the quoted
    thread, a forwarded message or the signature): the order the e-mail is about."""
    parts = parts or read_email(text)
    return normalize.find_order_number(parts.body_text())


@dataclass(frozen=True)
class AnsweredQuestion:
    question: Question
    suggestions: list[Suggestion]
    answered: bool  # the engine is confident in suggestions[0]
    searched: bool = True  # False beyond MAX_QUESTIONS

    def to_json(self) -> dict[str, Any]:
        return {
            "text": self.question.text,
            "start": self.question.start,
            "end": self.question.end,
            "suggestions": [s.to_json() for s in self.suggestions],
            "answered": self.answered,
            "kind": self.question.kind,
        }


def _one_line(text: str) -> str:
    return " ".join(text.split())


def draft_reply(
    answers: Sequence[AnsweredQuestion],
    customer_name: str | None = None,
    agent_name: str | None = None,
    notes: Sequence[str] = (),
) -> str:
    """A reply for the agent to edit: greeting, one paragraph per question, sign-off.

    A confident question gets its FAQ answer verbatim (once, even when two questions share
    it); any other gets a marked placeholder that names the question. Only the customer's
    question texts and the FAQ's answers go in: never a quoted line of the thread.
    """
    paragraphs = [f"Hello {customer_name}," if customer_name else "Hello,"]
    pasted: set[str] = set()
    for item in answers:
        if item.answered and item.suggestions:
            best = item.suggestions[0]
            if best.faq_id not in pasted:
                pasted.add(best.faq_id)
                paragraphs.append(best.answer)
        elif item.searched:
            paragraphs.append(
                f'[No FAQ answer for: "{_one_line(item.question.text)}" — '
                "please answer this yourself.]"
            )
        else:
            paragraphs.append(
                f"[Not looked up (more than {MAX_QUESTIONS} questions): "
                f'"{_one_line(item.question.text)}" — please answer this yourself.]'
            )
    if not answers:
        paragraphs.append("[No question found in this e-mail — please write the reply yourself.]")
    paragraphs.extend(notes)
    paragraphs.append(f"Kind regards,\n{agent_name or DEFAULT_AGENT}")
    return "\n\n".join(paragraphs)


def _answer_questions(engine: FaqEngine, questions: Sequence[Question]) -> list[AnsweredQuestion]:
    """The FAQ's top entries for each question. A request for an action ("Please cancel my
    order.") is kept only when the FAQ engine is confident about it: then a policy answers
    it (the cancel policy); otherwise it is no FAQ matter and the agent just does it."""
    answers: list[AnsweredQuestion] = []
    for question in questions:
        if len(answers) >= MAX_QUESTIONS:
            answers.append(AnsweredQuestion(question, [], False, searched=False))
            continue
        suggestions, confident = faq_suggestions(engine, question.query)
        answered = confident and bool(suggestions)
        if question.kind == "request" and not answered:
            continue
        answers.append(AnsweredQuestion(question, suggestions, answered))
    return answers


def answer_email(
    engine: FaqEngine,
    nlp: Any,
    text: str,
    order_lookup: OrderLookup | None = None,
    agent_name: str | None = None,
) -> dict[str, Any]:
    """Questions, suggestions, the order and a draft reply for one pasted e-mail.

    `nlp` is `bot.staff.nlp.full_pipeline(settings.faq_spacy_model)`. `order_lookup` is
    called with the first order number of the customer's own text (never one from the
    quoted thread); its dict is returned as "order". A lookup that fails is logged and
    gives "order": null, so suggestions still reach the agent when the order backend is
    down. Only the first MAX_EMAIL_CHARS characters of the customer's own text are
    analysed; the draft says so.
    """
    parts = read_email(text)
    # Requests come too, marked as such: "I want to swap it for another stone." asks no
    # question (annotators call it a statement), but the exchange policy is what the agent
    # answers it with. The order facts say whether this order can still be changed.
    answers = _answer_questions(engine, find_questions(text, nlp, parts, requests=True))

    order = None
    number = email_order_number(text, parts)
    if number and order_lookup is not None:
        try:
            order = order_lookup(number)
        except Exception:  # the console must still get its suggestions
            log.warning("order lookup for %s failed", number, exc_info=True)

    notes = []
    if parts.truncated:
        notes.append(
            f"[Only the first {MAX_EMAIL_CHARS:,} characters of the customer's text were "
            "read — please check the rest yourself.]"
        )
    name = sender_name(parts, nlp) if parts.body or parts.signoff else None
    return {
        "questions": [a.to_json() for a in answers],
        "order": order,
        "draft": draft_reply(answers, name, agent_name, notes),
    }


__all__ = [
    "MAX_QUESTIONS",
    "AnsweredQuestion",
    "OrderLookup",
    "Suggestion",
    "answer_email",
    "draft_reply",
    "email_order_number",
    "faq_suggestions",
]
