"""The store's order rules, as pure functions of an order's facts and `now`.

From the store's FAQ: crafting takes 3-5 weeks; one change per order, to a single item
(gemstone, metal, ring size); cancel only before the order ships; return or exchange
within 30 days of the shipping-confirmation date (day 30 included); in-house finance is
crafted once half is paid. Each `check_*` returns what to do or raises `Refused`.
The numbers are the store's settings (`Policy`, from ORDERS_* in bot/settings.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from bot.catalogue import GEMSTONES, METALS, RING_SIZES
from bot.orders import normalize
from bot.orders.domain import (
    AFTER_SHIPPING,
    BEFORE_SHIPPING,
    ChangeAttribute,
    ChangePlan,
    OrderFacts,
    OrderStatus,
    PaymentMethod,
    Refused,
    ReturnKind,
    ReturnPlan,
)
from bot.settings import Settings


@dataclass(frozen=True)
class Policy:
    """The store's rule numbers; the defaults are its FAQ's."""

    return_window_days: int = 30
    crafting_weeks: tuple[int, int] = (3, 5)
    label_within_business_days: str = "1-2"
    refund_within_days: int = 14

    @classmethod
    def from_settings(cls, settings: Settings) -> Policy:
        return cls(
            return_window_days=settings.orders_return_window_days,
            crafting_weeks=(
                settings.orders_crafting_weeks_earliest,
                settings.orders_crafting_weeks_latest,
            ),
            label_within_business_days=settings.orders_label_within_business_days,
            refund_within_days=settings.orders_refund_within_days,
        )


POLICY = Policy()

CATALOGUE: dict[ChangeAttribute, tuple[str, ...]] = {
    ChangeAttribute.GEMSTONE: GEMSTONES,
    ChangeAttribute.METAL: METALS,
    ChangeAttribute.RING_SIZE: RING_SIZES,
}
_ATTRIBUTE_WORDS = {
    ChangeAttribute.GEMSTONE: "gemstone",
    ChangeAttribute.METAL: "metal",
    ChangeAttribute.RING_SIZE: "ring size",
}


def utc_date(moment: datetime) -> date:
    """The UTC calendar date of an aware datetime (naive ones are refused: ambiguous)."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime: pass a timezone-aware value")
    return moment.astimezone(UTC).date()


def return_window_ends(shipped_at: datetime, policy: Policy = POLICY) -> date:
    """Last day a return or exchange may be requested: shipping confirmation + the window."""
    return utc_date(shipped_at) + timedelta(days=policy.return_window_days)


def half_paid(order: OrderFacts) -> bool:
    if order.payment_method is not PaymentMethod.IN_HOUSE:
        return True
    if not order.parts_total:
        return False
    return (order.parts_paid or 0) * 2 >= order.parts_total


def crafting_eta(order: OrderFacts, policy: Policy = POLICY) -> tuple[date, date] | None:
    """3-5 weeks from the order date while it is not shipped; None while in-house finance
    is less than half paid (crafting has not started) or once shipped or cancelled."""
    if order.status not in BEFORE_SHIPPING or not half_paid(order):
        return None
    placed = utc_date(order.placed_at)
    earliest, latest = policy.crafting_weeks
    return placed + timedelta(weeks=earliest), placed + timedelta(weeks=latest)


def check_cancel(order: OrderFacts, policy: Policy = POLICY) -> None:
    if order.status is OrderStatus.CANCELLED:
        raise Refused("not_cancellable", "This order is already cancelled.", status=order.status)
    if order.status not in BEFORE_SHIPPING:
        raise Refused(
            "not_cancellable",
            "This order has already shipped, so it can no longer be cancelled. It can be "
            f"returned or exchanged within {policy.return_window_days} days of the shipping "
            "confirmation.",
            status=order.status,
        )


def check_changeable(order: OrderFacts) -> None:
    """Whether the order itself still takes its one change (any item, any attribute)."""
    if order.status is OrderStatus.CANCELLED:
        raise Refused("order_cancelled", "This order is cancelled, so it cannot be changed.")
    if order.status in AFTER_SHIPPING:
        raise Refused(
            "order_shipped",
            "This order has already shipped, so it can no longer be changed.",
            status=order.status,
        )
    if order.change_used:
        raise Refused(
            "change_already_used",
            "This order's one allowed change has already been used.",
        )


def check_change(order: OrderFacts, item_id: int, attribute: str, new_value: str) -> ChangePlan:
    """The one change an order allows: one attribute of one item, before it ships."""
    check_changeable(order)
    item = order.item(item_id)
    if item is None:
        raise Refused(
            "unknown_item",
            "This order has no item with that id.",
            item_ids=[i.id for i in order.items],
        )
    attr = parse_attribute(attribute)
    if attr is None:
        raise Refused(
            "invalid_attribute",
            "Only the gemstone, the metal or the ring size of an item can be changed.",
            allowed=[a.value for a in ChangeAttribute],
        )
    old_value = item.value_of(attr)
    if old_value is None:
        raise Refused(
            "invalid_attribute",
            f"This item has no {_ATTRIBUTE_WORDS[attr]} to change.",
            allowed=[a.value for a in ChangeAttribute if item.value_of(a) is not None],
        )
    value = (
        normalize.ring_size(new_value)
        if attr is ChangeAttribute.RING_SIZE
        else (normalize.value(new_value))
    )
    allowed = list(CATALOGUE[attr])
    if value not in allowed:
        raise Refused(
            "invalid_value",
            f"{new_value.strip()!r} is not a {_ATTRIBUTE_WORDS[attr]} we offer.",
            attribute=attr,
            allowed=allowed,
        )
    if value == old_value:
        raise Refused(
            "invalid_value",
            f"The {_ATTRIBUTE_WORDS[attr]} of this item is already {value}.",
            attribute=attr,
            allowed=[v for v in allowed if v != old_value],
        )
    return ChangePlan(item_id=item.id, attribute=attr, old_value=old_value, new_value=value)


def parse_attribute(text: str) -> ChangeAttribute | None:
    """ "gemstone", "Metal", "ring size", "ring-size" -> the attribute; None otherwise."""
    key = normalize.value(text).replace(" ", "_").replace("-", "_")
    try:
        return ChangeAttribute(key)
    except ValueError:
        return None


def check_return_window(order: OrderFacts, now: datetime, policy: Policy = POLICY) -> None:
    """An order may be returned or exchanged once shipped, until the window's last day
    (inclusive)."""
    if order.status is OrderStatus.CANCELLED:
        raise Refused("order_cancelled", "This order is cancelled, so there is nothing to return.")
    if order.status not in AFTER_SHIPPING or order.shipped_at is None:
        raise Refused(
            "not_shipped",
            "This order has not shipped yet. While it is in production it can be changed "
            "or cancelled instead.",
            status=order.status,
        )
    ends = return_window_ends(order.shipped_at, policy)
    if utc_date(now) > ends:
        raise Refused(
            "outside_return_window",
            f"Returns and exchanges are possible within {policy.return_window_days} days of "
            "the shipping "
            f"confirmation; for this order that was until {ends.isoformat()}.",
            window_ended_on=ends.isoformat(),
        )


def check_return(
    order: OrderFacts,
    item_id: int,
    kind: ReturnKind,
    exchange_size: str | None,
    now: datetime,
    policy: Policy = POLICY,
) -> ReturnPlan:
    check_return_window(order, now, policy)
    item = order.item(item_id)
    if item is None:
        raise Refused(
            "unknown_item",
            "This order has no item with that id.",
            item_ids=[i.id for i in order.items],
        )
    if item.open_rma_number is not None:
        raise Refused(
            "return_already_open",
            f"A return for this item is already open ({item.open_rma_number}).",
            rma_number=item.open_rma_number,
        )
    if kind is ReturnKind.RETURN:
        return ReturnPlan(item_id=item.id, kind=kind)
    if item.ring_size is None:
        if exchange_size is not None and exchange_size.strip():
            raise Refused(
                "invalid_value",
                "This item has no ring size, so an exchange size does not apply.",
                attribute="exchange_size",
                allowed=[],
            )
        return ReturnPlan(item_id=item.id, kind=kind)
    if exchange_size is None or not exchange_size.strip():
        raise Refused(
            "exchange_size_required",
            "An exchange of a ring needs the ring size to exchange it for.",
            allowed=list(RING_SIZES),
        )
    size = normalize.ring_size(exchange_size)
    if size not in RING_SIZES:
        raise Refused(
            "invalid_value",
            f"{exchange_size.strip()!r} is not a ring size we offer.",
            attribute="exchange_size",
            allowed=list(RING_SIZES),
        )
    return ReturnPlan(item_id=item.id, kind=kind, exchange_size=size)


def is_cancellable(order: OrderFacts) -> bool:
    return order.status in BEFORE_SHIPPING


def is_changeable(order: OrderFacts) -> bool:
    return order.status in BEFORE_SHIPPING and not order.change_used


def is_returnable(order: OrderFacts, now: datetime, policy: Policy = POLICY) -> bool:
    try:
        check_return_window(order, now, policy)
    except Refused:
        return False
    return True


@dataclass(frozen=True)
class Possibility:
    """Whether a request could go ahead now, and if not the rule's reason and message."""

    possible: bool
    reason: str | None = None
    message: str | None = None
    until: date | None = None  # the last day it stays possible, where a date decides


def _possibility(check: Callable[[], None], until: date | None = None) -> Possibility:
    try:
        check()
    except Refused as refused:
        return Possibility(False, refused.reason, refused.message)
    return Possibility(True, until=until)


def possibilities(
    order: OrderFacts, now: datetime, policy: Policy = POLICY
) -> dict[str, Possibility]:
    """Cancel, change and return as the rules above decide them now."""
    window_ends = return_window_ends(order.shipped_at, policy) if order.shipped_at else None
    return {
        "cancel": _possibility(lambda: check_cancel(order, policy)),
        "change": _possibility(lambda: check_changeable(order)),
        "return": _possibility(lambda: check_return_window(order, now, policy), window_ends),
    }
