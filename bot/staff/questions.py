"""Finding the customer's own questions in a pasted e-mail.

`bot.staff.email_parts.read_email` first drops what is quoted, forwarded, a header, a
greeting, a sign-off or a signature (by lines); this module reads what is left, by
sentences. Texting shorthand is spelled out for the parser ("r u open" reads "are you
open"; spans still point into the e-mail as written). spaCy splits the text into
sentences (and a "?" ends one even where spaCy goes on), and a sentence asks something if

- it ends with "?", or starts like a question ("how long does ...", "can I ...",
  "roughly how long ..."), also without its auxiliary, as non-native writers ask ("what
  happen if ...", "how long that take");
- it asks indirectly or by an imperative of asking ("I'd like to know whether ...", "I was
  wondering if ...", "I would be grateful to know ...", "please confirm ...", "let me
  know ..."), or holds a question under a word of knowing that spaCy's parse shows
  ("I would welcome your advice as to whether ...", "We also wonder what happens ...");
- it says what the store does in the second person, the texting way of asking ("u have a
  store in NYC i could walk into", "you guys do payment plans");
- it is a clipped question: news asked for ("ETA on shipping", "status of my refund pls"),
  a yes or no ("need signature or not"), "is it possible" left out ("change ring size 7 to
  7.5 possible", "ok to pay with klarna");
- it is an item of a list under a lead-in that asks ("I'd love some info on:" / "- whether
  I can order by phone" / "- payment plans"), or under any lead-in ending in ":" that does
  not report what was ordered or found ("My concerns:" / "- rush production"); the
  lead-in itself is then no question.

A question's span is the clause that asks, and only that: a sentence with two questions
joined by "and" / a comma / ";" is split in two; a statement or a framing clause in front
of it ("My ring arrived damaged, can I ...", "Since I'm at work all day, is it okay if
...") is its `lead`, which the FAQ search reads too (so is the sentence before a question
that names nothing: "Is that possible?"); a reason or circumstance after it (", as I'm not
confident online", " — we both work long shifts") and a thanks on its line (", cheers",
" thx") are cut off. A sentence that only announces questions ("Hoping you can help with a
few things.", "Could you clarify the following?") asks nothing. Requests for an action
("Please cancel my order.") are found on request (`requests=True`), as kind "request", for
`answer_email` to keep those the FAQ answers.

Every `Question` keeps its exact span in the e-mail, so the console can highlight it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bot.staff.email_parts import (
    GREETING_WORD,
    LIST_ITEM,
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
    # The question as read: texting shorthand spelled out ("r u open" -> "are you open").
    said: str = ""
    # "question", or "request": a request for an action the FAQ may speak about ("Please
    # cancel my order."), found only when asked for (`find_questions(..., requests=True)`).
    kind: str = "question"

    @property
    def query(self) -> str:
        """What to search the FAQ for: the lead and the question, on one line."""
        return " ".join(f"{self.lead} {self.said or self.text}".split())


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
# Adverbs that may hedge a question's first word: "roughly how long ...", "realistically,
# when ...". Not markers: "just" and "so" start statements too ("just ordered ...").
_HEDGES = {
    "roughly",
    "approximately",
    "about",
    "around",
    "exactly",
    "realistically",
    "honestly",
    "basically",
    "generally",
    "usually",
    "typically",
    "just",
    "so",
    "really",
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
    # ("I should nevertheless like to know", "I would further like to understand")
    rf"(?:{_WE}(?:'d|’d|\s+would|\s+should)\s+|would\s+)(?:\w+ly\s+|also\s+|just\s+|further\s+"
    r"|nevertheless\s+|still\s+)*(?:like|love|want)"
    rf"\s+to\s+(?:{_KNOW}|be\s+(?:reassured|told|informed|advised))"
    rf"|(?:{_WE}\s+)?(?:also\s+|just\s+|really\s+)?(?:want|wanted|need|needed|wish)\s+to\s+{_KNOW}"
    r"|(?:i(?:'m|’m|\s+am|\s+was)\s+)?(?:also\s+|just\s+)?(?:wondering|curious)\s+"
    rf"(?:{_WH_OR_IF}|about|to\s+(?:know|hear|find\s+out)|as\s+to)"
    rf"|i\s+(?:wonder|wondered)\s+{_WH_OR_IF}"
    r"|(?:just\s+)?checking\s+(?:in\s+)?(?:to\s+see\s+)?(?:if|whether|on|about)"
    r"|(?:i\s+was\s+|i(?:'m|’m|\s+am)\s+)?hoping\s+(?:you|someone|somebody)\s+"
    r"(?:could|can|would|might)\s+(?:tell|let|help|explain|advise|confirm|clarify)"
    # "I'm also keen to find out if ...", "curious to learn whether ..."
    r"|(?:i(?:'m|’m|\s+am)\s+|we(?:'re|’re|\s+are)\s+)?(?:(?:also|really|very|quite|just)\s+)*"
    r"(?:interested|keen|curious)\s+(?:to\s+(?:know|learn|find\s+out|hear|understand)"
    r"|in\s+(?:knowing|learning|finding\s+out))"
    # "I would also be grateful to know whether ...", "it'd be helpful to know how ...",
    # "Would be great to know when ...": a wish to know, in the conditional ("I'm glad to
    # hear it shipped" states).
    rf"|(?:(?:{_WE}|it)(?:'d|’d|\s+would|\s+should)\s+|would\s+)(?:also\s+|really\s+|just\s+)?"
    r"be\s+(?:(?:very|most|really|so|also|extremely|super|truly|ever\s+so)\s+)*"
    r"(?:grateful|thankful|glad|happy|pleased|interested|keen|curious|obliged|helpful|useful"
    r"|great|good|nice|lovely|handy|wonderful|appreciated)\s+"
    r"to\s+(?:know|learn|hear|find\s+out|understand|confirm|get\s+(?:some\s+)?(?:info|clarity))"
    rf"|{_WE}(?:'d|’d|\s+would)?\s+(?:also\s+|really\s+)?appreciate\s+"
    r"(?:knowing|learning|hearing|finding\s+out|understanding)"
    r"|(?:i(?:'m|’m|\s+am)\s+)?looking\s+for\s+(?:some\s+|more\s+)?"
    r"(?:info|information|details|advice)\s+(?:on|about|regarding)"
    r"|(?:i\s+)?(?:would\s+)?appreciate\s+(?:any|some)\s+(?:info|information|help|advice)\s+"
    r"(?:on|about|regarding|with)"
    r"|(?:is\s+there\s+)?any\s+chance\s+"
    r"|(?:my|the|one|another|a)\s+(?:other\s+|quick\s+|last\s+)?question\s+is\s+"
    rf"(?:{_WH_OR_IF}|about|regarding|:)"
    r"|(?:explain|describe)\s+"
    rf"|(?:{_WE}\s+)?(?:need|want|would\s+like|'d\s+like|’d\s+like)\s+(?:you|someone|somebody)"
    r"\s+to\s+(?:confirm|tell|check|let|explain|clarify|advise|inform)"
    # "please confirm my package is insured", "tell me my options", "let me know the status
    # of my order": the imperatives of asking take any object ("Let me know if you need
    # anything else" is an offer: `_OFFER`).
    # ("Please confirm once done." asks for a later message: nothing to answer now.)
    r"|(?:confirm|verify|double[-\s]check)\s+(?!receipt\b|once\b|when\s+(?:done|it'?s\s+done"
    r"|that'?s\s+done|complete|completed|finished|changed|you\s+(?:have|can))\b)\w+"
    rf"|(?:check|see)\s+(?:{_WH_OR_IF}|on|for\s+me)\b"
    r"|(?:tell\s+me|advise(?:\s+me)?|clarify|inform\s+me|update\s+me|let\s+(?:me|us)\s+know)"
    r"\s+(?!soon\b|asap\b|thanks?\b|please\b|if\s+you\s+(?:need|have|want|require)\b)\w+"
    rf"|(?:i(?:'m|’m|\s+am)\s+)?not\s+sure\s+(?:{_WH_OR_IF}|about)"
    r"|(?:any|do\s+you\s+have\s+any)\s+(?:idea|update|updates|news|info|information)\s+"
    rf"(?:{_WH_OR_IF}|on|about|regarding|for)"
    rf"|{_WE}(?:'d|’d|\s+would|\s+should)\s+(?:appreciate\s+(?:it\s+)?"
    r"|be\s+(?:very\s+|most\s+|really\s+)?(?:grateful|thankful|glad|happy|obliged)\s+)"
    r"if\s+you\s+(?:could|would|can|will)\s+(?:please\s+|kindly\s+)?"
    r"(?:tell|let|confirm|explain|clarify|advise|check|inform)"
    # "I'd like some advice on whether ...", "need info on shipping", "send me details on"
    rf"|(?:{_WE}(?:'d|’d|\s+would)\s+(?:(?:also|really|just)\s+)?(?:like|love|appreciate)"
    rf"|(?:{_WE}\s+)?(?:(?:also|really|just)\s+)?(?:need|want)|(?:send|give)\s+me)\s+"
    r"(?:some\s+|more\s+|any\s+|further\s+)*"
    r"(?:info|information|details|advice|guidance|clarification)\s+"
    r"(?:on|about|regarding|re|for|as\s+to)"
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


# "if so, can I ...", "if not, how ...", "in that case please tell me ...": they only tie
# the question to the one before.
_TIES = {("if", "so"), ("if", "not"), ("in", "that", "case"), ("in", "the", "meantime")}


def _skip_markers(toks: Sequence[Any], j: int) -> int:
    n = 0
    while j < len(toks) and n < 6:
        tie = next((len(t) for t in _TIES if tuple(x.lower_ for x in toks[j : j + len(t)]) == t), 0)
        if not tie and not _is_marker(toks[j]):
            break
        j += max(tie, 1)
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
    if j + 1 < len(toks) and toks[j].lower_ in _HEDGES and toks[j + 1].lower_ in _WH | _AUX:
        j += 1  # "roughly how long does it take", "just when will it ship"
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
            if not strict and _bare_verb_after(toks, j, k):
                return "wh"  # "what happen if ...", "how long it take", "when the box come"
            if nxt.pos_ in {"ADJ", "ADV", "NOUN", "NUM"} or nxt.lower_ in {"much", "many"}:
                continue
            if (
                nxt.lower_ in _SINGULAR_SUBJECTS
                and nxt.pos_ in {"DET", "PRON"}
                and word != "when"  # "When the package come, ...": a clause of time
                and not strict
            ):
                # "how long that take", "when the package come": a subject, then a verb
                # that does not agree with it; "when it ships" is a clause of time.
                for m in range(k + 1, min(k + 4, len(toks))):
                    if toks[m].pos_ in {"ADJ", "NOUN", "PROPN"} and toks[m].tag_ != "NNS":
                        continue
                    return "wh" if _bare_verb_after(toks, j, m) else None
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
        if nxt.lower_ in {"there", "that", "this", "it", "u", "ya", "y'all"}:
            return "aux"
        if nxt.pos_ == "ADJ" and k + 1 < len(toks) and toks[k + 1].pos_ in {"NOUN", "PROPN"}:
            return "aux"  # "Are gold rings ..."
    return None


# Subjects that a base-form verb disagrees with: "how long it take", "when the package
# come" (written without the "-s"); "When I order, ..." or "when they come" are clauses of
# time, grammatical, not questions.
_SINGULAR_SUBJECTS = {"it", "that", "this", "he", "she", "the", "my", "your", "a", "an"}


def _bare_verb_after(toks: Sequence[Any], j: int, k: int) -> bool:
    """Whether toks[k] is a verb in its base form that a question asks with, in English
    without its auxiliary ("what happen if", "how long that take", "when the parcel come")."""
    verb = toks[k]
    if verb.tag_ not in {"VB", "VBP"}:
        return False
    between = toks[j + 1 : k]
    if toks[j].lower_ in {"what", "who"} and not between:
        return True  # "what happen", "who pay": the wh-word is the subject
    words = [t for t in between if t.pos_ in {"DET", "PRON", "NOUN", "PROPN"}]
    return bool(words) and (
        words[0].lower_ in _SINGULAR_SUBJECTS and all(t.tag_ != "NNS" for t in words)
    )


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
    j = _skip_markers(toks, j)
    return bool(_INDIRECT.match(_text_from(toks, j))) or _embeds_question(toks, j)


# Words whose clause or object an embedded question may be: "I'd welcome your advice as to
# whether ...", "We also wonder what happens ...", "i not understand how ... work".
_KNOWING = {
    "know",
    "understand",
    "learn",
    "ask",
    "wonder",
    "confirm",
    "advise",
    "explain",
    "tell",
    "clarify",
    "establish",
    "indicate",
    "confirmation",
    "advice",
    "clarification",
    "guidance",
    "explanation",
    "idea",
}
# ... when the writer wishes to know (a modal, "like", "appreciate"), asks outright (an
# imperative, "please"), wonders, or does not know: "I told her how much I love it" and
# "I know what I want" state.
_WISHING = {"like", "love", "want", "wish", "need", "appreciate", "welcome", "please", "kindly"}


def _embeds_question(toks: Sequence[Any], j: int) -> bool:
    """Whether the clause at token j asks by an embedded question under a word of knowing
    (spaCy's parse: the wh-word or "whether" hangs, within three heads, from `_KNOWING`)."""
    if j >= len(toks) or toks[j].lower_ in _WH | _AUX:
        return False  # a direct question, read by `_q_start`
    lo = toks[j].i
    for t in toks[j:]:
        embedded = t.lower_ == "whether" or (t.lower_ == "if" and t.dep_ == "mark")
        if not embedded and not (t.lower_ in _EMBEDDED and t.tag_ in {"WRB", "WP", "WDT"}):
            continue
        head = t.head
        for _ in range(4):
            if head.i < lo:
                break
            # ("I would appreciate confirmation as to whether ...": "as to" hangs from the
            # verb whose object is the word of knowing)
            knowing = head.lemma_.lower() in _KNOWING or any(
                c.dep_ == "dobj" and c.lemma_.lower() in _KNOWING for c in head.children
            )
            if knowing and head.i < t.i:
                # in the clause that starts at j: "While I wait, can I ask how ..." asks
                # after the comma, and that clause is read on its own
                # (nor after a colon: "so I'm asking: does it ..." asks directly)
                frame = toks[j : j + t.i - lo]
                return not any(_is_boundary(x) for x in frame) and _wishes(head, lo)
            if head.head is head:
                break
            head = head.head
    return False


def _wishes(frame: Any, lo: int) -> bool:
    chain = [frame, *(a for a in frame.ancestors if a.i >= lo)]
    for tok in chain:
        kids = list(tok.lefts)  # ("asking: does it need": "need" asks, wishes nothing)
        if tok.lemma_.lower() in _WISHING or tok.lemma_.lower() == "wonder":
            return True
        if any(c.tag_ == "MD" or c.dep_ == "neg" or c.lower_ in _WISHING for c in kids):
            return True
        if tok.dep_ == "ROOT" and tok.tag_ == "VB" and not any(c.dep_ == "nsubj" for c in kids):
            return True  # an imperative: "explain how ..."
    return False


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


def _no_word(tok: Any) -> bool:
    """Punctuation, a space, an emoji: a token without a letter or digit."""
    return not any(c.isalnum() for c in tok.text)


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
        if _q_start(toks, j) or _indirect(toks, j) or _declarative(toks, j) or _request(toks, j):
            return j
    return 0


# Where a new clause starts in an unpunctuated run-on ("when will my ring ship its been
# 2 weeks", "can i return it i dont like the colour"): a subject pronoun right after a word
# that cannot take it as its object or clause.
_RUN_ON_SUBJECTS = {"i", "its", "it's", "im", "i'm", "ive", "i've", "we", "theres", "thats"}
_TAKES_RELATIVE = {
    "anywhere",
    "somewhere",
    "anything",
    "something",
    "anyone",
    "someone",
    "anybody",
    "somebody",
    "way",
    "place",
}
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


_SYMBOLS = set("$€£¥%#&+@~*^=<>")


def _punctuates(tok: Any) -> bool:
    if not (tok.is_punct or _is_boundary(tok)):
        return False
    if all(c in _SYMBOLS for c in tok.text):
        return False  # "can i get my $$ back", "100%": no sentence ends there
    inside_word = tok.text in {"-", "/", "'", "’"} and not tok.whitespace_
    return not (inside_word and tok.i > 0 and not tok.doc[tok.i - 1].whitespace_)


def _run_on_breaks(toks: Sequence[Any], begin: int) -> list[int]:
    inner = toks[begin:-1]
    # Only in unpunctuated sentences: with a "?" at its end, "How long do I have to send
    # back an item I'm not happy with?" is one question. (A hyphen inside a word or a
    # range, "3-5 weeks", "e-mail", punctuates no sentence.)
    if any(_punctuates(t) for t in inner) or _ends_with_question_mark(toks):
        return []
    out = []
    for i in range(begin + 3, len(toks) - 1):
        prev, tok, nxt = toks[i - 1], toks[i], toks[i + 1]
        # "how much time do i have": the auxiliary of the wh-question before it; but in
        # "when it ships do i get a tracking number" the wh-word opens a clause of time.
        after_wh = any(
            toks[k].lower_ in _WH and _q_start(toks, k) for k in range(max(begin, i - 3), i)
        )
        if (
            tok.pos_ == "AUX"
            and nxt.lower_ in {"i", "you", "u", "we", "it", "that", "this", "there"}
            # "the best part is that it arrived", "the thing is there are none": a clause
            # after "is", not a question
            and nxt.dep_ != "mark"
            and not (i + 2 < len(toks) and toks[i + 2].tag_ in {"VBZ", "VBP", "VBD"})
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
            # "please tell me how is the process": the question told, not a new one
            and not (prev.lower_ in {"me", "us"} and toks[i - 2].lemma_.lower() in _KNOWING)
            and _q_start(toks, i, strict=True)
        ):
            out.append(i)  # "i ordered a ring last week when will it ship"
        elif (
            tok.lower_ in _RUN_ON_SUBJECTS
            and prev.pos_ not in {"ADP", "SCONJ", "CCONJ", "DET", "AUX", "PART"}
            and prev.lower_ not in _TAKES_CLAUSE
            # "the ring i ordered", "anywhere we could see them": a relative clause
            and not (prev.pos_ == "NOUN" and nxt.tag_ == "VBD")
            and prev.lower_ not in _TAKES_RELATIVE
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


def _sentence_questions(toks: Sequence[Any]) -> tuple[int, list[tuple[int, int]]]:
    """Token ranges [a, b) of the questions in one sentence (toks without edge spaces),
    and where the sentence's own text starts (after a greeting): what lies between that
    and the first question is the statement it leans on."""
    begin = _strip_greeting(toks)
    if _words(toks[begin:]) < 2:
        # "ETA?", "Update?": one word that asks for news
        return begin, ([(begin, len(toks))] if _one_word_ask(toks, begin) else [])
    starts = _clause_starts(toks, begin)
    ends_q = _ends_with_question_mark(toks)
    # "Who knew!", "How lovely!": a wh-word opening an exclamation asks nothing.
    # ("where's my ring at thx!!": the "!" is the thanks', not the question's.)
    exclaims = not ends_q and toks[_cut_thanks(toks, begin, len(toks)) - 1].text == "!"
    first: int | None = None
    start_kind = _q_start(toks, begin) or _declared(toks, begin)
    indirect = _indirect(toks, begin)
    if (start_kind and not (start_kind == "wh" and exclaims)) or indirect:
        first = begin
    else:
        for boundary, j, conn in starts:
            strict = not ends_q and conn in {",", "run-on"}
            # ("quick one - refund for KNT-1002 when": a clipped question after a dash)
            dashed = toks[boundary].text in {"-", "–", "—", ":"} and _fragment_asks(toks, j)
            if (
                _q_start(toks, j, strict=strict)
                or _indirect(toks, j)
                or _declared(toks, j)
                or dashed
            ):
                # "My ring arrived damaged, can I ...", "Since I'll be at work, is it okay
                # if ...", "If I order today, will it ...": the span is the clause that
                # asks; what stands before it is its lead (the FAQ search reads both).
                first = j
                break
        if first is None and (ends_q or _fragment_asks(toks, begin)):
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
        kind = _q_start(toks, j, strict=not ends_q and conn in {",", "run-on"}) or _declared(
            toks, j
        )
        if (
            not kind
            and (indirect or a_embedded or _indirect(toks, a))
            # ("..., whether the code can be used twice, and how the instalments ...": a
            # list of them; after a comma "if" conditions: "whether ..., if that's ok")
            and (conn == "and" or (conn == "," and toks[j].lower_ != "if"))
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
            or _declared(toks, a)
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
        # an emoji or emoticon left over from the sentence before ("engaged 💍 How ...")
        or (_no_word(toks[a]) and toks[a].text not in {"(", '"'} and not toks[a].is_currency)
    ):
        a += 1
    last_q = max((i for i in range(a, b) if toks[i].text.endswith("?")), default=None)
    if last_q is not None and all(_no_word(t) for t in toks[last_q + 1 : b]):
        return a, last_q + 1
    while b > a and (
        toks[b - 1].is_space
        or toks[b - 1].text in _BOUNDARY_PUNCT
        or toks[b - 1].lower_ in _SPLIT_CC
        or toks[b - 1].lower_ in {"if", "whether"}  # "Can I pay with Klarna and if so, ..."
        # "... two codes and 2) when is ...": the next item's number
        or (toks[b - 1].like_num and b < len(toks) and toks[b].text in {")", "."})
    ):
        b -= 1
    return a, b


# --- what spaCy reads -------------------------------------------------------------------

# Texting shorthand, spelled out before parsing: spaCy tags "u" and "r" as nouns or
# unknown words, so "r u open on sundays" or "cn i pay w klarna" parse as no question at
# all. Only words with one common reading are here ("y", "4", "k" are not).
_SHORTHAND = {
    "u": "you",
    "r": "are",
    "ur": "your",
    "pls": "please",
    "plz": "please",
    "plss": "please",
    "plse": "please",
    "cn": "can",
    "cud": "could",
    "cld": "could",
    "wud": "would",
    "wld": "would",
    "shud": "should",
    "wat": "what",
    "wut": "what",
    "wen": "when",
    "hav": "have",
    "abt": "about",
    "bc": "because",
    "cuz": "because",
    "coz": "because",
    "ppl": "people",
    "w/": "with",
    "w": "with",
    "n": "and",
    "thx": "thanks",
    "thnx": "thanks",
    "tho": "though",
    "thru": "through",
    "rn": "right now",
    "b4": "before",
    "pkg": "package",
    "til": "until",
    "idk": "I don't know",
    "lmk": "let me know",
    "lemme": "let me",
}
# "ur" is "you're" before these ("ur open on sundays?"), "your" elsewhere ("ur logo").
_YOURE_BEFORE = {"open", "closed", "able", "not", "still", "going", "gonna", "located", "based"}
# Shorthand that is a word only after these: "will it b insured", "want 2 know".
_SHORTHAND_AFTER = {
    "b": ({"will", "can", "could", "would", "should", "to", "might", "must", "it", "i"}, "be"),
    "2": ({"want", "need", "like", "love", "going", "able", "wants", "needs"}, "to"),
}
# ... and then only before a verb ("want 2 know", not "like 2 rings").
_VERB_AFTER_2 = {"know", "ask", "check", "return", "cancel", "change", "exchange", "order"}
_SHORT_WORD = re.compile(r"(?<![\w'’./@#-])(w/|[a-z0-9]+)(?![\w'’/@-]|\.\w|\))", re.I)


@dataclass(frozen=True)
class _Unit:
    """A run of the customer's own text as spaCy reads it, and the way back to the e-mail."""

    norm: str  # the text parsed: shouting lowered, shorthand spelled out
    begins: tuple[int, ...]  # per character of `norm`: its first character in the e-mail
    ends: tuple[int, ...]  # ... and the end of the e-mail text it stands for
    item: bool  # a list item ("- ...", "2) ..."), read without its marker

    def span(self, a: int, b: int) -> tuple[int, int]:
        """The e-mail offsets of norm[a:b]."""
        return self.begins[a], self.ends[b - 1]


def _read_unit(text: str, a: int, b: int) -> _Unit | None:
    item = LIST_ITEM.match(text[a:b])
    if item:
        a += item.end()
    raw = text[a:b]
    if not raw.strip():
        return None
    norm, begins, ends = _spell_out(_for_parser(raw))
    return _Unit(norm, tuple(a + x for x in begins), tuple(a + x for x in ends), bool(item))


def _spell_out(raw: str) -> tuple[str, list[int], list[int]]:
    """`raw` with texting shorthand spelled out, and where each character came from."""
    out: list[str] = []
    begins: list[int] = []
    ends: list[int] = []
    done = 0
    words = list(_SHORT_WORD.finditer(raw))
    for n, match in enumerate(words):
        full = _spelled(match.group(1), words[n - 1].group(1) if n else "", raw[match.end() :])
        if full is None:
            continue
        kept = raw[done : match.start()]
        out.append(kept)
        begins.extend(range(done, match.start()))
        ends.extend(range(done + 1, match.start() + 1))
        out.append(full)
        begins.extend([match.start()] * len(full))
        ends.extend([match.end()] * len(full))
        done = match.end()
    out.append(raw[done:])
    begins.extend(range(done, len(raw)))
    ends.extend(range(done + 1, len(raw) + 1))
    return "".join(out), begins, ends


def _spelled(word: str, before: str, after: str) -> str | None:
    """What `word` stands for, between the word `before` it and the text `after` it."""
    lower, before = word.lower(), before.lower()
    next_word = (after.split()[:1] or [""])[0].lower()
    if before == "size" or (len(word) == 1 and word.isupper() and word not in {"U", "R"}):
        return None  # "size r" is a UK ring size; "N", "W" are initials
    full = _SHORTHAND.get(lower)
    if lower in _SHORTHAND_AFTER:
        words, meaning = _SHORTHAND_AFTER[lower]
        full = meaning if before in words else None
        if lower == "2" and next_word not in _VERB_AFTER_2:
            full = None
    if lower == "ur" and next_word in _YOURE_BEFORE:
        full = "you're"
    if lower in {"w", "n"} and not next_word[:1].isalpha():
        full = None  # "plan w." / "n/a": no word follows, so no "with" / "and"
    if full is None or lower == full:
        return None
    return full[0].upper() + full[1:] if word[0].isupper() else full


def _for_parser(unit: str) -> str:
    """ "CAN I RETURN IT": spaCy tags shouted words as proper nouns, so an all-capitals unit
    is parsed in lower case (when that keeps every offset)."""
    letters = [c for c in unit if c.isalpha()]
    shouted = len(letters) >= 8 and sum(c.isupper() for c in letters) > 0.8 * len(letters)
    lowered = unit.lower()
    return lowered if shouted and len(lowered) == len(unit) else unit


# --- questions without the usual form ----------------------------------------------------

_YOU = {"you", "ya", "y'all", "yall"}
_YOU_GROUP = {"guys", "all", "folks", "people"}
# "you ship to Canada", "you guys do payment plans", "u have a store in NYC i could walk
# into": a second-person statement about what the store does, written without "?" (the
# texting way of asking). Only verbs of what a store offers, in the present tense; "you
# have my address" (what the customer gave) and "you do amazing work" (praise) state.
_STORE_VERBS = {
    "have",
    "ship",
    "deliver",
    "take",
    "accept",
    "sell",
    "offer",
    "do",
    "make",
    "provide",
    "allow",
    "charge",
    "repair",
    "fix",
    "service",
    "carry",
    "stock",
    "resize",
    "engrave",
    "refund",
    "exchange",
    "price",
}
_PRAISE = {
    "amazing",
    "beautiful",
    "lovely",
    "great",
    "gorgeous",
    "stunning",
    "nice",
    "wonderful",
    "fantastic",
    "best",
    "good",
    "excellent",
    "helpful",
    "incredible",
    "awesome",
}


def _declared(toks: Sequence[Any], j: int) -> str | None:
    """ "decl" when the clause at token j asks what the store does in a statement's form."""
    return "decl" if _declarative(toks, j) else None


def _declarative(toks: Sequence[Any], j: int) -> bool:
    j = _skip_markers(toks, j)
    if j >= len(toks) or toks[j].lower_ not in _YOU:
        return False
    # Only written the texting way: "You have a new customer for life." is a compliment,
    # and a writer with capitals and full stops asks with "?".
    first = toks[_skip_markers(toks, 0)].text if toks else ""
    if first[:1].isupper() or toks[-1].text in {".", "!"}:
        return False
    k = j + 1
    while k < len(toks) and (toks[k].lower_ in _YOU_GROUP or toks[k].lower_ in {"also", "still"}):
        k += 1
    if k + 1 >= len(toks):
        return False
    verb, nxt = toks[k], toks[k + 1]
    if verb.tag_ not in {"VBP", "VB"} or verb.lemma_.lower() not in _STORE_VERBS:
        return False
    if nxt.lower_ in {"my", "our", "me", "us", "been", "such", "so", "to"}:
        return False  # "you have my address", "you have been great", "you have to ..."
    return not any(t.lower_ in _PRAISE for t in toks[k + 1 :])


# Requests for an action the store's FAQ speaks about: "Please cancel my order", "I'd like
# to return them", "I want to exchange it for a size 7". The agent must answer these as
# much as a question, so `find_questions(..., requests=True)` returns them (kind
# "request"), and `answer_email` keeps those the FAQ engine is confident about: the
# cancel, return and exchange policies are the answer. "Please send the invoice to my
# office" is no policy question, and the agent handles it without a suggestion.
_ACTION = (
    # "return my call", "change my address / e-mail / phone number": no FAQ policy speaks
    # about those, however confident the engine is about the words "return" and "change".
    r"(?!(?:return|change|switch|fix)\s+(?:\w+\s+){0,2}(?:call|calls|e-?mails?|messages?"
    r"|address|phone|number|name|password|details)\b)"
    r"(?:cancel|return|exchange|swap|switch|change|resize|refund|track|repair|fix"
    r"|get\s+(?:a\s+|my\s+|the\s+|all\s+my\s+)?(?:full\s+)?(?:refund|money)"
    r"|send\s+(?:it|them|this|the\s+\w+|my\s+\w+)\s+back)\b"
)
_POLITE = r"(?:(?:please|kindly|just|also|now|then|and|so|but)[\s,]+)*"
_ACTED_ON = {"my", "our", "the", "this", "that", "these", "it", "them", "order", "me"}
_REQUEST = re.compile(
    rf"^{_POLITE}"
    r"(?:"
    rf"(?:(?:i|we)(?:'d|’d|\s+would|\s+really)?\s+|would\s+)"
    rf"(?:like|love|want|wish|need)\s+to\s+{_POLITE}{_ACTION}"
    rf"|(?:i|we)\s+(?:want|need|wish)\s+to\s+{_POLITE}{_ACTION}"
    rf"|(?P<imperative>{_ACTION})"
    r")",
    re.I,
)


def _request(toks: Sequence[Any], j: int) -> bool:
    """Whether the clause at token j asks the store to do something its FAQ covers."""
    j = _skip_markers(toks, j)
    match = _REQUEST.match(_text_from(toks, j))
    if match is None:
        return False
    if match.group("imperative") is None:
        return True
    # "Return policy?" and "Change of plans" are nouns: an imperative is a bare verb (or,
    # first in its sentence, a word spaCy calls a name before what it acts on: "Cancel
    # order KNT-1001 please").
    at = toks[0].doc.text.find(match.group("imperative"), toks[j].idx)
    k = next((n for n in range(j, len(toks)) if toks[n].idx >= at), None)
    if k is None or any(c.dep_ == "nsubj" for c in toks[k].children):
        return False
    acts_on = k + 1 < len(toks) and toks[k + 1].lower_ in _ACTED_ON
    return bool(toks[k].tag_ == "VB" or (k == _skip_markers(toks, 0) and acts_on))


# --- lists under a lead-in ----------------------------------------------------------------

# The sentence before a list that makes its items questions: one that asks and runs into
# the list ("Could you tell me:", "I'd like to know:", "Please advise on the following:"),
# or names questions or information ("I have a few questions:", "I'd love some info on:",
# "Couple of things:"). Under it an item asks even as a fragment ("- whether I can order by
# phone", "- payment plans"); under "Here is what I ordered:" or "I received the following
# items:" an item ("- a white gold band") states.
_LIST_LEAD = re.compile(
    r"\b(?:questions?|queries|query|wondering|curious"
    r"|(?:info|information|details|advice|clarification)\s+(?:on|about|regarding|re|for)\b"
    r"|(?:some|more|any|few|further)\s+(?:info|information|details|advice)\b"
    r"|(?:couple|few)\s+(?:of\s+)?(?:things|points|quick\s+ones|ones)\b"
    r"|things\s+(?:to|i(?:'d|’d|\s+would)?\s+(?:like|love|need|want)\s+to)\s+(?:know|ask|check))",
    re.I,
)
# A lead-in runs into its list: it ends with ":" or with no full stop ("can you tell me"),
# unless it names the list ("... the following points.", "listed below.").
_RUNS_ON = re.compile(r"(?::|[^.?!:;\W])\W*$|\b(?:following|below)\b", re.I)


# A lead-in that lists facts, not topics: "Here's what I ordered:", "Details below:", "My
# order:", "Order details:", "As you know:"; or one where the customer says what they did ("Inside I
# found:", "Things I've tried so far:", "I'm attaching photos of the damage:").
_REPORTING_LEAD = re.compile(
    # ("As you know:", "As discussed:", "As requested:": what is already agreed)
    r"^(?:here(?:'s|’s|\s+is|\s+are)|below\s+(?:is|are)|as)\b|\bbelow\s*:\s*$"
    r"|^(?:my|our)\s+(?:order|purchase)\s*:\s*$"
    r"|\b(?:details|summary|breakdown|receipt|items|contents|info|information)\s*:\s*$",
    re.I,
)
_ASKING_LEMMAS = {"wonder", "ask", "need", "want", "like", "hope", "think", "check", "confuse"}


def _reports(toks: Sequence[Any]) -> bool:
    said = _text_from(toks, _strip_greeting(toks))
    if _LIST_LEAD.search(said):
        return False
    if _REPORTING_LEAD.search(said):
        return True
    return any(
        t.tag_ in {"VBD", "VBN", "VBG"}
        and t.lemma_.lower() not in _ASKING_LEMMAS
        and any(c.dep_ == "nsubj" and c.lower_ in {"i", "we"} for c in t.children)
        for t in toks
    )


@dataclass
class _LeadIn:
    text: str  # the lead-in sentence as read: the items' context for the FAQ search
    own: list[Question]  # what was taken for a question in it ("Could you tell me")
    colon: bool  # it ends with ":": items may follow without a marker ("whether ...")
    marked: bool = False  # an item with a marker ("- ", "1.") was read under it


def _lead_in(toks: Sequence[Any], own: list[Question]) -> _LeadIn | None:
    said = _text_from(toks, 0)
    # "I'm thinking about the halo ring and I'd like to know:", "Before I order, can you
    # tell me": a clause of it announces the list.
    begin = _strip_greeting(toks)
    clauses = [begin, *(j for _b, j, _c in _clause_starts(toks, begin))]
    announces = any(_announces(toks, _skip_markers(toks, j), len(toks)) for j in clauses)
    colon = said.rstrip().endswith(":")
    # Any lead-in ending in ":" opens a list of topics ("Things I'm unsure about:", "My
    # concerns:", "Regarding:", "need info re:"): shoppers name what they ask about in
    # endless ways. Only one that reports what was ordered or received ("Here's what I
    # ordered:", "Inside I found:", "Order details:") lists facts.
    topics = colon and not _reports(toks)
    if _RUNS_ON.search(said) and (own or announces or topics or _LIST_LEAD.search(said)):
        # Only a frame of asking is dropped for the list's items: "Can you let me know", "I'd
        # love some info on:"; "also free returns or nah" above a list still asks itself.
        frames = [q for q in own if colon or _REQUEST_FRAME.match(q.said)]
        return _LeadIn(said, frames, colon)
    return None


def _bare_item(unit: _Unit, sents: list[list[Any]]) -> bool:
    """A line under a lead-in ending in ":" that is an item without a marker: one short line
    that starts like an embedded question ("whether you ship to Canada") or names a topic
    ("payment plans"); a sentence of its own ends the list."""
    if "\n" in unit.norm or len(sents) != 1:
        return False
    toks = sents[0]
    j = _skip_markers(toks, 0)
    if j < len(toks) and (toks[j].lower_ in _EMBEDDED or toks[j].lower_ == "that"):
        return True
    finite = any(t.tag_ in {"VBD", "VBZ", "VBP", "MD"} for t in toks)
    return _words(toks) <= 6 and not finite


def _is_fragment(toks: Sequence[Any]) -> bool:
    """A list item that asks under a lead-in: anything but a statement about the customer
    ("- I ordered it on Monday"); "whether ...", "that ...", "payment plans" all ask."""
    j = _skip_markers(toks, 0)
    if j >= len(toks) or _words(toks) < 1 or toks[j].lower_ in {"thank", "thanks"}:
        return False
    if toks[j].lower_ in _EMBEDDED or toks[j].lower_ == "that":
        return True
    # ("- I can pay with Klarna from Sweden": a modal asks what the customer may do)
    return not any(
        t.dep_ in {"nsubj", "nsubjpass"}
        and t.lower_ in {"i", "we"}
        and t.head.dep_ == "ROOT"
        and not any(c.tag_ == "MD" for c in t.head.children)
        for t in toks
    )


# --- where a question ends, and what only announces questions -----------------------------

# A clause after a comma or dash that gives the customer's reason or circumstances is no
# part of the question: "Can I order by phone, as I'm not very confident online?", "is it
# insured, we saved for months", "Does someone need to sign — we both work long shifts".
# A clause that conditions or narrows the question stays: ", if it doesn't fit", ", or
# only cards?", ", which I used before".
_REASONS = {"as", "because", "since", "cause", "cos", "cuz", "coz", "bc", "seeing", "given"}
_KEEPS = {
    "if",
    "when",
    "whenever",
    "once",
    "before",
    "after",
    "until",
    "till",
    "til",
    "unless",
    "or",
    "whether",
    "than",
    "while",
    "even",
    "which",
    "who",
    "that",
    "where",
    "like",
    "say",
    "especially",
    "including",
    "please",
    "pls",
    "plz",
    "in",
    "for",
    "to",
    "with",
    "without",
    "instead",
    "preferably",
    "ideally",
}
_SUBJECTS = {"nsubj", "nsubjpass", "expl", "csubj"}


def _states(toks: Sequence[Any], j: int, b: int) -> bool:
    """Whether toks[j:b], a clause after a comma inside a question, states something of
    its own: a reason ("as I'm ...", "because ..."), or a clause with its own subject
    ("my husband and I both work ...", "it's a gift") that does not ask."""
    first = toks[j].lower_
    if first in _KEEPS or _q_start(toks, j) or _indirect(toks, j) or _declared(toks, j):
        return False
    own_subject = any(
        t.dep_ in _SUBJECTS and j <= t.head.i - toks[0].i < b for t in toks[j:b]
    ) or first in _RUN_ON_SUBJECTS | {"my", "our", "we", "she", "he", "they", "it"}
    if first in _REASONS:
        # "as soon as possible", "since last week" state nothing of their own
        return first in {"because", "cause", "cos", "cuz", "coz", "bc"} or own_subject
    if toks[j].tag_ == "VBD" and toks[j].lower_ not in {"said", "meant"}:
        return True  # texting, the subject left out: "..., sent it back monday"
    return own_subject and _words(toks[j:b]) >= 2


_FRAMES = {"if", "when", "once", "after", "before", "unless", "since", "because", "as"}


def _cut_tail(toks: Sequence[Any], a: int, b: int) -> int:
    """Where the question toks[a:b] ends once a trailing statement ("..., we both work
    long shifts") or a sign-off on its line ("..., cheers", "... thx") is cut off."""
    # The clauses of the whole sentence: read from the question's start alone, "please tell
    # me how long I have" would look like an unpunctuated run-on.
    for boundary, j, conn in _clause_starts(toks, 0):
        if boundary <= a:
            continue
        if boundary >= b or j >= b:
            break
        if _words(toks[a:boundary]) < 2:
            continue
        frame = _skip_markers(toks, a)
        if frame >= boundary or (toks[frame].lower_ in _FRAMES and not _q_start(toks, a)):
            # "If not, it is safe to buy online?", "Third, if I don't like, I can give it
            # back?": what stands before the comma only frames the clause that asks.
            continue
        reason = conn == "run-on" or toks[j].lower_ in {"because", "cuz", "coz", "cos", "bc"}
        if (conn == "," or reason) and _states(toks, j, b):
            b = boundary
            break
    return _cut_thanks(toks, a, b)


_THANKS_TAIL = re.compile(
    r"(?:^|[\s,;:.!?–—-])\s*(?i:(?:and\s+)?(?:many|much|big|huge)\s+)?"
    r"(?i:thanks|thank\s+(?:you|u)|thankyou|thanx|thnx|tnx|tia|ty|cheers|ta)\b"
    r"(?i:\s+(?:so\s+much|very\s+much|a\s+lot|again|in\s+advance|heaps|loads|x+|xo+))*"
    r"[\s!.,]*(?i:x+|xo+)?[\s!.]*"
    # ... and a name, or a word for whoever reads it ("cheers mate", "thanks guys")
    r"(?:,?\s*(?:[A-Z][\w'’-]*(?:\s+[A-Z][\w'’-]*)?"
    r"|(?i:mate|hun|hon|babe|sweetie|guys|all|folks|team|everyone|love|dear|bro|pal))[\s.!]*)?$"
)


def _cut_thanks(toks: Sequence[Any], a: int, b: int) -> int:
    """ "can I pay with Klarna, cheers" / "is the box plain thx" / "where's my order, ty":
    the thanks that closes the message on the question's own line is no part of it."""
    if b <= a:
        return b
    said = _text_from(toks[:b], a)
    match = _THANKS_TAIL.search(said)
    if match is None:
        return b
    at = toks[a].idx + match.start()
    k = next((i for i in range(a, b) if toks[i].idx >= at), b)
    while k < b and _no_word(toks[k]):
        k += 1  # the cut starts at the thanks word, after the punctuation before it
    return k if _words(toks[a:k]) >= 2 else b


# Sentences that announce questions and ask nothing themselves: "Hoping you can help with
# a few things.", "I want to know some things.", "Could you clarify the following?", "Can
# I ask you a couple of questions?", "I'd like to check." The questions follow them.
_QTY = (
    r"(?:a\s+(?:few|couple(?:\s+of)?|number\s+of)|some|several|few|two|three|four|these"
    r"|the\s+following|my|a|one|another|one\s+more|a\s+quick|one\s+quick)"
)
_THING = (
    r"(?:(?:quick|small|little|other|more|further|simple|general)\s+)?"
    r"(?:things?|questions?|queries|query|points?|bits|issues|matters|concerns|items|details"
    r"|doubts|ones|stuff)"
)
# "a few things", "some questions", "the following", "something" (about one topic at most:
# "a few things about my order"; "I'd like to know about the warranty" asks).
_QOBJ = (
    rf"(?:(?:{_QTY}\s+{_THING}|something|anything|the\s+following|a\s+few|a\s+couple)"
    r"(?:\s+(?:about|regarding|re|on|with|concerning|for)\s+(?:my|the|your|our|an?|this)?\s*"
    r"[\w-]+(?:\s+[\w-]+)?)?)"
)
_HOBJ = (
    rf"(?:{_QOBJ}|(?:my|our|an?|the|this)\s+"
    r"(?:order|purchase|query|question|problem|issue|request))"
)
_ANNOUNCE_TAIL = (
    r"(?:\s*,?\s*(?:for\s+me|for\s+us|please|pls|if\s+(?:that's|thats|that\s+is|it's|its)"
    r"\s+ok(?:ay)?|if\s+(?:you\s+)?(?:can|could|may|don't\s+mind)|before\s+i\s+(?:order|buy"
    r"|purchase|decide)|first|quickly|by\s+you|past\s+you|too|as\s+well))*"
    r"[\s.!?:;,)…]*$"
)
_ANNOUNCES = re.compile(
    r"^(?:(?:and|also|so|but|just|ok|okay|oh|well|first|firstly)[\s,]+)*"
    r"(?:"
    r"(?:i(?:'m|’m|\s+am|\s+was)\s+|was\s+|am\s+)?(?:really\s+|just\s+|also\s+)?hoping\s+"
    r"(?:you|u|someone|somebody|you\s+guys)\s+(?:can|could|would|will|might|may)\s+"
    r"(?:please\s+)?(?:help|assist|answer|clarify|advise|explain)(?:\s+(?:me|us))?(?:\s+out)?"
    rf"(?:\s+(?:with|on))?(?:\s+{_HOBJ})?"
    rf"|(?:(?:i|we)(?:'d|’d|\s+would)\s+|would\s+|(?:i|we)\s+)?(?:also\s+|just\s+|really\s+)?"
    r"(?:want|wanted|like|love|need|needed|wish|have)\s+to\s+"
    r"(?:know|ask|check|clarify|confirm|find\s+out|understand|run|raise|enquire|inquire)"
    rf"(?:\s+(?:you|u|about|over|by\s+you))?(?:\s+{_QOBJ})?"
    r"|(?:i(?:'m|’m|\s+am|\s+was)\s+|was\s+)?(?:also\s+|just\s+)?wondering\s+(?:about\s+)?"
    rf"{_QOBJ}"
    r"|(?:can|could|may|might)\s+(?:i|we)\s+(?:please\s+|just\s+)?(?:ask|check|clarify|run)"
    rf"(?:\s+(?:you|u))?(?:\s+(?:about\s+)?{_QOBJ})?"
    r"|(?:can|could|would|will)\s+(?:you|u|someone|somebody|anyone)\s+(?:please\s+|kindly\s+)?"
    r"(?:(?:help|assist)(?:\s+(?:me|us))?(?:\s+out)?(?:\s+(?:with|on))?"
    rf"(?:\s+{_HOBJ})?"
    r"|(?:clarify|answer|explain|advise(?:\s+(?:me\s+)?on)?|confirm|check|tell\s+me|go\s+over"
    rf"|look\s+into)(?:\s+{_QOBJ})?)"
    r"|(?:would|do)\s+you\s+mind\s+(?:answering|helping(?:\s+(?:me|us))?(?:\s+with)?"
    rf"|clarifying|explaining|checking)(?:\s+{_QOBJ})?"
    r")"
    rf"{_ANNOUNCE_TAIL}",
    re.I,
)


# ... and any other way to say it: a verb of asking or helping whose only object is "a few
# things" ("Could I pick your brain on a few things?", "Would you be able to help with a
# couple of questions?"). "Can I buy a few things with Klarna?" asks.
_ASKING_VERBS = {
    "help",
    "assist",
    "ask",
    "answer",
    "clarify",
    "explain",
    "check",
    "run",
    "go",
    "pick",
    "raise",
    "query",
    "have",
    "get",
    "need",
    "want",
    "cover",
    "discuss",
    "address",
}
_CHATTY_NOUNS = {"brain", "hand", "help", "moment", "minute", "time", "favour", "favor", "second"}
_ENDS_WITH_THINGS = re.compile(rf"\b{_QOBJ}{_ANNOUNCE_TAIL}", re.I)


def _announces(toks: Sequence[Any], a: int, b: int) -> bool:
    """Whether toks[a:b] only announces questions (see `_ANNOUNCES`)."""
    said = _text_from(toks[:b], a)
    if _ANNOUNCES.match(said):
        return True
    match = _ENDS_WITH_THINGS.search(said)
    if match is None:
        return False
    at = toks[a].idx + match.start()
    before = [t for t in toks[a:b] if t.idx < at]
    return any(t.lemma_.lower() in _ASKING_VERBS for t in before) and not any(
        t.pos_ in {"NOUN", "PROPN"} and t.lower_ not in _CHATTY_NOUNS for t in before
    )


# --- questions without a question's form -------------------------------------------------

# Clipped questions of texting style, no lead-in and no "?": a request for news ("ETA on
# shipping", "status of my refund pls"), a yes/no ("need signature or not", "insurance
# yes or no"), or "is it possible" left out ("change ring size 7 to 7.5 possible", "klarna
# ok", "possible to get it by the 14th"). Only fragments: a sentence with a finite verb
# ("The tracking status says delivered", "Delivery on a weekday is ok.") states.
_NEWS = (
    r"(?:eta|e\.t\.a\.?|status|update|updates|news|timeline|time\s*frame|timeframe"
    r"|turnaround(?:\s+time)?|lead\s+time|(?:delivery|ship(?:ping)?|dispatch)\s+date"
    r"|tracking(?:\s+(?:number|no\.?|#|info|link|details))?)"
)
_NEWS_FRAGMENT = re.compile(
    rf"^(?:any\s+|an\s+|the\s+)?(?:[\w-]+\s+){{0,2}}?{_NEWS}"
    r"(?:\s+(?:on|of|for|re|regarding|about|with|when)\b[^.!:]*)?"
    r"(?:\s+(?:pls|please|plz|asap))?[\s?!.]*$",
    re.I,
)
_YES_NO = re.compile(r"\b(?:or\s+(?:not|no|nah|nope)|yes\s+or\s+no|y\s*/\s*n)[\s?!.]*$", re.I)
_MAYBE_FIRST = re.compile(
    r"^(?:possible|poss|ok|okay|any\s*way|any\s+chance|chance)\s+(?:to|for|if|of|i|we)\b", re.I
)
_MAYBE = re.compile(
    r"\b(?:possible|poss|ok|okay|doable|allowed|an\s+option)(?:\s+(?:pls|please|plz))?"
    r"[\s?!.]*$|\bpossible\b",
    re.I,
)
_PERSONS = {"i", "we", "you", "u", "he", "she", "they", "me", "us"}


def _finite(toks: Sequence[Any]) -> bool:
    """A verb that makes a sentence of it: "arrived", "is", "would"; a bare "need", "change"
    or "resize" without a subject is the clipped question's."""
    for t in toks:
        if t.tag_ in {"VBD", "VBZ", "MD"} or t.pos_ == "AUX":
            return True
        if t.tag_ == "VBP" and any(c.dep_ in _SUBJECTS for c in t.children):
            return True
    return False


def _fragment_asks(toks: Sequence[Any], begin: int) -> bool:
    """Whether toks[begin:] is a clipped question (see `_NEWS_FRAGMENT`, `_YES_NO`,
    `_MAYBE`)."""
    j = _skip_markers(toks, begin)
    # Its first clause: "status of my refund pls, sent it back 2 weeks ago" asks before the
    # comma (`_cut_tail` then cuts the rest off).
    end = next(
        (i for i in range(j + 1, len(toks)) if _punctuates(toks[i]) and toks[i].text != "?"),
        len(toks),
    )
    rest = toks[j:end]
    if not rest or _words(rest) > 10 or _finite(rest):
        return False
    if end < len(toks) and toks[end].text == ":":
        return False  # "Update: the parcel arrived": a label
    said = _text_from(rest, 0)
    if toks[begin].lower_ in {"no", "not", "never", "nothing"}:
        return False  # "No tracking, no reply."
    if _wh_fragment(rest):
        return True
    # ("ok", "so" may also be markers: "ok to pay with klarna" starts with its question)
    if _NEWS_FRAGMENT.match(said) or _MAYBE_FIRST.match(_text_from(toks[:end], begin)):
        return True
    if any(t.lower_ in _PERSONS or t.lower_ in {"not", "no", "never"} for t in rest[:-2]):
        return False  # "not possible for me", "I'm fine either way or not"
    if _YES_NO.search(said):
        return True
    return bool(_MAYBE.search(said)) and _names_something(rest)


_HOW_WORDS = {"much", "many", "long", "soon", "often", "far", "quickly", "fast"}


def _wh_fragment(rest: Sequence[Any]) -> bool:
    """A question without its verb: "how many payments", "how long for my money", "which
    day", or with its wh-word last: "refund for KNT-1002 when"."""
    words = [t for t in rest if not _no_word(t)]
    if len(words) < 2:
        return False
    first, second, last = words[0].lower_, words[1], words[-1].lower_
    if first == "how" and second.lower_ in _HOW_WORDS:
        return True
    if first in {"what", "which"} and second.pos_ == "NOUN":
        return True
    return last in {"when", "where", "how"} and len(words) >= 3


def _one_word_ask(toks: Sequence[Any], begin: int) -> bool:
    """ "ETA?", "Update?", "status?": one word asking for news."""
    rest = [t for t in toks[begin:] if not _no_word(t)]
    return (
        len(rest) == 1
        and _ends_with_question_mark(toks)
        and bool(re.fullmatch(_NEWS, rest[0].text, re.I))
    )


# --- putting it together -------------------------------------------------------------------


def _sentences(doc: Any) -> list[list[Any]]:
    """The sentences of a parsed unit as token lists, without edge spaces.

    A "?" inside what spaCy calls one sentence ends a question all the same: "when does
    my ring ship? ordered yest" is a question and a fragment that asks nothing, and spaCy
    keeps them together when the second starts in lower case.
    """
    out = []
    for sent in doc.sents:
        for toks in _split_at_question_marks(list(sent)):
            while toks and toks[-1].is_space:
                toks.pop()
            while toks and toks[0].is_space:
                toks.pop(0)
            if toks:
                out.append(toks)
    return out


_CLOSERS = {")", "]", '"', "'", "”", "’", "!"}


def _split_at_question_marks(toks: list[Any]) -> list[list[Any]]:
    pieces: list[list[Any]] = []
    start = 0
    for i, tok in enumerate(toks):
        if "?" not in tok.text or tok.text.strip("?!") or i + 1 >= len(toks):
            continue
        k = i + 1
        while k < len(toks) and (toks[k].text in _CLOSERS or "?" in toks[k].text):
            k += 1
        if k < len(toks) and any(c.isalnum() for t in toks[k:] for c in t.text):
            pieces.append(toks[start:k])
            start = k
    pieces.append(toks[start:])
    return [p for p in pieces if p]


def _request_range(toks: Sequence[Any], begin: int) -> tuple[int, int] | None:
    """Where a request for an action is in a sentence that asks nothing: from its start to
    the statement that may follow it ("Cancel it please, I ordered the wrong stone.")."""
    starts = _clause_starts(toks, begin)
    for a in [begin, *(j for _, j, _conn in starts)]:
        if _request(toks, a):
            ends = (
                boundary
                for boundary, j, conn in starts
                if j > a and conn in {",", "run-on"} and toks[j].dep_ in {"nsubj", "nsubjpass"}
            )
            return a, next(ends, len(toks))
    return None


def _sentence_found(
    email: str, unit: _Unit, toks: Sequence[Any], requests: bool, before: str = ""
) -> list[Question]:
    """The questions (and, with `requests`, requests for an action) of one sentence.

    `before` is the sentence before it: the lead of a question that names nothing itself
    ("I ordered a 7 and got a 6." for "What do I do now?").
    """
    begin, ranges = _sentence_questions(toks)
    kind = "question"
    if not ranges and requests and _words(toks[begin:]) >= 2:
        found = _request_range(toks, begin)
        ranges, kind = ([found] if found else []), "request"
    out = []
    for n, (a, b) in enumerate(ranges):
        a, b = _trim(toks, a, b)
        whole = b
        a, b = _trim(toks, a, _cut_tail(toks, a, b))
        if b <= a or (_words(toks[a:b]) < 2 and not _one_word_ask(toks, a)):
            continue
        said = _text_from(toks[:b], a)
        start, end = unit.span(toks[a].idx, toks[b - 1].idx + len(toks[b - 1].text))
        text = email[start:end]
        if (
            _SMALL_TALK.match(said)
            or _announces(toks, a, b)
            or ("?" not in said and (_OFFER.match(said) or is_title_case_name(text)))
        ):
            continue
        lead = ""
        if n == 0 and a > begin:
            lead_a, lead_b = _trim(toks, begin, a)
            if lead_b > lead_a:
                lead = _text_from(toks[:lead_b], lead_a)
        if not lead and not _names_something(toks[a:b]):
            # "Is that okay, I'm at work all day": what it asks about is around it
            tail = _text_from(toks[:whole], b) if whole > b else ""
            lead = " ".join(x for x in (before, tail) if x)
        out.append(Question(text, start, end, lead, said, kind))
    return out


_EMPTY_NOUNS = {"thing", "things", "way", "anything", "something", "one", "lot", "bit"}
_EMPTY_VERBS = {"do", "be", "have", "get", "go", "happen", "take", "work", "make", "mean"}


def _names_something(toks: Sequence[Any]) -> bool:
    """Whether a question names what it is about ("the ring", "Klarna", "return it"); "is
    that possible?", "how long will that take?" and "what do I do now?" do not."""
    return any(
        (t.pos_ in {"NOUN", "PROPN", "NUM"} and t.lower_ not in _EMPTY_NOUNS)
        or (t.pos_ == "VERB" and t.lemma_.lower() not in _EMPTY_VERBS)
        for t in toks
    )


def _item_found(
    email: str, unit: _Unit, sents: list[list[Any]], lead_in: _LeadIn, requests: bool
) -> list[Question]:
    """The questions of a list item under a lead-in: its own, or the item itself."""
    found = [q for toks in sents for q in _sentence_found(email, unit, toks, requests)]
    toks = [t for sent in sents for t in sent]
    if found or not _is_fragment(toks):
        return found
    a, b = _trim(toks, 0, len(toks))
    if b <= a or _words(toks[a:b]) < 1:
        return []
    said = _text_from(toks[:b], a)
    start, end = unit.span(toks[a].idx, toks[b - 1].idx + len(toks[b - 1].text))
    return [Question(email[start:end], start, end, lead_in.text, said)]


def find_questions(
    text: str, nlp: Any, parts: EmailParts | None = None, *, requests: bool = False
) -> list[Question]:
    """The customer's own questions in an e-mail, in order, with their exact spans.

    `nlp` is the full spaCy pipeline (`bot.staff.nlp.full_pipeline`). Only the first
    MAX_EMAIL_CHARS characters of the customer's own text are analysed. With `requests`,
    requests for an action the FAQ may cover ("Please cancel my order.") come too, as
    questions of kind "request".
    """
    parts = parts or read_email(text)
    units = [u for u in (_read_unit(parts.text, a, b) for a, b in parts.body) if u]
    if not units:
        return []
    found: list[Question] = []
    lead_in: _LeadIn | None = None
    before = ""  # the sentence read last
    # NER is not needed to find questions and costs half of the pipeline's time.
    docs = nlp.pipe([u.norm for u in units], disable=["ner"])
    for n, (unit, doc) in enumerate(zip(units, docs, strict=True)):
        sents = _sentences(doc)
        # A line without a marker continues a list only if the list had no markers: after
        # "- a\n- b", a line "Lucas" is the signature; nor is a name on the last line an item.
        bare = (
            lead_in is not None
            and lead_in.colon
            and not lead_in.marked
            and not (n == len(units) - 1 and is_title_case_name(unit.norm))
            and _bare_item(unit, sents)
        )
        if lead_in is not None and (unit.item or bare):
            lead_in.marked = lead_in.marked or unit.item
            asked = _item_found(text, unit, sents, lead_in, requests)
            if asked and lead_in.own:
                # "Could you tell me:" only introduced the list: its items are the questions.
                found = [q for q in found if all(q is not own for own in lead_in.own)]
                lead_in.own = []
            found += asked
            continue
        own: list[Question] = []
        for toks in sents:
            own = _sentence_found(text, unit, toks, requests, before)
            found += own
            before = _text_from(toks, 0)
        lead_in = _lead_in(sents[-1], own) if sents and not unit.item else None
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
