"""What the actions read from Rasa's tracker, as the types they expect (helpers, not actions).

Slots and entities hold whatever Rasa, NLU or a client put there: a typed payload such as
`/inform{"order_number": ["x"]}` makes an entity a list, a custom action could leave any
value in a slot. Every action reads through these functions, so none of them ever sees
a type it did not expect: text is a clean string (no lone surrogates, no control
characters, bounded), a number is finite, the order's facts are the shape the backend
gives.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Collection, Iterator
from datetime import date
from typing import Any

from bot.shopper.order_backend import Shopper

# Longer than any answer a form asks for (the gateway's frames are 2 KB); a longer value
# is cut, never refused, so a long message still reaches its validator.
MAX_TEXT = 2000
# Controls (except line breaks and tabs) and lone surrogates carry nothing a shopper
# meant, and break JSON encoders, PostgreSQL (NUL) and HTTP headers downstream.
_JUNK = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


def clean_text(value: Any, limit: int = MAX_TEXT) -> str:
    """`value` as text: a string cleaned and cut to `limit`, a finite number written out;
    anything else (None, lists, dicts, booleans) is "" -- not an answer."""
    if isinstance(value, bool):
        return ""
    if isinstance(value, int):
        text = str(value) if abs(value) < 10**30 else ""
    elif isinstance(value, float):
        text = repr(value) if math.isfinite(value) else ""
    elif isinstance(value, str):
        text = value[: limit * 2]
    else:
        return ""
    return _JUNK.sub("", text)[:limit]


def ascii_digits(text: str) -> str:
    """Decimal digits of any script as 0-9 ("KNT-١٠٠١" -> "KNT-1001"); other characters
    (including "²", a digit but not a decimal one) stay as they are."""
    return "".join(
        str(unicodedata.decimal(c)) if c.isdecimal() and not c.isascii() else c for c in text
    )


def number(value: Any) -> float | None:
    """A finite number, or None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        result = float(value)
    except OverflowError:
        return None
    return result if math.isfinite(result) else None


def text_slot(tracker: Any, name: str, limit: int = MAX_TEXT) -> str | None:
    """A text slot's value, cleaned; None when it holds no text."""
    return clean_text(_slots(tracker).get(name), limit) or None


def number_slot(tracker: Any, name: str) -> float | None:
    return number(_slots(tracker).get(name))


def _slots(tracker: Any) -> dict[str, Any]:
    slots = getattr(tracker, "slots", None)
    return slots if isinstance(slots, dict) else {}


def _latest(tracker: Any) -> dict[str, Any]:
    latest = getattr(tracker, "latest_message", None)
    return latest if isinstance(latest, dict) else {}


def latest_text(tracker: Any) -> str:
    return clean_text(_latest(tracker).get("text"))


def latest_intent(tracker: Any) -> str | None:
    intent = _latest(tracker).get("intent")
    name = intent.get("name") if isinstance(intent, dict) else None
    return clean_text(name, 100) or None


def offered_before(tracker: Any, payload_prefix: str) -> bool:
    """Whether the bot's reply to the shopper's message before the latest one carried a
    button whose payload starts with `payload_prefix` (what a bare "yeah" answers)."""
    events = getattr(tracker, "events", None)
    if not isinstance(events, list):
        return False
    users = 0
    for event in reversed(events):
        if not isinstance(event, dict):
            continue
        if event.get("event") == "user":
            users += 1
            if users == 2:
                return False
        elif event.get("event") == "bot" and users == 1:
            data = event.get("data")
            buttons = data.get("buttons") if isinstance(data, dict) else None
            for button in buttons if isinstance(buttons, list) else []:
                payload = button.get("payload") if isinstance(button, dict) else None
                if isinstance(payload, str) and payload.startswith(payload_prefix):
                    return True
    return False


def entity_values(tracker: Any, entity: str) -> Iterator[str]:
    """The latest message's values of `entity`, as text (non-text values skipped)."""
    entities = _latest(tracker).get("entities")
    for found in entities if isinstance(entities, list) else []:
        if isinstance(found, dict) and found.get("entity") == entity:
            value = clean_text(found.get("value"), 200)
            if value:
                yield value


def shopper(tracker: Any) -> Shopper:
    """The client behind the latest message, as the gateway put it in the message's
    metadata (unknown when it is missing: e.g. a test talking to Rasa directly)."""
    metadata = _latest(tracker).get("metadata")
    metadata = metadata if isinstance(metadata, dict) else {}
    sender = getattr(tracker, "sender_id", None)
    return Shopper(
        ip=clean_text(metadata.get("client_ip"), 128) or None,
        session=clean_text(metadata.get("session"), 128) or None,
        conversation=clean_text(sender, 100) or None,
    )


def active_form(tracker: Any) -> str | None:
    """The form running now (Rasa's active loop), or None."""
    loop = getattr(tracker, "active_loop", None)
    name = loop.get("name") if isinstance(loop, dict) else None
    return clean_text(name, 100) or None


def last_form(tracker: Any) -> str | None:
    """The form started last in this conversation (running or not), from its events."""
    events = getattr(tracker, "events", None)
    for event in reversed(events if isinstance(events, list) else []):
        if not isinstance(event, dict) or event.get("event") != "active_loop":
            continue
        if name := clean_text(event.get("name"), 100):
            return name
    return None


def drop_candidates(tracker: Any, names: Collection[str]) -> None:
    """Take `names` out of the slot values a form asks its validation action to check
    (`Tracker.slots_to_validate()`: the slot events at the end of the tracker's events)."""
    events = getattr(tracker, "events", None)
    if not isinstance(events, list):
        return
    start = len(events)
    while start and isinstance(last := events[start - 1], dict) and last.get("event") == "slot":
        start -= 1
    events[start:] = [e for e in events[start:] if e.get("name") not in names]


# --- the verified order, as the actions keep it in the `order_facts` slot ---------------


def _iso_day(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    try:
        date.fromisoformat(value[:10])
    except ValueError:
        return None
    return value


def _scalar(value: Any) -> bool:
    """Clean text or a finite number: what an order item's fields hold."""
    if isinstance(value, str):
        return bool(value) and clean_text(value, 200) == value
    return number(value) is not None


def _json_safe(value: Any, depth: int = 0) -> bool:
    """Plain JSON (finite numbers, clean strings), not too deep: safe to send back."""
    if value is None or isinstance(value, bool):
        return True
    if isinstance(value, str):
        return clean_text(value, len(value)) == value
    if isinstance(value, int | float):
        return number(value) is not None
    if depth > 5:
        return False
    if isinstance(value, list):
        return all(_json_safe(v, depth + 1) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _json_safe(v, depth + 1) for k, v in value.items())
    return False


def _item(value: Any) -> dict[str, Any] | None:
    """An order item with an id, keeping only its text and number fields."""
    if not isinstance(value, dict):
        return None
    item = {k: v for k, v in value.items() if isinstance(k, str) and _scalar(v)}
    return item if "id" in item else None


def facts(tracker: Any) -> dict[str, Any]:
    """The verified order as the backend last described it ({} before verification),
    with every field the actions read in the shape the backend gives it (a field that
    is not is left out)."""
    value = _slots(tracker).get("order_facts")
    if not isinstance(value, dict):
        return {}
    order = {k: v for k, v in value.items() if isinstance(k, str) and _json_safe(v)}
    for key in ("order_number", "status"):
        if not (isinstance(order.get(key), str) and _scalar(order[key])):
            order.pop(key, None)
    if _iso_day(order.get("return_window_ends")) is None:
        order.pop("return_window_ends", None)
    if not isinstance(order.get("change_used"), bool):
        order.pop("change_used", None)
    raw_items = order.get("items")
    items = [_item(v) for v in (raw_items if isinstance(raw_items, list) else [])]
    order["items"] = [i for i in items if i is not None]
    return order


def chosen_item(tracker: Any) -> dict[str, Any]:
    """The order item the shopper picked ({} when none is picked yet)."""
    wanted = text_slot(tracker, "order_item", 100) or ""
    items = facts(tracker).get("items", [])
    return next((i for i in items if str(i["id"]) == wanted), {}) if wanted else {}
