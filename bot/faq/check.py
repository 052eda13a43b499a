"""Corpus hygiene: paraphrases that sit in two entries confuse retrieval."""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.faq.corpus import Corpus, FaqEntry

MIN_PARAPHRASES = 10
_WORD = re.compile(r"[a-z0-9']+")


@dataclass(frozen=True)
class NearDuplicate:
    a_id: str
    a_text: str
    b_id: str
    b_text: str
    similarity: float


def _words(text: str) -> frozenset[str]:
    return frozenset(_WORD.findall(text.lower().replace("’", "'")))


def near_duplicates(corpus: Corpus, threshold: float = 0.85) -> list[NearDuplicate]:
    """Pairs of texts from different entries whose word sets (Jaccard) are this similar.

    Identical wording after lower-casing and dropping punctuation scores 1.0. Texts of
    fewer than three words are compared for identity only: "exchange?" and "refund?"
    differ in the one word that matters.
    """
    items = [(e.id, t, _words(t)) for e in corpus.entries for t in e.texts]
    out = []
    for i, (a_id, a_text, a) in enumerate(items):
        for b_id, b_text, b in items[i + 1 :]:
            if a_id == b_id or not a or not b:
                continue
            short = min(len(a), len(b)) < 3
            sim = float(a == b) if short else len(a & b) / len(a | b)
            if sim >= threshold:
                out.append(NearDuplicate(a_id, a_text, b_id, b_text, sim))
    return out


def thin_entries(corpus: Corpus) -> list[FaqEntry]:
    return [e for e in corpus.entries if len(e.paraphrases) < MIN_PARAPHRASES]
