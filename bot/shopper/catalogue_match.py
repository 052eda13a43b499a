"""Free text -> a catalogue value, for the one allowed order change.

"rosegold", "pink gold" -> "rose gold"; "sapphires", "saphire" -> "sapphire";
"size seven and a half", "7 1/2", "7.5" -> "7.5". spaCy's lemmas fold plurals and
inflections ("rubies" -> "ruby"); a value that is not in the catalogue gives None, and the
caller lists the valid ones.
"""

from __future__ import annotations

import re

from bot import catalogue
from bot.faq.text import Lemmatizer

ATTRIBUTES = ("gemstone", "metal", "ring_size")

_NUMBER_WORDS = {
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
}
_HALF = re.compile(r"(?:\s*(?:and\s+a\s+half|\.5|1/2|½|and\s+half))")


def allowed(attribute: str) -> tuple[str, ...]:
    return {
        "gemstone": catalogue.GEMSTONES,
        "metal": catalogue.METALS,
        "ring_size": catalogue.RING_SIZES,
    }[attribute]


def _ring_size(text: str, lemmas: list[str]) -> str | None:
    lowered = " ".join(lemmas) if lemmas else text.lower()
    for word, number in _NUMBER_WORDS.items():
        lowered = re.sub(rf"\b{word}\b", str(number), lowered)
    match = re.search(r"(?<![\d.])(\d{1,2})(?:\.0)?(" + _HALF.pattern + r")?(?![\d])", lowered)
    if not match:
        return None
    value = f"{int(match.group(1))}{'.5' if match.group(2) else ''}"
    return value if value in catalogue.RING_SIZES else None


def _named(attribute: str, text: str, lemmas: list[str]) -> str | None:
    values = allowed(attribute)
    candidates = {v: v for v in values}
    candidates |= {k: v for k, v in catalogue.SYNONYMS.items() if v in values}
    haystacks = [text.lower(), " ".join(lemmas)]
    haystacks.append(re.sub(r"\s+", "", haystacks[0]))  # "rose gold" written "rosegold"
    for surface in sorted(candidates, key=len, reverse=True):
        pattern = rf"(?<![a-z]){re.escape(surface)}(?![a-z])"
        if any(re.search(pattern, h) for h in haystacks):
            return candidates[surface]
    return None


def match(attribute: str, text: str, lemmatizer: Lemmatizer | None) -> str | None:
    """The catalogue value `text` names for `attribute`, or None."""
    if attribute not in ATTRIBUTES:
        raise ValueError(f"unknown attribute {attribute!r}; one of {ATTRIBUTES}")
    text = text.strip()[:200]
    if not text:
        return None
    lemmas = lemmatizer.tokens(text) if lemmatizer else []
    if attribute == "ring_size":
        return _ring_size(text, lemmas)
    return _named(attribute, text, lemmas)
