"""What a shopper's own words mean as the answer to one of the order forms' questions.

The forms ask closed questions -- yes or no, return or exchange, which of three things to
change, which item, which ring size -- and shoppers answer in their own words: "sure, go
ahead", "nope, keep it", "it's too big", "the second one", "a size up". Each function
here reads one kind of answer and returns what it means, or None when the words leave
the choice open ("not sure", "yes but smaller"): the caller then explains the choices
instead of guessing, and nothing is submitted without the shopper's own yes to a summary.

Plain words do most of the work. spaCy's lemmas (passed in as `lemmas`, the FAQ engine's
lemmatizer in the action server) fold inflections the word lists would otherwise have to
spell out ("refunded", "exchanging", "fits", "sizes"); without them the words are only
lower-cased. Negation is read per clause ("not a refund, an exchange"), because a comma
or a "but" is where shoppers turn from one thing to the other.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

# Text -> its lower-case lemmas, punctuation dropped (bot.faq.text.Lemmatizer.tokens).
Lemmas = Callable[[str], list[str]]

Kind = Literal["return", "exchange"]
Direction = Literal["bigger", "smaller"]
Attribute = Literal["gemstone", "metal", "ring_size"]

# Words after which a reply turns to something else: "yes but smaller" is not a plain yes.
_TURNS = r"but|though|although|except|unless|only if|as long as|however"
_CLAUSE_BREAK = re.compile(rf"[,;.!?/()\n]+|\s-\s|\s(?:{_TURNS})\s", re.IGNORECASE)
_NEGATIONS = {"not", "no", "never", "n't", "dont", "don't", "nothing", "neither", "nor"}


def _normalize(text: str) -> str:
    """Lower case, one kind of apostrophe, stretched words shortened ("yesss", "noooo")."""
    text = text.lower().replace("\u2019", "'").replace("`", "'")
    text = re.sub(r"([a-z])\1{2,}", r"\1", text)  # "yeahhh" -> "yeah", "sooo" -> "so"
    return " ".join(text.split())


def _plain_lemmas(text: str) -> list[str]:
    """Lower-case words, "n't" and "'s" apart, as spaCy splits them."""
    return re.findall(r"n't|'[a-z]+|[a-z0-9]+", text.replace("n't", " n't"))


def _clauses(text: str) -> list[tuple[str, bool]]:
    """The message's clauses, each with whether a turn word ("but") came before it."""
    result: list[tuple[str, bool]] = []
    turned = False
    position = 0
    for m in _CLAUSE_BREAK.finditer(text + "."):
        clause = text[position : m.start()].strip()
        if clause:
            result.append((clause, turned))
        turned = bool(re.search(rf"\b(?:{_TURNS})\b", m.group(0)))
        position = m.end()
    return result


def _has(pattern: str, text: str) -> bool:
    return re.search(rf"(?<![a-z'])(?:{pattern})(?![a-z'])", text) is not None


# --- yes or no -------------------------------------------------------------------------

# Checked no-phrases first, then yes-phrases, then single words, on each clause; a phrase
# found is blanked out, so "of course not" is a no before "of course" can be a yes, "why
# not" is a yes before "not" can make it a no, and "no problem" a yes before "no" a no.
_UNSURE = (
    r"not sure|unsure|no idea|don'?t know|do not know|dunno|idk|maybe|perhaps|possibly"
    r"|let me think|i'?ll think|hmm+|hm|not certain|wait|hold on|hang on|depends|what\?"
)
_YES_PHRASES = (
    r"why not|no problem|no worries|not a problem|don'?t mind|do not mind|of course"
    r"|go ahead|go for it|please do|do it|sounds good|sounds great|sounds right|looks good"
    r"|looks right|that'?s right|that is right|that'?s correct|that works|works for me"
    r"|that'?s fine|fine by me|sure thing|you bet|i do|i guess so|i think so|let'?s do it"
    r"|let'?s go|submit it|send it|yes please|ok then|all good|all right"
)
_NO_PHRASES = (
    r"not now|not yet|not really|not anymore|not today|no thanks?|no thank you|nah thanks"
    r"|don'?t think so|do not think so|never ?mind|forget it|forget about it|keep it"
    r"|keep my order|leave it|leave it as it is|as it is|hold off|rather not|i'?d rather not"
    r"|changed my mind|change of plans?|don'?t do it|do not do it|don'?t bother|not interested"
    r"|please don'?t|please do not|absolutely not|definitely not|certainly not|of course not"
)
# Not "great", "perfect", "good", "right" or "please" alone: "perfect, now I lose my money",
# "good question" and "yeah right" are no consent to an order that can't be undone.
_YES_WORDS = (
    r"yes|y|yeah|yea|ya|yah|yep|yup|yeh|sure|ok|okay|k|kk|alright|correct|absolutely"
    r"|definitely|certainly|indeed|affirmative|confirm|confirmed|fine|agreed|agree"
    r"|gladly|exactly|yas|aye|\U0001f44d"
)
# A yes only on a condition ("sure, if you refund the deposit"), asked back ("are you
# sure?", "okay?"), or said in irony: neither a yes nor a no, whatever words it has.
_HEDGES = (
    r"if|unless|provided|as long as|when pigs fly|yeah right|yea right|ya right|sure right"
    r"|sure sure|as if|whatever"
)
_NO_WORDS = r"no|n|nope|nah|nay|never|negative|stop|don'?t|dont|do not|not|\U0001f44e"
# Politeness that adds nothing after a yes or no ("no, but thanks").
_FILLER = r"thanks?|thank you|ty|please|pls|plz|mate|lol|haha|then|so|ok|okay|cheers"


def hedged(text: str) -> bool:
    """Whether a reply keeps the answer open however it is worded: a question, a condition,
    irony or doubt ("are you sure?", "ok if it's gold", "yeah right", "not sure")."""
    text = _normalize(text)
    return not text or "?" in text or _has(_UNSURE, text) or _has(_HEDGES, text)


def yes_or_no(text: str) -> bool | None:
    """True for a yes ("yeah", "sure, go ahead"), False for a no ("nope, keep it", "not
    now"), None when it is neither or both ("not sure", "yes but smaller", "yes no")."""
    text = _normalize(text)
    if hedged(text):
        return None
    verdicts: set[bool] = set()
    qualified = False
    for clause, turned in _clauses(text):
        found: set[bool] = set()
        for pattern, verdict in (
            (_NO_PHRASES, False),
            (_YES_PHRASES, True),
            (_YES_WORDS, True),
            (_NO_WORDS, False),
        ):
            if _has(pattern, clause):
                found.add(verdict)
                clause = re.sub(rf"(?<![a-z'])(?:{pattern})(?![a-z'])", " ", clause)
        if found == {True, False} and not verdicts:
            return None  # "yes no", "ok not sure": both in one breath
        verdicts |= found
        rest = re.sub(rf"(?<![a-z'])(?:{_FILLER})(?![a-z'])", " ", clause).strip()
        if turned and rest and not found:
            qualified = True  # "yes but smaller": a condition on the yes
    if len(verdicts) != 1:
        return None
    answer = verdicts.pop()
    return None if answer and qualified else answer


# --- return or exchange ----------------------------------------------------------------


@dataclass(frozen=True)
class ReturnChoice:
    """What the shopper chose: `other_size` when the words were about the fit ("it's too
    big"), with `direction` when they say which way; `reason` is the clause that said so,
    to keep as the return reason rather than ask for it again."""

    kind: Kind
    other_size: bool = False
    direction: Direction | None = None
    reason: str | None = None


# Lemmas and their neighbours (the lemmatizer makes "refunded" -> "refund", "fits" -> "fit").
_REFUND = (
    r"refund(?:s|ed|ing)?|money back|money|reimburse|reimbursement|credit|cash back|pay me back"
)
_SEND_BACK = r"return|send back|send it back|send them back|ship back|give back|retrun|returne"
_EXCHANGE = (
    r"exchang(?:e|es|ed|ing)|exhange|excange|exchnage|swap|switch|trade|replace|replacement"
    r"|different|another|other one|new one|instead"
)
# "too big" and friends: the ring needs another size, which an exchange gives.
_TOO_BIG = (
    r"too big|too large|too loose|too wide|loose|slips?|slipping|slip off|falls? off|big|large"
)
_TOO_SMALL = r"too small|too tight|too narrow|tight|small|snug|pinch|hurt my finger"
_BIGGER = r"bigger|large|larger|size up|up a size|one size up|half a size up"
_SMALLER = r"smaller|size down|down a size|one size down|half a size down"
_SIZE = r"wrong size|size|fit|resize|sizing"


def _negated(lemmas: Sequence[str], at: int) -> bool:
    """A negation among the three words before position `at` ("don't want a refund")."""
    return any(w in _NEGATIONS for w in lemmas[max(0, at - 3) : at])


def _find(pattern: str, words: Sequence[str]) -> list[int]:
    """Positions (in `words`) where `pattern` starts, matched on whole words."""
    joined = " ".join(words)
    starts = [m.start() for m in re.finditer(rf"(?<![a-z'])(?:{pattern})(?![a-z'])", joined)]
    return [joined[:s].count(" ") for s in starts]


def _found(pattern: str, views: Sequence[Sequence[str]]) -> tuple[bool, bool]:
    """(said, said only negated) of `pattern` in a clause, read as its lemmas and as its
    words: lemmas catch "fits", "refunded"; the words keep "smaller", which the
    lemmatizer turns into "small"."""
    hits = [(words, i) for words in views for i in _find(pattern, words)]
    plain = [h for h in hits if not _negated(*h)]
    return bool(plain), bool(hits) and not plain


def _views(clause: str, lemmas: Lemmas | None) -> tuple[list[str], ...]:
    plain = _plain_lemmas(clause)
    return (plain, [w.lower() for w in lemmas(clause)]) if lemmas else (plain,)


def _size_direction(views: Sequence[Sequence[str]]) -> tuple[bool, bool, Direction | None]:
    """(about the size?, a complaint about it?, which way) for one clause: "it's too big"
    is a complaint (the reason for the exchange), "a bigger size" a wish; "smaller than I
    expected" is about how the piece looks, and "it fits fine" is no complaint at all."""
    words = " ".join(views[0])
    if _has("than", words) and not _has("size", words):
        return False, False, None
    too = _has(r"too|loose|tight|slip\w*|snug|fall\w*", words)
    ways: tuple[tuple[str, Direction], ...] = (
        (_TOO_BIG, "smaller"),
        (_TOO_SMALL, "bigger"),
        (_BIGGER, "bigger"),
        (_SMALLER, "smaller"),
    )
    for pattern, direction in ways:
        if pattern in (_TOO_BIG, _TOO_SMALL) and not too:
            continue  # "big"/"small" count only with "too": "a small scratch" is no size
        said, _ = _found(pattern, views)
        if said:
            complaint = pattern in (_TOO_BIG, _TOO_SMALL)
            return True, complaint, direction
    _, unfit = _found("fit", views)
    wrong = _found("wrong size", views)[0]
    sized, _ = _found(r"size|resize|sizing", views)
    return unfit or wrong or sized, unfit or wrong, None


def return_or_exchange(
    text: str, lemmas: Lemmas | None = None, *, bare_return: bool = True
) -> ReturnChoice | None:
    """The answer to "return it for a refund, or exchange it?"; None when unclear.

    "it's too big", "wrong size", "doesn't fit" -> an exchange for another size;
    "I want my money back", "refund" -> a return; "no, exchange it" -> an exchange;
    "not sure", "it's broken" (either could be meant) -> None. With `bare_return` False,
    "return" or "send back" alone decide nothing: asking to "return my ring" is how a
    shopper starts an exchange too, so only the question's answer may mean a return.
    """
    text = _normalize(text)
    if not text or _has(r"not sure|unsure|no idea|don'?t know|dunno|idk|either", text):
        return None
    refund = exchange = send_back = not_refund = not_exchange = other_size = False
    direction: Direction | None = None
    reason: str | None = None
    for clause, _turned in _clauses(text):
        views = _views(clause, lemmas)
        said, unsaid = _found(_REFUND, views)
        refund, not_refund = refund or said, not_refund or unsaid
        said, unsaid = _found(_EXCHANGE, views)
        exchange, not_exchange = exchange or said, not_exchange or unsaid
        send_back = send_back or _found(_SEND_BACK, views)[0]
        sized, complaint, which = _size_direction(views)
        if sized:
            other_size = True
            direction = direction or which
        if complaint:
            reason = reason or clause
    if other_size and not refund:
        # A size complaint is answered by an exchange; "return it, it's too big" too
        # (an exchange sends it back as well), but not "too big, I want a refund".
        return ReturnChoice("exchange", True, direction, reason)
    if exchange and not refund:
        return ReturnChoice("exchange")
    if (refund or (send_back and bare_return)) and not exchange:
        return ReturnChoice("return")
    if not (refund or exchange or send_back) and bare_return:
        # Only what is not wanted: of two choices, the other one.
        if not_refund and not not_exchange:
            return ReturnChoice("exchange")
        if not_exchange and not not_refund:
            return ReturnChoice("return")
    return None


# --- what to change --------------------------------------------------------------------

_METAL_NAMES = r"metal|gold|platinum|silver"
_ATTRIBUTE_WORDS: dict[Attribute, str] = {
    "gemstone": r"stone|gemstone|gem|diamond|sapphire|ruby|emerald|moissanite|morganite"
    r"|aquamarine|amethyst|alexandrite|tourmaline|topaz",
    "metal": _METAL_NAMES + r"|colou?r",
    "ring_size": r"size|ring size|big|bigger|small|smaller|large|larger|tight|loose|fit",
}


def attribute_to_change(text: str, lemmas: Lemmas | None = None) -> Attribute | None:
    """The answer to "what would you like to change: gemstone, metal colour or ring
    size?" ("the stone", "make it bigger", "not the stone, the metal"); None if unclear."""
    text = _normalize(text)
    if not text or _has(r"not sure|unsure|no idea|don'?t know|dunno|idk", text):
        return None
    wanted: set[Attribute] = set()
    unwanted: set[Attribute] = set()
    for clause, _turned in _clauses(text):
        views = _views(clause, lemmas)
        named: dict[Attribute, bool] = {}
        for attribute, pattern in _ATTRIBUTE_WORDS.items():
            said, unsaid = _found(pattern, views)
            if said or unsaid:
                named[attribute] = not said
        if "gemstone" in named and "metal" in named and not any(_found(_METAL_NAMES, views)):
            named.pop("metal")  # "the stone's colour" is the stone's; "colour" alone, the metal's
        for attribute, negated in named.items():
            (unwanted if negated else wanted).add(attribute)
    wanted -= unwanted
    if len(wanted) == 1:
        return wanted.pop()
    if not wanted and len(unwanted) == 2:
        (left,) = set(_ATTRIBUTE_WORDS) - unwanted
        return left
    return None


# --- which item, which size ------------------------------------------------------------

_ORDINALS = {
    "first": 1,
    "1st": 1,
    "one": 1,
    "second": 2,
    "2nd": 2,
    "two": 2,
    "third": 3,
    "3rd": 3,
    "three": 3,
    "fourth": 4,
    "4th": 4,
    "four": 4,
    "fifth": 5,
    "5th": 5,
    "five": 5,
}


_NOT_NUMBER_BEFORE_ONE = (
    "the|this|that|which|other|a|any|last|latter",
    *(word for word in _ORDINALS if not word.isalpha() or word.endswith(("st", "nd", "rd", "th"))),
)


def item_number(text: str, count: int) -> int | None:
    """The item picked from a numbered list of `count` ("2", "#2", "the second one",
    "the last one", "number 3"), 1-based; None for none or more than one ("both")."""
    text = _normalize(text)
    # "not the first one" names the item it rules out; "-1" is no place in a list.
    if _has(r"both|all|every|each|none|not|n't|no(?!\.?\s*\d)|except|other than|instead of", text):
        return None
    # "the second one", "the one with the ruby": here "one" is no number.
    text = re.sub(rf"\b({'|'.join(_NOT_NUMBER_BEFORE_ONE)}) one\b", r"\1", text)
    picked = {int(m) for m in re.findall(r"(?<![\w.-])#?(\d{1,2})(?![\w.])", text)}
    picked |= {n for word, n in _ORDINALS.items() if _has(word, text)}
    if _has(r"last|latter|bottom", text):
        picked.add(count)
    if len(picked) != 1:
        return None
    number = picked.pop()
    return number if 1 <= number <= count else None


def size_step(text: str) -> float | None:
    """A ring size asked for relative to the current one: "a size up" -> 1.0, "half a
    size smaller" -> -0.5, "one size bigger" -> 1.0; None when no step is named."""
    text = _normalize(text)
    up = _has(r"up|bigger|larger|big|large", text)
    down = _has(r"down|smaller|small", text)
    if up == down or re.search(r"\d(?!\s*sizes?\b)", text):
        return None  # both, neither, or an absolute size ("size 7, one up from 6")
    if _has(r"a bit|a little|slightly|somewhat", text):
        return None  # how much is not said
    if _has(r"half|1/2|½", text):
        step = 0.5
    elif _has(r"two|2 sizes|two sizes", text):
        step = 2.0
    elif _has(r"size|one|a", text):
        step = 1.0
    else:
        return None
    return step if up else -step
