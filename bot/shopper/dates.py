"""Dates as the bot writes them to shoppers, from the order backend's ISO dates."""

from __future__ import annotations

from datetime import date
from typing import Any


def day(value: Any) -> date | None:
    """The date of an ISO date or timestamp string ("2025-06-01", "2025-06-01T10:00:00Z");
    None for anything else."""
    if not isinstance(value, str):
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


def long_date(value: date | str | None) -> str:
    """ "June 1, 2025" ("" when there is no date)."""
    d = value if isinstance(value, date) else day(value)
    return f"{d:%B} {d.day}, {d.year}" if d else ""
