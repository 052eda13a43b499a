"""Finding the customer's own questions in a pasted e-mail.

`bot.staff.email_parts.read_email` first drops what is quoted, forwarded, a header, a
greeting, a sign-off or a signature (by lines); this module reads what is left, by
sentences: spaCy splits the customer's own text into sentences, and a sentence asks
something if it ends with "?", starts like a question ("how long does ...", "can I ..."),
or asks indirectly ("I'd like to know whether ...", "please confirm ..."). A sentence with
two questions joined by "and" / a comma / ";" is split in two; a statement in front of a
question ("My ring arrived damaged, can I get a full refund?") is left out of the
question's span but kept as its `lead`, which the FAQ search reads too.

Every `Question` keeps its exact span in the e-mail, so the console can highlight it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bot.staff.email_parts import (
    GREETING_WORD,
    MAX_RAW_CHARS,
    EmailParts,
    is_title_case_name,
    read_email,
)


@dataclass(frozen=True)
class Question:
    text: str
    start: int  # offsets in the original e-mail: text == email[start:end]
    end: int
    # The statement the question leans on, when it was left out of the span:
    # "My ring arrived with a scratch" for "can I get a full refund?". The FAQ search
    # reads both ("could you help me find it?" alone says nothing).
    lead: str = ""

    @property
    def query(self) -> str:
        """What to search the FAQ for: the lead and the question, on one line."""
        return " ".join(f"{self.lead} {self.text}".split())


# --- pass 2: sentences ------------------------------------------------------------------

_WH = {
    "how",
    "what",
    "when",
    "where",
    "which",
    "who",
    "whom",
    "whose",
    "why",
    "whats",
    "hows",
    "wheres",
    "whens",
    "whos",
}
_AUX = {
    "am",
    "is",
    "are",
    "was",
    "were",
    "do",
    "does",
    "did",
    "can",
    "ca",
    "could",
    "will",
    "wo",
    "would",
    "shall",
    "should",
    "may",
    "might",
    "must",
    "have",
    "has",
    "had",
    "isnt",
    "arent",
    "dont",
    "doesnt",
    "didnt",
    "cant",
    "couldnt",
    "wont",
    "wouldnt",
    "shouldnt",
}
# Words that may stand before the question proper: "Also, how long ...", "And can I ...",
# "First, are returns free?", "Oh and btw do you ...".
_MARKERS = {
    "also",
    "and",
    "so",
    "but",
    "plus",
    "ok",
    "okay",
    "oh",
    "btw",
    "then",
    "well",
    "now",
    "first",
    "firstly",
    "second",
    "secondly",
    "third",
    "thirdly",
    "finally",
    "lastly",
    "next",
    "anyway",
    "yes",
    "no",
    "yeah",
    "sorry",
    "um",
    "hmm",
    "besides",
    "additionally",
    "moreover",
}
_GREETING_TOKENS = re.compile(rf"^{GREETING_WORD}$", re.I)
_BOUNDARY_PUNCT = {",", ";", ":", "-", "–", "—", "/", "(", ")", "...", "…"}
_SPLIT_CC = {"and", "but", "plus", "also", "so", "or"}
_EMBEDDED = {"whether", "if", "how", "what", "when", "where", "which", "who", "why"}
_WH_OR_IF = r"(?:if|whether|how|what|when|where|why|which|who)"
_WE = r"(?:i|we)"
_KNOW = r"(?:know|ask|check|confirm|find\s+out|understand|learn|enquire|inquire|clarify|verify)"
# Indirect questions and requests for information: "I'd like to know whether ...",
# "please let me know how ...", "wondering if ...", "could you tell me ...". A request for
# an action ("I want to return my ring.", "Please cancel my order.") asks nothing.
_INDIRECT = re.compile(
    r"^(?:(?:and|also|so|but|just|please|kindly|btw|ok|okay|do)[\s,]+)*"
    r"(?:"
    rf"(?:{_WE}(?:'d|’d|\s+would)\s+|would\s+)(?:also\s+|really\s+|just\s+)?(?:like|love|want)"
    rf"\s+to\s+(?:{_KNOW}|be\s+(?:reassured|told|informed|advised))"
    rf"|(?:{_WE}\s+)?(?:also\s+|just\s+|really\s+)?(?:want|wanted|need|needed|wish)\s+to\s+{_KNOW}"
    r"|(?:i(?:'m|’m|\s+am|\s+was)\s+)?(?:also\s+|just\s+)?(?:wondering|curious)\s+"
    rf"(?:{_WH_OR_IF}|about)"
    rf"|i\s+wonder\s+{_WH_OR_IF}"
    r"|(?:just\s+)?checking\s+(?:in\s+)?(?:to\s+see\s+)?(?:if|whether|on|about)"
    r"|(?:i\s+was\s+|i(?:'m|’m|\s+am)\s+)?hoping\s+(?:you|someone|somebody)\s+"
    r"(?:could|can|would|might)\s+(?:tell|let|help|explain|advise|confirm|clarify)"
    r"|(?:i(?:'m|’m|\s+am)\s+)?(?:interested|keen)\s+(?:to\s+know|in\s+knowing|to\s+find\s+out)"
    r"|(?:i(?:'m|’m|\s+am)\s+)?looking\s+for\s+(?:some\s+|more\s+)?"
    r"(?:info|information|details|advice)\s+(?:on|about|regarding)"
    r"|(?:i\s+)?(?:would\s+)?appreciate\s+(?:any|some)\s+(?:info|information|help|advice)\s+"
    r"(?:on|about|regarding|with)"
    r"|(?:is\s+there\s+)?any\s+chance\s+"
    r"|(?:my|the|one|another|a)\s+(?:other\s+|quick\s+|last\s+)?question\s+is\s+"
    rf"(?:{_WH_OR_IF}|about|regarding|:)"
    r"|(?:explain|describe)\s+"
    r"|(?:tell\s+me|advise(?:\s+me)?|confirm|clarify|inform\s+me|update\s+me)\s+"
    rf"(?:{_WH_OR_IF}|about|on|regarding|the|your|more)"
    rf"|let\s+(?:me|us)\s+know\s+(?:{_WH_OR_IF}|about|on|regarding|the|your|more)"
    rf"|(?:i(?:'m|’m|\s+am)\s+)?not\s+sure\s+(?:{_WH_OR_IF}|about)"
    r"|(?:any|do\s+you\s+have\s+any)\s+(?:idea|update|updates|news|info|information)\s+"
    rf"(?:{_WH_OR_IF}|on|about|regarding|for)"
    rf"|{_WE}(?:'d|’d|\s+would)\s+(?:appreciate\s+(?:it\s+)?|be\s+(?:very\s+|most\s+|really\s+)?"
    r"(?:grateful|thankful|glad|happy)\s+)if\s+you\s+(?:could|would|can)\s+(?:please\s+)?"
    r"(?:tell|let|confirm|explain|clarify|advise|check|inform)"
    r"|(?:i\s+)?(?:need|want|would\s+like|'d\s+like)\s+(?:some\s+|more\s+)*"
    r"(?:info|information|details)\s+(?:on|about|regarding|for)"
    r")\b",
    re.I,
)
# Not questions to the store: small talk.
_SMALL_TALK = re.compile(
    r"^(?:(?:and|so|oh)\s+)?(?:"
    r"how\s+(?:are|r)\s+(?:you|u|ya|things|you\s+all)(?:\s+(?:doing|today|all|guys))*"
    r"|how(?:'s|’s|\s+is|s)\s+(?:it\s+going|everything|your\s+(?:day|week))"
    r"|how\s+have\s+you\s+been|what(?:'s|’s|s)\s+up|how\s+was\s+your\s+(?:weekend|day|week)"
    r"|(?:did|do)\s+you\s+have\s+a\s+(?:good|nice|great|lovely)\s+"
    r"(?:weekend|day|week|holiday|time)"
    r"|which\s+(?:is|was)\s+why\b.*|which\s+means\b.*"
    r")\W*$",
    re.I,
)
# Offers of help back and pleasantries that only look like questions. Checked on sentences
# without "?" only: "Can you let me know if there is a discount?" does ask.
_OFFER = re.compile(
    r"^(?:(?:and|so|also|please|just|do)\s+)*(?:"
    r"(?:let\s+(?:me|us)\s+know|feel\s+free\s+to\s+\w+(?:\s+me)?)\s+if\s+(?:you|there)\s+"
    r"(?:need|require|want|have|is\s+anything|are\s+any)\b"
    r"|if\s+you\s+(?:have|need)\s+any\s+(?:more\s+|further\s+|other\s+)?"
    r"(?:questions|information|info|details)\b"
    r"|(?:i\s+)?hope\s+(?:you|all|this|everything|your|that)\b(?:\W*\w+){0,8}\W*$"
    r")",
    re.I,
)
_REQUEST_FRAME = re.compile(
    r"^(?:can|could|would|will)\s+(?:you|u)\s+(?:please\s+)?(?:tell|let|advise|help|inform)"
    r"\s+me(?:\s+know)?\W*$",
    re.I,
)


def _is_marker(tok: Any) -> bool:
    if tok.lower_ in _MARKERS or tok.is_space or (tok.is_punct and tok.text != "?"):
        return True
    return not any(c.isalnum() for c in tok.text) and "?" not in tok.text  # "•", "😍"


def _skip_markers(toks: Sequence[Any], j: int) -> int:
    n = 0
    while j < len(toks) and _is_marker(toks[j]) and n < 6:
        j += 1
        n += 1
    return j


def _is_boundary(tok: Any) -> bool:
    if tok.text in _BOUNDARY_PUNCT:
        return True
    # Emoji and other symbols end a thought as a full stop would ("Love it 😍 can I ...").
    return not tok.is_space and not any(c.isalnum() for c in tok.text) and tok.text != "?"


def _q_start(toks: Sequence[Any], j: int, strict: bool = False) -> str | None:
    """Whether the clause at token j starts like a direct question: 'wh' or 'aux' or None.

    - "how long does ...", "when will ...", "what happens ...", "how to track ...":
      a wh-word, at most three modifier words, then a verb (inversion or subject question).
      "When I ordered, ..." (a subordinate clause) has a pronoun there, so it is no question.
      Inside a sentence, "..., who ordered ..." is a relative clause, not a question; and
      with `strict` (a clause inside a sentence without "?") the verb must be an auxiliary.
    - "can I ...", "is my package ...", "do u guys ...": an auxiliary, then its subject.
      "Will Parker" (a name) and "Have a nice day" (an imperative) are not.
    """
    j = _skip_markers(toks, j)
    if j >= len(toks):
        return None
    t = toks[j]
    word = t.lower_
    if word in _WH:
        if j > 0 and word in {"who", "whom", "whose", "which"} and t.head.dep_ == "relcl":
            return None  # "my mother, who ordered ..."
        if word in {"whats", "hows", "wheres", "whens", "whos"}:
            return "wh"
        for k in range(j + 1, min(j + 5, len(toks))):
            nxt = toks[k]
            if nxt.pos_ == "AUX" or nxt.tag_ == "MD":
                return "wh"
            if nxt.tag_ in {"VBZ", "VBP", "VBD"}:
                return None if strict else "wh"
            if nxt.lower_ == "to" and k + 1 < len(toks) and toks[k + 1].pos_ in {"VERB", "AUX"}:
                return "wh"
            if nxt.lower_ == "come" and word == "how":
                return "wh"
            if nxt.lower_ == "about" and word in {"what", "how"}:
                return "wh"
            if nxt.lower_ == "if" and word == "what":
                return "wh"  # "what if I'm not home"
            if nxt.lower_ in {"before", "until", "till", "til"} and k > j + 1:
                return "wh"  # "how long before my ring ships"
            if nxt.pos_ in {"ADJ", "ADV", "NOUN", "NUM"} or nxt.lower_ in {"much", "many"}:
                continue
            return None
        return None
    if word in _AUX and (t.pos_ == "AUX" or t.tag_ == "MD"):
        k = j + 1
        while k < len(toks) and toks[k].lower_ in {"n't", "not", "nt", "’t"}:
            k += 1
        if k >= len(toks):
            return None
        nxt = toks[k]
        if _looks_like_name(t, nxt) and not _ends_with_question_mark(toks):
            return None  # "Will Parker", "May Chen": a name, not a question
        if nxt.pos_ in {"PRON", "DET", "NOUN", "PROPN", "NUM"} or nxt.tag_ == "VBG":
            return "aux"
        if nxt.lower_ in {"there", "u", "ya", "y'all"}:
            return "aux"
        if nxt.pos_ == "ADJ" and k + 1 < len(toks) and toks[k + 1].pos_ in {"NOUN", "PROPN"}:
            return "aux"  # "Are gold rings ..."
    return None


def _looks_like_name(first: Any, second: Any) -> bool:
    """ "Will Parker": a Title-case auxiliary and a Title-case proper noun.

    (The question pass runs spaCy without NER, which costs as much as the rest of the
    pipeline; this surface test is what NER told apart here.)
    """

    def title(tok: Any) -> bool:
        return bool(tok.text[:1].isupper() and not tok.text.isupper())

    return title(first) and title(second) and second.pos_ == "PROPN"


def _text_from(toks: Sequence[Any], j: int) -> str:
    if j >= len(toks):
        return ""
    doc = toks[0].doc
    return str(doc.text[toks[j].idx : toks[-1].idx + len(toks[-1].text)])


def _indirect(toks: Sequence[Any], j: int) -> bool:
    return bool(_INDIRECT.match(_text_from(toks, _skip_markers(toks, j))))


def _ends_with_question_mark(toks: Sequence[Any]) -> bool:
    for tok in reversed(toks):
        if tok.text == "?" or tok.text.endswith("?"):
            return True
        if tok.is_space or tok.text in {")", "]", '"', "'", "!", ".", "”", "’"}:
            continue
        if not any(c.isalnum() for c in tok.text):
            continue  # a trailing emoji
        return False
    return False


def _words(toks: Sequence[Any]) -> int:
    return sum(1 for t in toks if any(c.isalnum() for c in t.text))


def _strip_greeting(toks: Sequence[Any]) -> int:
    """Index of the first token after a leading greeting ("Hi there, ", "hey ", "Hello KNT,")."""
    if not toks or not _GREETING_TOKENS.match(toks[0].text):
        return 0
    j = 1
    # "Hi there", "Hello KNT team", "Dear Mia": up to three name-ish words, then punctuation.
    k = j
    while (
        k < len(toks)
        and k <= 3
        and (
            toks[k].pos_ in {"PROPN", "NOUN"} or toks[k].lower_ in {"there", "all", "guys", "team"}
        )
    ):
        k += 1
    if k < len(toks) and toks[k].is_punct and toks[k].text != "?":
        j = k
        while j < len(toks) and (toks[j].is_punct or toks[j].is_space) and toks[j].text != "?":
            j += 1
        return j
    # "hey do u ship ...", "Hi Anna can you ...": no punctuation, but a question starts
    # right after the greeting (or after the name it greets).
    for j in (1, k):
        while j < len(toks) and (toks[j].is_punct or toks[j].is_space) and toks[j].text != "?":
            j += 1
        if _q_start(toks, j) or _indirect(toks, j):
            return j
    return 0


# Where a new clause starts in an unpunctuated run-on ("when will my ring ship its been
# 2 weeks", "can i return it i dont like the colour"): a subject pronoun right after a word
# that cannot take it as its object or clause.
_RUN_ON_SUBJECTS = {"i", "its", "it's", "im", "i'm", "ive", "i've", "we", "theres", "thats"}
_TAKES_CLAUSE = {
    "know",
    "think",
    "guess",
    "hope",
    "say",
    "said",
    "tell",
    "mean",
    "believe",
    "sure",
    "wish",
    "feel",
    "if",
    "that",
    "when",
    "because",
    "so",
    "and",
    "or",
    "but",
    "whether",
}


def _run_on_breaks(toks: Sequence[Any], begin: int) -> list[int]:
    inner = toks[begin:-1]
    # Only in unpunctuated sentences: with a "?" at its end, "How long do I have to send
    # back an item I'm not happy with?" is one question.
    if any(t.is_punct or _is_boundary(t) for t in inner) or _ends_with_question_mark(toks):
        return []
    out = []
    for i in range(begin + 3, len(toks) - 1):
        prev, tok, nxt = toks[i - 1], toks[i], toks[i + 1]
        after_wh = any(t.lower_ in _WH for t in toks[max(begin, i - 3) : i])
        if (
            tok.pos_ == "AUX"
            and nxt.lower_ in {"i", "you", "u", "we", "it"}
            and prev.pos_ not in {"AUX", "PART", "SCONJ", "CCONJ"}
            and prev.lower_ not in _TAKES_CLAUSE
            and not after_wh  # "how much time do i have": the auxiliary of that question
            and _q_start(toks, i, strict=True)
        ):
            out.append(i)  # "... its been 2 weeks can i cancel it"
        elif (
            tok.lower_ in _WH
            and prev.pos_ in {"NOUN", "PROPN", "ADV", "NUM", "PRON"}
            and prev.lower_ not in _TAKES_CLAUSE
            and _q_start(toks, i, strict=True)
        ):
            out.append(i)  # "i ordered a ring last week when will it ship"
        elif (
            tok.lower_ in _RUN_ON_SUBJECTS
            and prev.pos_ not in {"ADP", "SCONJ", "CCONJ", "DET", "AUX", "PART"}
            and prev.lower_ not in _TAKES_CLAUSE
            # "the ring i ordered": a relative clause, no new sentence
            and not (prev.pos_ == "NOUN" and nxt.tag_ == "VBD")
            and (nxt.pos_ in {"AUX", "VERB"} or tok.lower_ in {"its", "im", "ive", "theres"})
        ):
            out.append(i)
    return out


def _clause_starts(toks: Sequence[Any], begin: int) -> list[tuple[int, int, str]]:
    """(boundary index, first token of the next clause, connector) after `begin`."""
    out = [(i, i, "run-on") for i in _run_on_breaks(toks, begin)]
    for i in range(begin + 1, len(toks) - 1):
        tok = toks[i]
        if _is_boundary(tok):
            connector = ","
        elif tok.lower_ in _SPLIT_CC and tok.pos_ in {"CCONJ", "ADV", "SCONJ"}:
            connector = tok.lower_
        else:
            continue
        if i > begin and (_is_boundary(toks[i - 1]) or toks[i - 1].lower_ in _SPLIT_CC):
            continue  # ", and" is one boundary, counted at its first token
        j = i + 1
        while j < len(toks) and (_is_marker(toks[j]) or _is_boundary(toks[j])):
            if toks[j].lower_ == "or":
                connector = "or"
            j += 1
        if j < len(toks):
            if tok.lower_ == "or":
                connector = "or"
            out.append((i, j, connector))
    return sorted(out)


def _is_frame_prefix(toks: Sequence[Any]) -> bool:
    """A prefix that frames the question instead of stating something ("If I order today,",
    "For the installments,", "Once you get it back,"): kept as part of the question."""
    j = _skip_markers(toks, 0)
    return j < len(toks) and (toks[j].pos_ in {"SCONJ", "ADP"} or toks[j].tag_ == "WRB")


def _sentence_questions(toks: Sequence[Any]) -> tuple[int, list[tuple[int, int]]]:
    """Token ranges [a, b) of the questions in one sentence (toks without edge spaces),
    and where the sentence's own text starts (after a greeting): what lies between that
    and the first question is the statement it leans on."""
    begin = _strip_greeting(toks)
    if _words(toks[begin:]) < 2:
        return begin, []
    starts = _clause_starts(toks, begin)
    ends_q = _ends_with_question_mark(toks)
    # "Who knew!", "How lovely!": a wh-word opening an exclamation asks nothing.
    exclaims = not ends_q and toks[-1].text == "!"
    first: int | None = None
    start_kind = _q_start(toks, begin)
    indirect = _indirect(toks, begin)
    if (start_kind and not (start_kind == "wh" and exclaims)) or indirect:
        first = begin
    else:
        for _, j, conn in starts:
            strict = not ends_q and conn in {",", "run-on"}
            if _q_start(toks, j, strict=strict) or _indirect(toks, j):
                # "If I order today, will it ..." keeps its frame; "My ring arrived
                # damaged, can I ..." leaves the statement out of the question's span.
                first = begin if _is_frame_prefix(toks[begin:j]) else j
                break
        if first is None and ends_q:
            first = begin
    if first is None:
        return begin, []
    ranges: list[tuple[int, int]] = []
    a: int | None = first
    a_embedded = False
    for boundary, j, conn in starts:
        if a is None:
            # after a run-on statement: only a clear question starts again
            if _q_start(toks, j, strict=True):
                a, a_embedded = j, False
            continue
        if boundary <= a or j <= a:
            continue
        kind = _q_start(toks, j, strict=not ends_q and conn in {",", "run-on"})
        if (
            not kind
            and indirect
            and conn == "and"
            and toks[j].lower_ in _EMBEDDED
            and toks[min(j + 1, len(toks) - 1)].lower_ not in {"so", "not"}
        ):
            # "I'd like to know how long it takes and whether it is insured": a second
            # embedded question after the first one's frame.
            kind = "embedded"
        if not kind and conn == "run-on":
            ranges.append((a, boundary))  # the question ends where the run-on goes on
            a = None
            continue
        if not kind or (conn == "or" and kind != "wh"):
            continue
        left = toks[a:boundary]
        left_asks = (
            a_embedded
            or _q_start(toks, a)
            or _indirect(toks, a)
            or any(_q_start(toks, j2) for _, j2, _c in starts if a < j2 < boundary)
        )
        if _words(left) < 2 or not left_asks or _REQUEST_FRAME.match(_text_from(left, 0)):
            continue  # "If I order today, will it ...": the frame is no question of its own
        ranges.append((a, boundary))
        a, a_embedded = j, kind == "embedded"
    if a is not None:
        ranges.append((a, len(toks)))
    return begin, ranges


def _trim(toks: Sequence[Any], a: int, b: int) -> tuple[int, int]:
    """Drop edge spaces, list markers ("1.", "-") and trailing commas/connectors; end a
    question at its "?" ("is that normal?)." ends at "?")."""
    while a < b and (
        toks[a].is_space
        or (toks[a].is_punct and toks[a].text not in {"(", '"'})
        or (a + 1 < b and toks[a].like_num and toks[a + 1].text in {".", ")"})
    ):
        a += 1
    last_q = max((i for i in range(a, b) if toks[i].text.endswith("?")), default=None)
    if last_q is not None and all(t.is_punct or t.is_space for t in toks[last_q + 1 : b]):
        return a, last_q + 1
    while b > a and (
        toks[b - 1].is_space
        or toks[b - 1].text in _BOUNDARY_PUNCT
        or toks[b - 1].lower_ in _SPLIT_CC
        or toks[b - 1].lower_ in {"if", "whether"}  # "Can I pay with Klarna and if so, ..."
    ):
        b -= 1
    return a, b


def _for_parser(unit: str) -> str:
    """ "CAN I RETURN IT": spaCy tags shouted words as proper nouns, so an all-capitals unit
    is parsed in lower case (when that keeps every offset)."""
    letters = [c for c in unit if c.isalpha()]
    shouted = len(letters) >= 8 and sum(c.isupper() for c in letters) > 0.8 * len(letters)
    lowered = unit.lower()
    return lowered if shouted and len(lowered) == len(unit) else unit


def find_questions(text: str, nlp: Any, parts: EmailParts | None = None) -> list[Question]:
    """The customer's own questions in an e-mail, in order, with their exact spans.

    `nlp` is the full spaCy pipeline (`bot.staff.nlp.full_pipeline`). Only the first
    MAX_EMAIL_CHARS characters of the customer's own text are analysed.
    """
    parts = parts or read_email(text)
    units = [u for u in parts.body if parts.text[u[0] : u[1]].strip()]
    if not units:
        return []
    found: list[Question] = []
    # NER is not needed to find questions and costs half of the pipeline's time.
    docs = nlp.pipe([_for_parser(parts.text[a:b]) for a, b in units], disable=["ner"])
    for (offset, _end), doc in zip(units, docs, strict=True):
        for sent in doc.sents:
            toks = [t for t in sent]
            while toks and toks[-1].is_space:
                toks.pop()
            while toks and toks[0].is_space:
                toks.pop(0)
            if not toks:
                continue
            begin, ranges = _sentence_questions(toks)
            for n, (a, b) in enumerate(ranges):
                a, b = _trim(toks, a, b)
                if b <= a or _words(toks[a:b]) < 2:
                    continue
                start = offset + toks[a].idx
                end = offset + toks[b - 1].idx + len(toks[b - 1].text)
                q = text[start:end]
                if _SMALL_TALK.match(q) or (
                    "?" not in q and (_OFFER.match(q) or is_title_case_name(q))
                ):
                    continue
                lead = ""
                if n == 0 and a > begin:
                    lead_a, lead_b = _trim(toks, begin, a)
                    if lead_b > lead_a:
                        lead = _text_from(toks[:lead_b], lead_a)
                found.append(Question(q, start, end, lead))
    return found


_NAIVE_SPLIT = re.compile(r"[^.?!\n]+[.?!]*")


def naive_questions(text: str) -> list[Question]:
    """The baseline: every piece of the text between . ? ! and line breaks is a "question".

    No quote, signature or greeting handling: what an agent gets by searching each
    sentence of the pasted e-mail as it is.
    """
    out = []
    for match in _NAIVE_SPLIT.finditer(text[:MAX_RAW_CHARS]):
        piece = match.group(0)
        lead = len(piece) - len(piece.lstrip())
        stripped = piece.strip()
        if stripped and any(c.isalnum() for c in stripped):
            start = match.start() + lead
            out.append(Question(stripped, start, start + len(stripped)))
    return out


__all__ = ["Question", "find_questions", "naive_questions"]
