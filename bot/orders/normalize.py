"""What shoppers type, in the one form the database stores."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

# The store's order numbers: 4 to 6 digits, written "KNT-1001" (also "knt1001", "KNT 1001",
# "KNT#1001", "#1001"), stored as "KNT-1001". The one definition: the backend, the actions
# and the staff tools read order numbers through the functions below.
_DIGITS = r"(\d{4,6})"
_ORDER_NUMBER = re.compile(rf"(?i)^(?:#|KNT[-\s#]?)?\s*{_DIGITS}$")
# In free text a number counts when it is named as one: "KNT-1001", "KNT 1001", "#1001",
# "order 1001", "order no. 1001", "order number is 1001". A bare number is not: "2026" in a
# date is no order (unless the text answers "what is your order number?").
_NAMED = (
    r"\bKNT\s?[-#_:.]?\s?"
    r"|(?<![\w&#])#\s?"
    r"|\border\s+(?:(?:number|no\.?|num\.?|nr\.?|id|ref\.?|#)\s*)?(?:(?:is|was|:)\s*)?#?\s?"
)
_IN_TEXT = re.compile(rf"(?i)(?:{_NAMED}){_DIGITS}\b")
_IN_ANSWER = re.compile(rf"(?i)(?:{_NAMED}|\b){_DIGITS}\b")
_SPACES = re.compile(r"\s+")
_FRACTION = re.compile(r"^(\d{1,2})\s*(?:1/2|½)$")


def order_number(text: str) -> str | None:
    """ "KNT-1001", "knt1001", "1001", "#1001" -> "KNT-1001"; None when it is not one."""
    match = _ORDER_NUMBER.match(text.strip())
    return f"KNT-{match.group(1)}" if match else None


def find_order_number(text: str, bare: bool = False) -> str | None:
    """The first order number named in `text`, as "KNT-1001"; None when there is none.
    `bare`: a lone 4-6 digit number counts too (the answer to "your order number?")."""
    match = (_IN_ANSWER if bare else _IN_TEXT).search(text)
    return f"KNT-{match.group(1)}" if match else None


def email(text: str) -> str:
    """Trimmed and lower-cased: how e-mail addresses are stored and compared."""
    return text.strip().lower()


def value(text: str) -> str:
    """As stored: trimmed, lower-case, single spaces ("Rose  Gold" -> "rose gold")."""
    return _SPACES.sub(" ", text.strip().lower())


def ring_size(text: str) -> str:
    """ "7", "7.0", "7.00" -> "7"; "7.50", "7 1/2", "7½" -> "7.5"; else trimmed as typed."""
    cleaned = value(text).removeprefix("size").strip()
    fraction = _FRACTION.match(cleaned)
    if fraction:
        cleaned = f"{fraction.group(1)}.5"
    try:
        number = Decimal(cleaned)
    except InvalidOperation:
        return cleaned
    if not number.is_finite():
        return cleaned
    if number == number.to_integral_value():
        return str(int(number))
    return format(number.normalize(), "f")
