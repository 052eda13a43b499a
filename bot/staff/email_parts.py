"""The structure of a pasted e-mail: which lines are the customer's own words.

An e-mail pasted into the staff console holds much more than the customer's questions:
a greeting, a sign-off and signature, a "Sent from my iPhone", a disclaimer, and below (or
between) it all the earlier messages of the thread, quoted. Mail clients mark all of these
by lines, not sentences, so they are dropped here by line rules (`read_email`) before any
sentence is parsed: a quoted "Is there anything else we can help with?" is our own agent's
line, and a signature line "Will Parker" is a name, not a question beginning with "Will".

What is left is the customer's own text, as spans of the original e-mail (`EmailParts`);
`bot.staff.questions` finds the questions in it. The sender's name for the draft's
greeting comes from the sign-off and signature found here (`sender_name`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

# Only this much of the customer's own text is parsed: no customer writes more than a few
# paragraphs, and spaCy costs about 45 ms per 1,000 characters on these cores (20,000
# characters: under a second). Quoted threads are dropped by line rules first, which cost
# about 1 ms per 10 KB, so a long thread below a short reply stays fast; lines beyond
# MAX_RAW_CHARS are not read at all.
MAX_EMAIL_CHARS = 20_000
MAX_RAW_CHARS = 200_000


@dataclass(frozen=True)
class EmailParts:
    """Where the customer's own words are in an e-mail (offsets into `text`)."""

    text: str  # the e-mail as read (cut at MAX_RAW_CHARS)
    truncated: bool  # not all of the customer's text was analysed (MAX_EMAIL_CHARS)
    body: tuple[tuple[int, int], ...]  # the customer's own lines, grouped into units
    signoff: tuple[int, int] | None  # the sign-off line ("Best regards," / "Thanks, Anna")
    signature: tuple[tuple[int, int], ...]  # the lines after the sign-off or "-- "
    header_from: str | None  # "From:" of a header block pasted at the very top

    def body_text(self) -> str:
        return "\n".join(self.text[a:b] for a, b in self.body)


# --- pass 1: lines ----------------------------------------------------------------------

_QUOTED = re.compile(r"^\s*>")
# "On Tue, Mar 3, 2026 at 9:14 AM Mia <mia@x.com> wrote:" (mail clients wrap it onto a
# second or third line when it is long), and the same in a few other languages.
_REPLY_START = re.compile(r"^\s*(?:On|Le|Am|El|Il|Op)\s+\S", re.I)
_REPLY_END = re.compile(r"(?:wrote|a\s+écrit|schrieb|escribió|ha\s+scritto|schreef)\s*:\s*$", re.I)
_SEPARATOR = re.compile(
    r"^\s*(?:-{2,}\s*(?:original|forwarded)\s+message\s*-{2,}|begin\s+forwarded\s+message:?"
    r"|_{10,}|-{10,})\s*$",
    re.I,
)
_HEADER = re.compile(
    r"^\s*\*?(?:from|sent|date|to|cc|bcc|subject|reply-to|von|gesendet|an|betreff|de|"
    r"envoyé|à|objet)\s*:\*?(?:\s|$)",
    re.I,
)
_HEADER_FROM = re.compile(r"^\s*\*?(?:from|von|de)\s*:\*?\s*(.*)$", re.I)
_SIG_DASHES = re.compile(r"^--\s*$")
_MOBILE = re.compile(
    r"^\s*(?:sent\s+(?:from|via|with)\s+(?:my\s+)?\S|get\s+outlook\s+for\b|"
    r"download\s+outlook\s+for\b)",
    re.I,
)
# Legal footers. A customer's sentence may say "confidential" too ("Is my data kept
# confidential?"), so a line counts only when it is long and asks nothing, or uses the
# footers' own phrases.
_DISCLAIMER = re.compile(
    r"\b(?:intended\s+(?:solely\s+)?(?:for\s+the\s+)?(?:recipient|addressee)|"
    r"if\s+you\s+(?:have\s+)?received\s+this|this\s+(?:e-?mail|message)\s+and\s+any\s+"
    r"(?:attachments|files)|before\s+printing\s+this|disclaimer:|confidentiality\s+notice)",
    re.I,
)
_DISCLAIMER_WORDS = re.compile(r"\b(?:confidential|privileged|virus(?:es)?)\b", re.I)


def _is_disclaimer(line: str) -> bool:
    stripped = line.strip()
    if _DISCLAIMER.search(stripped):
        return True
    return bool(
        _DISCLAIMER_WORDS.search(stripped)
        and len(stripped.split()) >= 12
        and not stripped.endswith("?")
    )


_PS = re.compile(r"^\s*p\.?\s?p?\.?\s?s\.?(?=[\s:,.-])[\s:,.-]*", re.I)
GREETING_WORD = (
    r"(?:hi|hello|hey|hiya|heya|howdy|dear|greetings|good\s+(?:morning|afternoon|evening|day)"
    r"|to\s+whom\s+it\s+may\s+concern|hallo|bonjour|hola|ciao|salut|yo)"
)
# A whole line that only greets: "Hi there,", "Dear KNT team,", "Hello KNT Support!" (and
# not "Hi, can you help me" or "Hi KNT, where's my ring": no word of it may ask).
_GREETING_LINE = re.compile(
    rf"^\s*{GREETING_WORD}\b(?P<rest>(?:[\s,]+[\w.'’&-]+){{0,4}})\s*[,.!:;-]*\s*$",
    re.I | re.U,
)
# ... nor say who needs what: "hi i need info on" starts a request, not a greeting.
_ASKING_WORD = re.compile(
    r"\b(?:how|what|whats|when|where|which|who|why|is|are|was|were|do|does|did|can|could"
    r"|will|would|should|may|might|have|has|any|please|pls|plz|quick|i|im|i'm|u|you|my|need"
    r"|want|info|question|questions|wondering)\b",
    re.I,
)


def _is_greeting_line(line: str) -> bool:
    match = _GREETING_LINE.match(line)
    if match is None:
        return False
    return not _ASKING_WORD.search(match.group("rest").replace("’", "'"))


# A sign-off line, possibly with the name on the same line ("Thanks, Anna", "Cheers - Bob").
_SIGNOFF_WORDS = (
    r"(?:(?:best|kind|kindest|warm|warmest|many|with|all\s+the|much)\s+)*"
    # ("Best regard", "Many thank": how some non-native writers close)
    r"(?:regards?|wishes|thanks|thank\s+you|thank|thx|thnx|thanx|tks|ty|cheers|sincerely|appreciated|"
    r"yours(?:\s+(?:sincerely|truly|faithfully))?|respectfully|best|love|xo+x*|x+|"
    r"take\s+care|talk\s+soon|speak\s+soon|merci|danke|gracias|saludos|cordialement|"
    r"grüße|grüsse|liebe\s+grüße|mfg|obrigad[oa]|bye|ta)"
)
_NAME_WORD = r"[^\W\d_][\w.'’-]*"
_TITLE_WORD = r"[^\W\d_a-z][\w.'’-]*"  # starts with a capital (or a non-ASCII letter)
_SIGNOFF = re.compile(
    rf"^\s*(?i:{_SIGNOFF_WORDS}(?:\s*(?:&|and)\s*{_SIGNOFF_WORDS})*"
    r"(?:\s+(?:so\s+much|very\s+much|again|in\s+advance|a\s+lot|for\s+your\s+(?:help|time)))?)"
    r"\s*[!.]*"
    # The name on the same line: after a comma or dash ("Thanks, kim", "Cheers - Bob"), or
    # in capitals ("Thanks Anna"); "Thanks for everything" has no name.
    rf"(?:\s*[,–—-]\s*(?P<name>{_NAME_WORD}(?:\s+{_NAME_WORD}){{0,2}})"
    rf"|\s+(?P<title>{_TITLE_WORD}(?:\s+{_TITLE_WORD}){{0,2}}))?"
    r"\s*[,.!]*\s*$",
    re.U,
)
# A name line: "Anna", "Will Parker", "José Ramírez", "Daniel & Sofia", "kim".
_NAME_LINE = re.compile(
    r"^\s*[^\W\d_][\w.'’-]*(?:\s+(?:&|and)?\s*[^\W\d_][\w.'’-]*){0,3}\s*$", re.U
)
_NOT_NAMES = {
    "sent",
    "team",
    "the",
    "customer",
    "support",
    "service",
    "knt",
    "thanks",
    "thank",
    "regards",
    "cheers",
    "best",
    "hello",
    "hi",
    "hey",
    "dear",
    "p.s.",
    "ps",
    "yes",
    "no",
    "ok",
    "okay",
    "sorry",
    "please",
    "question",
    "order",
}
_TITLES = {"mr", "mrs", "ms", "miss", "dr", "mr.", "mrs.", "ms.", "dr.", "prof", "prof."}


def _lines(text: str) -> list[tuple[int, int]]:
    spans, start = [], 0
    for line in text.splitlines(keepends=True):
        end = start + len(line.rstrip("\r\n"))
        spans.append((start, end))
        start += len(line)
    return spans


def _is_reply_header(lines: Sequence[str], i: int) -> int:
    """How many lines the "On ... wrote:" header starting at line i spans (0: none)."""
    if not _REPLY_START.match(lines[i]):
        return 0
    joined = ""
    for n in range(3):
        if i + n >= len(lines):
            break
        joined = f"{joined} {lines[i + n].strip()}"
        if _REPLY_END.search(joined) and len(joined) < 300:
            return n + 1
    return 0


_INLINE_HEADER = re.compile(r"\s(?:sent|date)\s*:\s.*\s(?:to|subject)\s*:", re.I)


def _header_block(lines: Sequence[str], i: int) -> int:
    """Lines of an e-mail header block ("From: ... Sent: ... To: ... Subject: ...") at i."""
    if not _HEADER_FROM.match(lines[i]) and not _HEADER.match(lines[i]):
        return 0
    if _HEADER_FROM.match(lines[i]) and _INLINE_HEADER.search(lines[i]):
        return 1  # "From: KNT Sent: Tuesday ... To: ... Subject: ..." on one line
    n = i
    while n < len(lines) and _HEADER.match(lines[n]):
        n += 1
    # One "From:" line alone may be a sentence ("From: my husband"); two fields are a header.
    return n - i if n - i >= 2 else 0


# A line that starts like a question ("one more thing - do you ship to Canada"): no
# signature line does, except a name ("Will Parker"), which has fewer words.
_LOOKS_ASKING = re.compile(
    r"^(?:(?:also|and|oh|btw|ps|one\s+more\s+thing|another\s+question|quick\s+question)"
    r"[\s,:;!.-]+)*"
    r"(?:how|what|whats|when|where|which|who|why|is|are|do|does|did|can|could|would|should"
    r"|will|may|any)\s+\S+\s+\S+",
    re.I,
)


# "- jay", "— Anna K.", "~Bob": a name after a dash, alone on the last line.
_DASH_NAME = re.compile(rf"^\s*(?:[-–—~]+\s*)(?P<name>{_NAME_WORD}(?:\s+{_NAME_WORD}){{0,2}})\s*$")


def _is_signoff(lines: Sequence[str], i: int) -> bool:
    """ "Best regards," / "Thanks, Anna" / any short line ending in a comma with a name
    alone on the next line ("Greetings from Lisbon,\nInes") / "- jay" after a blank line
    (a list's last item has another item above it)."""
    line = lines[i].strip()
    if _SIGNOFF.match(line):
        return True
    if _DASH_NAME.match(line) and i > 0 and not lines[i - 1].strip():
        above = next((x for x in reversed(lines[:i]) if x.strip()), "")
        if not LIST_ITEM.match(above):
            return True
    if not line.endswith(",") or len(line.split()) > 4 or _LOOKS_ASKING.match(line):
        return False
    nxt = next((x.strip() for x in lines[i + 1 :] if x.strip()), "")
    return bool(nxt) and is_title_case_name(nxt)


def _signature_follows(lines: Sequence[str], i: int) -> bool:
    """After line i only a signature could follow: short lines, a disclaimer, a P.S.

    "Thanks!" in the middle of an e-mail that goes on asking things is not a sign-off.
    """
    in_ps = False
    # A signature is short: looking 200 lines ahead is plenty (and keeps a long quoted
    # thread from being scanned once per "Thanks!" line).
    for n in range(i + 1, min(len(lines), i + 200)):
        line = lines[n]
        stripped = line.strip()
        if _QUOTED.match(line):
            continue
        if _is_reply_header(lines, n) or _SEPARATOR.match(line) or _header_block(lines, n):
            return True  # the earlier message starts: what it asks is not the customer's
        if not stripped:
            in_ps = False
            continue
        if _PS.match(stripped):
            in_ps = True
        if in_ps or _is_disclaimer(stripped) or _MOBILE.match(stripped):
            continue
        if stripped.endswith("?") or len(stripped.split()) > 8 or _LOOKS_ASKING.match(stripped):
            return False
    return True


def read_email(text: str) -> EmailParts:
    """Split an e-mail into the customer's own text, sign-off and signature (by lines)."""
    truncated = len(text) > MAX_RAW_CHARS
    text = text[:MAX_RAW_CHARS]
    reader = _LineReader(text)
    reader.read()
    body, capped = _capped(_units(text, reader.spans, reader.keep), MAX_EMAIL_CHARS)
    return EmailParts(
        text,
        truncated or capped,
        tuple(body),
        reader.signoff,
        tuple(reader.signature),
        reader.header_from,
    )


class _LineReader:
    """One pass over the lines of an e-mail, marking the customer's own (`keep`).

    Each `_...` step looks at line i and returns the next line to read (or None: the
    customer's message ended there); the first step that knows the line wins.
    """

    def __init__(self, text: str) -> None:
        self.spans = _lines(text)
        self.lines = [text[a:b] for a, b in self.spans]
        self.keep = [False] * len(self.lines)
        self.signoff: tuple[int, int] | None = None
        self.signature: list[tuple[int, int]] = []
        self.header_from: str | None = None
        self.seen_text = False  # a line of the customer's own text was kept
        self.in_signature = False
        self.in_ps = False

    def read(self) -> None:
        i: int | None = 0
        while i is not None and i < len(self.lines):
            i = self._step(i)

    def _step(self, i: int) -> int | None:
        line = self.lines[i]
        if not line.strip():
            self.in_ps = False
            return i + 1
        if _QUOTED.match(line):
            return i + 1
        for step in (self._thread, self._header, self._signature, self._greeting, self._signoff):
            nxt = step(i)
            if nxt != i:
                return nxt
        self.keep[i] = True
        self.seen_text = True
        return i + 1

    def _thread(self, i: int) -> int | None:
        """An earlier message: "On ... wrote:", "-----Original Message-----"."""
        reply = _is_reply_header(self.lines, i)
        if reply:
            nxt = next((x for x in self.lines[i + reply :] if x.strip()), "")
            if _QUOTED.match(nxt):
                # Bottom-posted or interleaved reply: the quote is marked with "> " and
                # the customer's own lines may follow it.
                return i + reply
            return None  # top-posted: everything below the header is the earlier message
        if _SEPARATOR.match(self.lines[i]):
            return None
        return i

    def _header(self, i: int) -> int | None:
        """A "From: / Sent: / To: / Subject:" block: pasted on top, or an earlier message."""
        block = _header_block(self.lines, i)
        if not block:
            return i
        if self.seen_text:
            return None  # an earlier message below the customer's own text
        match = _HEADER_FROM.match(self.lines[i])
        if match and self.header_from is None:
            self.header_from = match.group(1).strip()
        return i + block

    def _signature(self, i: int) -> int | None:
        """ "-- " and the lines after it or a sign-off, "Sent from my iPhone", a legal footer."""
        line = self.lines[i]
        if _SIG_DASHES.match(line):
            self.in_signature = True
            return i + 1
        if self.in_signature:
            if not _PS.match(line.strip()):
                self.signature.append(self.spans[i])
                return i + 1
            self.in_signature, self.in_ps = False, True  # a P.S. is the customer's again
        if _MOBILE.match(line) or (self.seen_text and not self.in_ps and _is_disclaimer(line)):
            self.in_signature = True
            return i + 1
        return i

    def _greeting(self, i: int) -> int | None:
        return i + 1 if not self.seen_text and _is_greeting_line(self.lines[i]) else i

    def _signoff(self, i: int) -> int | None:
        """ "Best regards," / "Thanks, Anna", when only a signature can follow it."""
        if self.in_ps or not _is_signoff(self.lines, i) or not _signature_follows(self.lines, i):
            return i
        self.signoff = self.spans[i]
        self.in_signature = True
        return i + 1


def _capped(units: list[tuple[int, int]], budget: int) -> tuple[list[tuple[int, int]], bool]:
    out = []
    for a, b in units:
        if b - a > budget:
            if budget > 0:
                out.append((a, a + budget))
            return out, True
        out.append((a, b))
        budget -= b - a
    return out, False


_SENTENCE_END = re.compile(r"[.?!:;]['\")\]]*\s*$")
# The marker of a list item: "- ", "* ", "• ", "1. ", "2) ", "(3) ", "a) ", "B) ", or a bare
# number before a question word ("1 whether you ..."). A letter needs its bracket ("a."
# starts too many sentences and initials); a dash or a star needs the space after it
# ("-5%", "*sigh*"); a bare number anything else ("2 rings arrived") is no marker.
LIST_ITEM = re.compile(
    r"^\s*(?:[-*–—](?=\s)|[•·‣◦▪►]|\(?\d{1,2}[.)](?=\s)|\(\d{1,2}\)|\(?[a-hA-H]\)(?=\s)"
    r"|[1-9](?=\s+(?:whether|if|how|what|when|where|why|which|who|can|could|do|does|is|are"
    r"|will|would)\b))\s*",
    re.I,
)


def _typed_in_lower_case(line: str) -> bool:
    """ "is it safe ordering such an expensive ring online tbh im a bit nervous": phone
    typing, no capital and no punctuation; a hard-wrapped letter line has either."""
    line = line.strip()
    return line[:1].islower() and not re.search(r"[,.;:!?]", line)


def _units(text: str, spans: list[tuple[int, int]], keep: list[bool]) -> list[tuple[int, int]]:
    """Consecutive kept lines, joined where a sentence runs on over a line break.

    A line is joined to the next only when it looks hard-wrapped: long (mail clients wrap
    at 72-78 characters) and not ending a sentence. Short lines without punctuation
    ("hey do u ship to canada" / "what about returns") are separate thoughts.
    """
    units: list[tuple[int, int]] = []
    current: tuple[int, int] | None = None
    prev_line = ""
    for (a, b), kept in zip(spans, keep, strict=True):
        line = text[a:b]
        if not kept or not line.strip():
            if current:
                units.append(current)
            current, prev_line = None, ""
            continue
        ps = _PS.match(line)
        if ps:
            a += ps.end()  # "P.S." is no part of the question
        wrapped = (
            len(prev_line.rstrip()) >= 60
            and not _SENTENCE_END.search(prev_line)
            # "... for her birthday\nCan I return it": a capital question start is new;
            # so is any question start under a line typed in lower case ("... tbh im a bit
            # nervous\nwill the parcel look like its jewellery"), which no mail client wrapped.
            and not (
                (
                    line.lstrip()[:1].isupper()
                    or _typed_in_lower_case(prev_line)
                    or (prev_line.lstrip()[:1].islower() and line.rstrip().endswith("?"))
                )
                and _LOOKS_ASKING.match(line.lstrip())
            )
            and not LIST_ITEM.match(line)  # each item of a list is a thought of its own
        )
        if current and wrapped:
            current = (current[0], b)
        else:
            if current:
                units.append(current)
            current = (a, b)
        prev_line = line
    if current:
        units.append(current)
    # Leading/trailing spaces are no part of a unit.
    out = []
    for a, b in units:
        piece = text[a:b]
        lead = len(piece) - len(piece.lstrip())
        trail = len(piece) - len(piece.rstrip())
        if b - trail > a + lead:
            out.append((a + lead, b - trail))
    return out


def is_title_case_name(text: str) -> bool:
    """ "Will Parker", "Ben Alvarez": a name alone, which may look like a question."""
    words = text.split()
    return (
        bool(_NAME_LINE.match(text))
        and len(words) <= 3
        and all(w[:1].isupper() for w in words if w not in {"&", "and"})
    )


def sender_name(parts: EmailParts, nlp: Any) -> str | None:
    """The customer's first name, from the sign-off or signature; None when unsure.

    "Thanks, Anna" / "Best regards,\\nCarla Jensen" / "-- \\nWill Parker" / a name alone
    on the last own line (confirmed by spaCy's NER) / a "From: Olivia Brown <...>" header
    pasted at the top.
    """
    candidates: list[str] = []
    if parts.signoff:
        line = parts.text[parts.signoff[0] : parts.signoff[1]]
        match = _SIGNOFF.match(line) or _DASH_NAME.match(line)
        name = match and (match.groupdict().get("name") or match.groupdict().get("title"))
        if name:
            candidates.append(name)
    for a, b in parts.signature[:1]:
        candidates.append(parts.text[a:b])
    for line in candidates:
        name = _first_name(line)
        if name:
            return name
    if parts.body and not parts.signoff:
        a, b = parts.body[-1]
        last = parts.text[a:b].strip()
        if is_title_case_name(last):
            doc = nlp(last)
            # A name alone on the last line: spaCy's NER often misses a lone first name
            # ("Cara" is tagged a noun), so any Title-case words without a verb, pronoun
            # or article will do ("Love it" and "See you" are not names).
            if any(e.label_ == "PERSON" for e in doc.ents) or not any(
                t.pos_ in {"VERB", "AUX", "PRON", "DET", "ADP", "INTJ"} for t in doc
            ):
                name = _first_name(last)
                if name:
                    return name
    if parts.header_from:
        shown = parts.header_from.split("<")[0].strip().strip('"')
        name = _first_name(shown) if shown and "@" not in shown else None
        if name:
            return name
    return None


def _first_name(line: str) -> str | None:
    # "Margaret O'Neill (daughter of Joan)", "Anna Smith | Acme", "Bob <bob@x.com>"
    line = re.split(r"[(|,<\[]| [-–—] ", line)[0]
    line = line.strip().strip(",.!")
    if not line or not _NAME_LINE.match(line):
        return None
    words = line.replace("&", " & ").split()
    if words[0].lower() in _TITLES and len(words) > 1:
        return f"{words[0].capitalize().rstrip('.')}. {words[-1]}"
    if words[0].lower() in _NOT_NAMES or len(words) > 4:
        return None
    first = words[0]
    if len(first.rstrip(".")) < 2:
        return None  # an initial ("J.") is no name to greet
    if first.islower():
        if len(words) > 2:
            return None  # a lower-case sentence fragment, not a name
        first = first.capitalize()
    return first


__all__ = [
    "GREETING_WORD",
    "LIST_ITEM",
    "MAX_EMAIL_CHARS",
    "MAX_RAW_CHARS",
    "EmailParts",
    "is_title_case_name",
    "read_email",
    "sender_name",
]
