"""Personal data out of what staff read on the Insights page and out of every log line.

`Redactor.redact` replaces, in this order (each pass runs on the previous pass's output):

1. e-mail addresses, also written "ava (at) example (dot) com" -> `[email]`. The store's own
   address is redacted too: one rule for every address is safer than an allowlist, since
   the staff's own addresses on the store's domain are personal data as well;
2. payment card numbers (13-19 digits that pass the Luhn check) -> `[card]`;
3. order numbers in every form the store accepts (bot/orders/normalize.py): "KNT-1001",
   "knt1001", "KNT 1001", "KNT#1001", "#1001", and a bare 4-6 digit number right after
   "order" ("order 1001", "order number is 100234") -> `[order]`;
4. phone numbers, international ("+44 20 7946 0958", "+1 (555) 123-4567", "0044 ...") and
   national ("555-123-4567", "07700 900123"), but not dates, prices, ring sizes, IP
   addresses or short numbers ("size 7", "30 days") -> `[phone]`;
5. a name after a cue that says it is one ("my name is ...", "I'm ...", "this is ...",
   "... here", a sign-off "Thanks, Anna", "me llamo ...") -> `[name]`;
6. with a spaCy pipeline: PERSON entities -> `[name]`.

Zero-width and bidi control characters are dropped first: they are invisible, and one
inside "ava\u200b@example.com" would otherwise hide the address from the patterns.

Every pattern is anchored (a look-behind, a word boundary or a line start), so it never
starts again inside a run it could have started earlier: a megabyte of "aaaa..." or
"1 1 1 ..." costs linear time (under a second here).
"""

from __future__ import annotations

import logging
import os
import re
import threading
import traceback
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from bot.catalogue import GEMSTONES, METALS, SYNONYMS

log = logging.getLogger(__name__)

# spaCy's NER costs about 2.5 ms per short sentence and ~90 ms per 5,000 characters on these
# cores. Only this much of a text goes through NER; the rest of a longer text (a pasted
# e-mail thread, a traceback) gets the regex passes only, names after cues included.
MAX_NER_CHARS = 5_000

EMAIL, CARD, ORDER, PHONE, NAME = "[email]", "[card]", "[order]", "[phone]", "[name]"
_PLACEHOLDER = re.compile(r"\[(?:email|card|order|phone|name)\]")

# Zero-width space/non-joiner/joiner, word joiner, BOM, soft hyphen, Mongolian vowel
# separator and the bidi controls. ZWJ and ZWNJ are kept between non-ASCII characters:
# there they join emoji and spell Persian and Indic words.
_INVISIBLE = re.compile(
    r"[\u200b\u200e\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\u00ad\u180e]"
    r"|(?<=[\x21-\x7e])[\u200c\u200d]|[\u200c\u200d](?=[\x21-\x7e])"
)

# Cheap tests that tell whether a pass can match at all (see redact_patterns).
_ANY_INVISIBLE = re.compile(
    r"[\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\u00ad\u180e]"
)
_ANY_AT = re.compile(r"[@＠]|[\s\[(]at[\s\])]", re.IGNORECASE)
_ANY_DIGIT = re.compile(r"\d")

_EMAIL = re.compile(
    r"(?<![\w.%+-])[\w.%+-]+[ \t]*[@＠][ \t]*[\w-]+(?:\.[\w-]+)+"
    # "ava (at) example (dot) com", "ava[at]example.com"
    r"|(?<![\w.%+-])[\w.%+-]+\s*[\[(]\s*at\s*[\])]\s*[\w-]+"
    r"(?:\s*(?:[\[(]\s*dot\s*[\])]|\.)\s*[\w-]+)+"
    # "ava at example dot com"
    r"|(?<![\w.%+-])[\w.%+-]+\s+at\s+[\w-]+(?:\s+dot\s+[\w-]+)+\b",
    re.IGNORECASE,
)

_CARD = re.compile(r"(?<![\w+#/.,:$€£¥-])\d(?:[ -]?\d){12,18}(?![\w]|[.,-]\d)")

# The store's order numbers: KNT + 4-6 digits, "#" + 4-6 digits, or 4-6 digits named as
# an order. Only the number is replaced in "order number is 1001", so the sentence reads.
_ORDER = re.compile(
    r"(?<![\w-])KNT\s?[-–—#:]?\s?\d{4,6}(?!\d)"
    r"|(?<![\w&])#\s?\d{4,6}(?![\d.,]\d|\d)",
    re.IGNORECASE,
)
_ORDER_NAMED = re.compile(
    r"\b(?:orders?|ordr|oder)(?:\s*(?:number|num|nr|no|id|ref)\.?)?\s*(?:is|was|:|=|-)?\s*"
    r"(\d{4,6})(?![\d.,]\d|\d)",
    re.IGNORECASE,
)

_SPACE = "[ \u00a0\u202f]"
_PHONE = re.compile(
    r"(?<![\w#/.,:;@+$€£¥%&=-])"  # not inside a word, number, date, price or an id
    rf"(?:\+{_SPACE}?)?\(?\d[\d \u00a0\u202f().-]{{5,24}}\d"
    r"(?![\w@%/:]|[.,-]\d)"
)
_DIGIT_GROUP = re.compile(r"\d+")
_DATE_START = re.compile(
    r"^\d{4}[-./]\d{1,2}[-./]\d{1,2}(?!\d)|^\d{1,2}[-./]\d{1,2}[-./]\d{2,4}(?!\d)"
)
_IP = re.compile(r"^\d{1,3}(?:\.\d{1,3}){3}$")
_YEAR_RANGE = re.compile(r"^(?:19|20)\d\d ?[-–] ?(?:19|20)\d\d$")
_SEPARATORS = {"", " ", "-", ".", " - "}

# A word of a name: letters, with ' or - inside ("O'Neill", "Al-Rashid"), or an initial.
_WORD = r"[^\W\d_](?:[\w'’-]*[^\W\d_])?\.?"
_NAMES = rf"(?P<words>{_WORD}(?:[ \t]+{_WORD}){{0,3}})"
# The cue is matched, the name only looked at: in "Hi, I'm Ava" the cue "Hi" finds no name
# and the cue "I'm" must still be found inside what "Hi" looked at.
_NAME_AFTER = re.compile(
    # The cues' first letters: a position that cannot start a cue fails at once (2x faster).
    r"(?=[mncijtshdMNCIJTSHDмМاש])"
    r"(?i:\b(?P<strong>my\s+name\s+is|my\s+name's|my\s+name\s*:|name\s*:|call\s+me"
    r"|i\s+am\s+called|me\s+llamo|mi\s+nombre\s+es|je\s+m'appelle|je\s+m’appelle"
    r"|ich\s+heiße|ich\s+heisse|mein\s+name\s+ist|mi\s+chiamo|meu\s+nome\s+é"
    r"|меня\s+зовут|اسمي|שמי)"
    r"|\b(?P<weak>this\s+is|i'm|i’m|i\s+am|im|it's|it’s|signed|hi|hello|hey|dear))"
    rf"(?:[ \t]*,?[ \t]+|(?<=:)[ \t]*)(?={_NAMES})"
)
_NAME_HERE = re.compile(rf"(?<![\w'’-]){_NAMES}[ \t]+here\b")
_SIGN_OFF = re.compile(
    r"(?im)^[ \t>]*(?:thanks|thank\s+you|many\s+thanks|with\s+thanks|regards|best\s+regards"
    r"|kind\s+regards|warm\s+regards|best\s+wishes|warm\s+wishes|warmly|all\s+the\s+best"
    r"|take\s+care|best|cheers|sincerely|yours|love|xoxo|xo)[ \t]*[,!.-]?[ \t]*(?:\n[ \t>]*)?"
    rf"{_NAMES}[ \t]*[.!]?[ \t]*$"
)
# Particles inside a name ("Siobhán Ní Bhriain", "Ludwig van Beethoven").
_PARTICLES = {
    "van", "von", "de", "der", "den", "da", "di", "del", "della", "du", "la", "le", "bin",
    "ibn", "al", "el", "ní", "nic", "ó", "ua", "mac", "y", "dos", "das", "ter", "ten",
}  # fmt: skip
_HONORIFICS = {"mr", "mrs", "ms", "miss", "dr", "mx", "sr", "sra", "herr", "frau", "mme"}
# Words that follow "I'm" / "this is" / come before "here" without being a name; the
# store's own vocabulary (brands, carriers, gemstones, metals) is never a name either.
_STORE_WORDS = {
    *(w for phrase in (*GEMSTONES, *METALS, *SYNONYMS) for w in phrase.split()),
    "knt", "fedex", "ups", "usps", "dhl", "paypal", "klarna", "afterpay", "affirm",
    "sezzle", "visa", "mastercard", "amex", "discover", "venmo", "zelle", "stripe", "apple",
    "google", "shop", "pay", "gia", "igi", "tiffany", "cartier", "etsy", "pandora",
    "pearl", "pearls", "opal", "topaz", "garnet", "peridot", "citrine", "tanzanite", "onyx",
    "jade", "amber", "silver", "sterling", "palladium", "titanium", "tungsten", "carat",
    "christmas", "valentine", "valentine's", "easter", "monday", "tuesday", "wednesday",
    "thursday", "friday", "saturday", "sunday", "splitit",
}  # fmt: skip
# Whole names that are the store's or its trade's, not a person's ("James Allen" the
# jeweller), and chat spellings spaCy takes for names ("wen do u charge").
_STORE_PHRASES = {"james allen", "blue nile", "brilliant earth", "shop pay", "apple pay"}
_CHAT_WORDS = {"wen", "wat", "u", "ur", "pls", "plz", "thx", "ty", "hw", "whens", "r", "y"}
# Words of servers' own log lines that spaCy's NER takes for names ("403 Forbidden").
_LOG_WORDS = {
    "forbidden", "unauthorized", "accepted", "created", "rejected", "refused", "error",
    "warning", "info", "debug", "critical", "started", "finished", "shutting", "waiting",
    "connection", "application", "server", "process", "websocket", "uvicorn", "sanic",
    "traceback", "exception", "timeout", "unavailable", "gateway", "rasa",
}  # fmt: skip
_NOT_NAMES = _STORE_WORDS | _LOG_WORDS | {
    "a", "an", "the", "not", "so", "very", "just", "really", "still", "also", "here",
    "there", "sure", "fine", "ok", "okay", "good", "great", "happy", "glad", "sorry", "sad",
    "looking", "interested", "trying", "wondering", "writing", "asking", "contacting",
    "calling", "reaching", "hoping", "waiting", "going", "getting", "having", "about",
    "from", "in", "on", "at", "for", "with", "to", "of", "your", "my", "our", "their", "it",
    "this", "that", "what", "why", "how", "when", "where", "who", "which", "urgent",
    "important", "ridiculous", "frustrating", "amazing", "beautiful", "perfect", "correct",
    "right", "wrong", "true", "false", "possible", "available", "free", "new", "back",
    "done", "ready", "regarding", "re", "hi", "hello", "hey", "dear", "thanks", "thank",
    "please", "yes", "no", "order", "orders", "ring", "rings", "customer", "support",
    "service", "team", "shipping", "returns", "help", "again", "now", "too", "late",
    "early", "confused", "unhappy", "disappointed", "excited", "worried", "concerned",
    "planning", "buying", "ordering", "returning", "following", "checking",
    "all", "any", "some", "one", "two", "me", "i", "you", "we", "they", "he", "she",
    "is", "was", "be", "been", "out", "up", "down", "over", "under",
    "only", "already", "currently", "almost", "unable", "able", "mr", "mrs",
    "ms", "dr", "sir", "madam", "ma'am", "everyone", "anyone", "someone", "nobody",
    "i'm", "i’m", "im", "it's", "it’s", "i've", "i'd", "i'll", "guys", "folks",
    "morning", "afternoon", "evening", "and", "or", "but",
}  # fmt: skip


def _luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _card(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group())
    return CARD if 13 <= len(digits) <= 19 and _luhn(digits) else match.group()


def _order_named(match: re.Match[str]) -> str:
    whole, start = match.group(), match.start()
    return whole[: match.start(1) - start] + ORDER + whole[match.end(1) - start :]


def _is_phone(candidate: str) -> bool:
    plus = candidate.startswith("+")
    body = candidate.lstrip("+").strip()
    groups = _DIGIT_GROUP.findall(body)
    digits = sum(len(g) for g in groups)
    if not 7 <= digits <= 15 or body.count("(") != body.count(")"):
        return False
    separators = _DIGIT_GROUP.split(body)[1:-1]
    if any(s.replace("(", "").replace(")", "") not in _SEPARATORS for s in separators):
        return False
    if len(groups) == 1:
        # A bare run of digits is a phone number only when it is long (national numbers
        # have 9+ digits); shorter ones are amounts, references, postal codes.
        return plus or digits >= 9
    # A one-digit group only as a country or trunk code ("+1 ...", "1-800-...") or the
    # first digit after a country code ("+33 6 12 34 56 78"): a list of ring sizes
    # "5 6 7 8 9 10" is not a phone number.
    if any(len(g) == 1 for g in groups[2 if plus else 1 :]):
        return False
    if plus:
        return True
    if _DATE_START.match(body) or _IP.match(body) or _YEAR_RANGE.match(body):
        return False
    # "1234567.89" is an amount.
    return not (len(groups) == 2 and separators[0] in (".", ",") and len(groups[1]) <= 2)


def _phone(match: re.Match[str]) -> str:
    candidate = match.group()
    if _is_phone(candidate):
        return PHONE
    # The pattern is greedy: "555-123-4567 2 times" takes the "2" along. Try the longest
    # prefix that ends before a space, before the first group that no phone number has
    # (a one-digit group after the first), and is a phone number; the rest stays.
    groups = list(_DIGIT_GROUP.finditer(candidate))
    first = 2 if candidate.startswith("+") else 1
    usable = next(
        (i for i, g in enumerate(groups) if i >= first and len(g.group()) == 1), len(groups)
    )
    for g in reversed(groups[1 : min(usable, len(groups) - 1)]):
        end = g.end()
        if candidate[end] == " " and _is_phone(candidate[:end]):
            return PHONE + candidate[end:]
    return candidate


def _name_words(words: str, strong: bool) -> tuple[int, int] | None:
    """The span (in `words`) of the name at its start, or None: capitalised words with
    the particles between them; after a strong cue ("my name is") also up to two
    lower-case words or words of a caseless script (Arabic, Hebrew, CJK). A first word
    that is the store's ("Rose", "Ruby") counts only with a surname after it."""
    found = list(re.finditer(r"\S+", words))
    taken: list[tuple[int, int]] = []
    uncased = 0  # lower-case or caseless words taken (after a strong cue only)
    for i, m in enumerate(found):
        word = m.group().rstrip(".")
        lower = word.lower()
        capital = word[:1].isupper()
        if not taken and lower in _HONORIFICS:
            continue  # "this is Mrs. Ava Smith": the name starts after the title
        if lower in _PARTICLES:
            if not taken:
                break
            taken.append(m.span())
        elif taken:
            if capital and lower not in _STORE_WORDS:
                taken.append(m.span())  # "Nguyễn Văn An": capitalised words go on a name
            elif strong and not capital and uncased < 2 and lower not in _NOT_NAMES:
                taken.append(m.span())
                uncased += 1
            else:
                break
        elif lower in _NOT_NAMES:
            after = found[i + 1].group().rstrip(".") if i + 1 < len(found) else ""
            if not (capital and lower in _STORE_WORDS and after[:1].isupper()):
                break
            if after.lower() in _NOT_NAMES:
                break
            taken.append(m.span())  # "Rose Smith"
        elif capital:
            taken.append(m.span())
        elif strong and word[:1].isalpha():
            taken.append(m.span())
            uncased += 1
        else:
            break
    while taken and words[slice(*taken[-1])].rstrip(".").lower() in _PARTICLES:
        taken.pop()
    if not taken:
        return None
    start, end = taken[0][0], taken[-1][1]
    if words[end - 1] == "." and end - taken[-1][0] > 2:
        end -= 1  # the full stop after a name ends the sentence; an initial keeps its own
    return start, end


def _cue_names(text: str, here: bool = True) -> list[tuple[int, int]]:
    """Where names are, found by the words around them (no spaCy). `here`: the text may
    have "here" in it (the "Cara O'Neill here" pattern is tried only then)."""
    spans = []
    for m in _NAME_AFTER.finditer(text):
        span = _name_words(m.group("words"), strong=m.group("strong") is not None)
        if span:
            spans.append((m.start("words") + span[0], m.start("words") + span[1]))
    for m in _SIGN_OFF.finditer(text):
        span = _name_words(m.group("words"), strong=False)
        if span:
            spans.append((m.start("words") + span[0], m.start("words") + span[1]))
    for m in _NAME_HERE.finditer(text) if here else ():
        # The name is the run of capitalised words right before "here" ("Hi, Cara O'Neill
        # here"); read backwards, it ends at the first word that is not part of one.
        words = list(re.finditer(r"\S+", m.group("words")))
        first = len(words)
        for i in range(len(words) - 1, -1, -1):
            word = words[i].group().rstrip(".")
            particle = word.lower() in _PARTICLES and first < len(words)
            if particle or (word[:1].isupper() and word.lower() not in _NOT_NAMES):
                first = i
            else:
                break
        if first < len(words):
            base = m.start("words")
            spans.append((base + words[first].start(), base + words[-1].end()))
    return spans


def _replace(text: str, spans: Iterable[tuple[int, int]], placeholder: str) -> str:
    """`text` with every span (overlapping ones merged) replaced by `placeholder`."""
    parts: list[str] = []
    at = 0
    for start, end in sorted(spans):
        if end <= at:
            continue
        parts += [text[at : max(at, start)], placeholder] if start >= at else []
        at = max(at, end)
    return "".join(parts) + text[at:] if parts else text


def redact_patterns(text: str) -> str:
    """Every pass but spaCy's (1-5 of the module docstring).

    A pass runs only when a cheap test says it can match: most log lines have no "@", no
    digit or no "here", and that halves the time of a typical line (to ~40 µs here).
    """
    if _ANY_INVISIBLE.search(text):
        text = _INVISIBLE.sub("", text)
    if _ANY_AT.search(text):
        text = _EMAIL.sub(EMAIL, text)
    if _ANY_DIGIT.search(text):
        text = _CARD.sub(_card, text)
        text = _ORDER.sub(ORDER, text)
        text = _ORDER_NAMED.sub(_order_named, text)
        text = _PHONE.sub(_phone, text)
    return _replace(text, _cue_names(text, "here" in text.lower()), NAME)


def _is_person(text: str) -> bool:
    """Whether a PERSON entity may be a person's name: never an identifier (digits,
    "web-…" conversation ids, paths), never only the store's own words ("Klarna"), and
    never in a script without letter case only: the English model guesses on Hebrew or
    Arabic (it took "המייל", "the e-mail", for a name); there the cues find names."""
    if not any(ch.isupper() or ch.islower() for ch in text):
        return False
    if re.search(r"[\d_/\\@=:<>{}|]", text) or " ".join(text.lower().split()) in _STORE_PHRASES:
        return False
    words = [w.strip(".,'’-").lower() for w in text.split()]
    ignored = _STORE_WORDS | _CHAT_WORDS | _LOG_WORDS
    return any(w and w not in ignored for w in words)


# spaCy's pipelines are not documented as thread-safe; the log redaction may run NER from
# any thread, so this module's own NER calls take turns.
_ner_lock = threading.Lock()


class Redactor:
    """Replaces personal data in a text with `[email]`, `[phone]`, `[order]`, `[card]` and
    `[name]`. `nlp` is spaCy's full pipeline (`bot.staff.nlp.full_pipeline`); without it
    names are found only after cues ("my name is ...")."""

    def __init__(self, nlp: Any | None = None) -> None:
        self.nlp = nlp
        self._disable: list[str] = _ner_only(nlp) if nlp is not None else []

    def redact(self, text: str, ner_chars: int = MAX_NER_CHARS) -> str:
        """`text` redacted; NER reads only its first `ner_chars` characters (the rest gets
        the patterns and the name cues)."""
        if not text:
            return text
        text = redact_patterns(text)
        if self.nlp is None:
            return text
        with _ner_lock:
            doc = self.nlp(text[:ner_chars], disable=self._disable)
        return _replace_people(text, doc)

    def redact_many(self, texts: Iterable[str]) -> list[str]:
        """`redact` for many texts; spaCy runs them in batches (about 40% less per text)."""
        patterned = [redact_patterns(t) if t else t for t in texts]
        if self.nlp is None:
            return patterned
        with _ner_lock:
            docs = list(
                self.nlp.pipe([t[:MAX_NER_CHARS] for t in patterned], disable=self._disable)
            )
        return [_replace_people(t, doc) for t, doc in zip(patterned, docs, strict=True)]


def _ner_only(nlp: Any) -> list[str]:
    """The pipeline's components NER does not need (in en_core_web_sm NER has its own
    token vectors, so everything but `ner` is skipped: 2.5 ms instead of 5.3 ms)."""
    needed = {"ner", "entity_ruler", "span_ruler"}
    names = list(getattr(nlp, "pipe_names", []))
    for name in names:
        listeners = getattr(nlp.get_pipe(name), "listening_components", None) or []
        if needed & set(listeners):
            needed.add(name)
    return [n for n in names if n not in needed]


def _replace_people(text: str, doc: Any) -> str:
    spans: list[tuple[int, int]] = []
    placeholders = [(m.start(), m.end()) for m in _PLACEHOLDER.finditer(doc.text)]
    for ent in doc.ents:
        if ent.label_ != "PERSON" or not _is_person(ent.text):
            continue
        spans.extend(_without(ent.start_char, ent.end_char, placeholders, doc.text))
    return _replace(text, spans, NAME)


def _without(
    start: int, end: int, holes: Sequence[tuple[int, int]], text: str
) -> list[tuple[int, int]]:
    """[start, end) minus the placeholders already in the text, trimmed of spaces and
    punctuation, keeping only pieces with a letter in them."""
    pieces = [(start, end)]
    for h_start, h_end in holes:
        cut = []
        for s, e in pieces:
            if h_end <= s or h_start >= e:
                cut.append((s, e))
                continue
            if s < h_start:
                cut.append((s, h_start))
            if h_end < e:
                cut.append((h_end, e))
        pieces = cut
    kept = []
    for s, e in pieces:
        while s < e and not text[s].isalnum():
            s += 1
        while e > s and not (text[e - 1].isalnum() or text[e - 1] == "."):
            e -= 1
        if any(ch.isalpha() for ch in text[s:e]):
            kept.append((s, e))
    return kept


# --- logging ------------------------------------------------------------------------

# How long the first log record waits for `nlp_loader` (spaCy loads in about 1 s here).
# Bounded so that a loader that itself waits on the logging thread cannot hang logging.
LOADER_WAIT_SECONDS = 20.0
# A log record is made in the thread that logs, often an event loop: NER there costs about
# 2.5 ms per 100 characters, so it reads only the start of a line (the rest gets the
# patterns). Measured: a 5,000-character line took 123 ms of a gateway's event loop.
LOG_NER_CHARS = 400
# Loggers whose formatter reads `record.args` itself (uvicorn's access log unpacks five of
# them): their arguments are redacted one by one and kept, not merged into the message.
_ARGS_READ_BY_FORMATTER = frozenset({"uvicorn.access"})
_WITHHELD = "<log message withheld: it could not be redacted>"
_TRACEBACK_HEADERS = {
    "Traceback (most recent call last):",
    "During handling of the above exception, another exception occurred:",
    "The above exception was the direct cause of the following exception:",
}


class _RedactingFactory:
    """A LogRecord factory: the record of the wrapped factory, with its message (the
    %-args merged in), its traceback and its stack redacted before any handler sees it."""

    def __init__(
        self, base: Callable[..., logging.LogRecord], nlp_loader: Callable[[], Any] | None
    ) -> None:
        self.base = base
        self.nlp_loader = nlp_loader
        self._patterns = Redactor()
        self._full: Redactor | None = None
        self._local = threading.local()
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self._loading = False
        self._waited = False
        os.register_at_fork(after_in_child=self._after_fork)

    def _after_fork(self) -> None:
        # The loading thread does not exist in a child forked while it ran: load again.
        self._lock = threading.Lock()
        if not self._ready.is_set():
            self._ready = threading.Event()
            self._loading = self._waited = False

    def __call__(self, *args: Any, **kwargs: Any) -> logging.LogRecord:
        record = self.base(*args, **kwargs)
        if getattr(self._local, "busy", False):
            # A record made while this thread redacts or loads spaCy (spaCy logging):
            # the patterns only, and no recursion into NER.
            self._apply(record, self._patterns)
            return record
        self._local.busy = True
        try:
            self._apply(record, self._redactor())
        finally:
            self._local.busy = False
        return record

    def _redactor(self) -> Redactor:
        if self.nlp_loader is None:
            return self._patterns
        if not self._ready.is_set():
            with self._lock:
                start = not self._loading
                self._loading = True
            if start:
                try:
                    threading.Thread(
                        target=self._load, name="log-redaction-nlp", daemon=True
                    ).start()
                except RuntimeError:  # no new threads at interpreter shutdown
                    self._ready.set()
            # Only the first records wait; once a wait timed out, later records do not.
            if not self._waited and not self._ready.wait(LOADER_WAIT_SECONDS):
                self._waited = True
        return self._full or self._patterns

    def _load(self) -> None:
        self._local.busy = True  # what spaCy logs while loading gets the patterns only
        loader = self.nlp_loader
        try:
            if loader is not None:
                self._full = Redactor(loader())
        except Exception as exc:
            log.warning("log redaction without names: spaCy could not be loaded (%s)", exc)
        finally:
            self._ready.set()

    def _apply(self, record: logging.LogRecord, redactor: Redactor) -> None:
        try:
            if record.name in _ARGS_READ_BY_FORMATTER and isinstance(record.args, tuple):
                record.args = tuple(
                    redact_patterns(a) if isinstance(a, str) else a for a in record.args
                )
                return
            try:
                message = record.getMessage()
            except Exception:  # a format that does not fit its args: keep both, redacted
                message = f"{record.msg!s} {record.args!r}"
            record.msg = redactor.redact(message, LOG_NER_CHARS)
            record.args = ()
            if record.exc_info and record.exc_info[0] is not None:
                text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
                record.exc_text = _redact_traceback(text, redactor)
                # Formatters print exc_text when it is set; dropping exc_info keeps any
                # formatter that re-formats the exception itself from printing it raw.
                record.exc_info = None
            elif record.exc_text:
                record.exc_text = redactor.redact(record.exc_text, LOG_NER_CHARS)
            if record.stack_info:
                record.stack_info = redact_patterns(record.stack_info)
        except Exception:
            record.msg, record.args = _WITHHELD, ()
            record.exc_info = record.exc_text = record.stack_info = None


def _redact_traceback(text: str, redactor: Redactor) -> str:
    """Frames (file, line, code) get the patterns; the exception's own message lines get
    the full redaction (NER on code would turn identifiers into "[name]")."""
    lines = text.split("\n")
    out = []
    for line in lines:
        if not line.strip() or line in _TRACEBACK_HEADERS:
            out.append(line)
        elif line.startswith((" ", "\t")):
            out.append(redact_patterns(line))
        else:
            out.append(redactor.redact(line, LOG_NER_CHARS))
    return "\n".join(out)


_install_lock = threading.Lock()


def install_log_redaction(nlp_loader: Callable[[], Any] | None = None) -> None:
    """Redact every log record of this process before any handler sees it.

    `nlp_loader` (e.g. `lambda: full_pipeline(settings.faq_spacy_model)`) is called once, in
    a thread of its own, when the first record is made, never at install; until it
    returns the first records wait for it (at most LOADER_WAIT_SECONDS) and if it fails,
    logging goes on with the patterns only. Installing again keeps the installed factory
    (no double wrapping); a loader given then is used if none was given before.
    Not redacted: `extra=` attributes (logging sets them after the factory returns).
    """
    with _install_lock:
        current = logging.getLogRecordFactory()
        if isinstance(current, _RedactingFactory):
            if current.nlp_loader is None and nlp_loader is not None:
                current.nlp_loader = nlp_loader
            return
        logging.setLogRecordFactory(_RedactingFactory(current, nlp_loader))


__all__ = [
    "CARD",
    "EMAIL",
    "MAX_NER_CHARS",
    "NAME",
    "ORDER",
    "PHONE",
    "Redactor",
    "install_log_redaction",
    "redact_patterns",
]
