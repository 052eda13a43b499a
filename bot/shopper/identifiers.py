"""Normalising what shoppers type for order numbers and e-mail addresses."""

from __future__ import annotations

import re

from bot.orders.normalize import find_order_number

# Letters and digits of any script (müller@example.de, 用户@例子.中国): the order backend
# compares whatever was stored, so refusing them would only stop real shoppers.
_EMAIL = re.compile(r"^[\w.%+'-]+@[\w-]+(?:\.[\w-]+)*\.[^\W\d_]{2,}$")


def normalize_order_number(text: str | None) -> str | None:
    """ "KNT-1001", "knt1001", "#1001", "order 1001" -> "KNT-1001"; None if there is none."""
    return find_order_number(text.strip(), bare=True) if text else None


def normalize_email(text: str | None) -> str | None:
    """Trimmed, lower-cased address, or None when it is not one."""
    if not text:
        return None
    candidate = text.strip().strip("<>.,;").lower()
    return candidate if _EMAIL.match(candidate) else None
