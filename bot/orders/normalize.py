"""What shoppers type, in the one form the database stores."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

_ORDER_NUMBER = re.compile(r"(?i)^(?:#|KNT[-\s#]?)?\s*(\d{4,6})$")
_SPACES = re.compile(r"\s+")
_FRACTION = re.compile(r"^(\d{1,2})\s*(?:1/2|½)$")


def order_number(text: str) -> str | None:
    """ "KNT-1001", "knt1001", "1001", "#1001" -> "KNT-1001"; None when it is not one."""
    match = _ORDER_NUMBER.match(text.strip())
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
