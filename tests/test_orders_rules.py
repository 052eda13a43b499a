"""The store's order rules as pure functions: explicit facts, explicit `now`, no HTTP."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from bot.catalogue import GEMSTONES, METALS, RING_SIZES
from bot.orders import normalize, rules
from bot.orders.domain import (
    ChangeAttribute,
    ItemFacts,
    OrderFacts,
    OrderStatus,
    PaymentMethod,
    Refused,
    ReturnKind,
)

PLACED = datetime(2026, 9, 1, 12, 0, tzinfo=UTC)
SHIPPED = datetime(2026, 9, 27, 16, 30, tzinfo=UTC)  # window: until 2026-10-27 inclusive
RING = ItemFacts(id=1, gemstone="sapphire", metal="white gold", ring_size="6")
PENDANT = ItemFacts(id=2, gemstone="aquamarine", metal="rose gold", ring_size=None)

IN_PRODUCTION = OrderFacts(
    order_number="KNT-1001", status=OrderStatus.IN_PRODUCTION, placed_at=PLACED, items=(RING,)
)
DELIVERED = replace(IN_PRODUCTION, status=OrderStatus.DELIVERED, shipped_at=SHIPPED)


def at(day: date, hour: int = 12) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def reason_of(call: object, *args: object) -> str:
    with pytest.raises(Refused) as info:
        call(*args)  # type: ignore[operator]
    assert info.value.message.endswith(".")
    return info.value.reason


# --- return window ------------------------------------------------------------------------


def test_window_ends_30_days_after_the_shipping_confirmation() -> None:
    assert rules.return_window_ends(SHIPPED) == date(2026, 10, 27)


@pytest.mark.parametrize(
    ("now", "allowed"),
    [
        (at(date(2026, 9, 27)), True),  # day 0
        (at(date(2026, 10, 26)), True),  # day 29
        (datetime(2026, 10, 27, 0, 0, tzinfo=UTC), True),  # day 30, first minute
        (datetime(2026, 10, 27, 23, 59, 59, tzinfo=UTC), True),  # day 30, last second
        (datetime(2026, 10, 28, 0, 0, tzinfo=UTC), False),  # day 31
        (at(date(2026, 11, 30)), False),
    ],
)
def test_day_30_is_inclusive_day_31_refused(now: datetime, allowed: bool) -> None:
    assert rules.is_returnable(DELIVERED, now) is allowed
    if allowed:
        plan = rules.check_return(DELIVERED, 1, ReturnKind.RETURN, None, now)
        assert (plan.item_id, plan.kind, plan.exchange_size) == (1, ReturnKind.RETURN, None)
    else:
        with pytest.raises(Refused) as info:
            rules.check_return(DELIVERED, 1, ReturnKind.RETURN, None, now)
        assert info.value.reason == "outside_return_window"
        assert info.value.extra == {"window_ended_on": "2026-10-27"}


def test_window_is_counted_in_utc_dates() -> None:
    # 2026-10-28 01:00 in UTC+3 is still 2026-10-27 22:00 UTC: day 30.
    plus_three = timezone(timedelta(hours=3))
    assert rules.is_returnable(DELIVERED, datetime(2026, 10, 28, 1, 0, tzinfo=plus_three))
    assert not rules.is_returnable(DELIVERED, datetime(2026, 10, 28, 4, 0, tzinfo=plus_three))


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        rules.is_returnable(DELIVERED, datetime(2026, 10, 1, 12))


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        (OrderStatus.AWAITING_PAYMENT, "not_shipped"),
        (OrderStatus.IN_PRODUCTION, "not_shipped"),
        (OrderStatus.CANCELLED, "order_cancelled"),
    ],
)
def test_return_before_shipping(status: OrderStatus, reason: str) -> None:
    order = replace(IN_PRODUCTION, status=status)
    now = at(date(2026, 9, 10))
    assert reason_of(rules.check_return, order, 1, ReturnKind.RETURN, None, now) == reason


def test_shipped_without_a_shipment_date_is_not_returnable() -> None:
    order = replace(DELIVERED, shipped_at=None)
    now = at(date(2026, 10, 1))
    assert reason_of(rules.check_return, order, 1, ReturnKind.RETURN, None, now) == "not_shipped"


def test_one_open_return_per_item() -> None:
    order = replace(DELIVERED, items=(replace(RING, open_rma_number="RMA-ABCDEFGH"),))
    with pytest.raises(Refused) as info:
        rules.check_return(order, 1, ReturnKind.EXCHANGE, "7", at(date(2026, 10, 1)))
    assert info.value.reason == "return_already_open"
    assert info.value.extra["rma_number"] == "RMA-ABCDEFGH"


def test_return_of_an_unknown_item() -> None:
    now = at(date(2026, 10, 1))
    assert reason_of(rules.check_return, DELIVERED, 99, ReturnKind.RETURN, None, now) == (
        "unknown_item"
    )


@pytest.mark.parametrize(
    ("size", "outcome"),
    [
        (None, "exchange_size_required"),
        ("  ", "exchange_size_required"),
        ("15", "invalid_value"),
        ("7.25", "invalid_value"),
        ("seven", "invalid_value"),
        ("7.0", "7"),
        ("7 1/2", "7.5"),
        ("Size 8", "8"),
    ],
)
def test_exchange_of_a_ring_needs_a_catalogue_size(size: str | None, outcome: str) -> None:
    now = at(date(2026, 10, 1))
    if outcome in {"exchange_size_required", "invalid_value"}:
        with pytest.raises(Refused) as info:
            rules.check_return(DELIVERED, 1, ReturnKind.EXCHANGE, size, now)
        assert info.value.reason == outcome
        assert info.value.extra["allowed"] == list(RING_SIZES)
    else:
        assert rules.check_return(DELIVERED, 1, ReturnKind.EXCHANGE, size, now).exchange_size == (
            outcome
        )


def test_exchange_of_an_item_without_a_ring_size() -> None:
    order = replace(DELIVERED, items=(PENDANT,))
    now = at(date(2026, 10, 1))
    assert rules.check_return(order, 2, ReturnKind.EXCHANGE, None, now).exchange_size is None
    assert reason_of(rules.check_return, order, 2, ReturnKind.EXCHANGE, "7", now) == (
        "invalid_value"
    )


# --- the one change ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("attribute", "typed", "stored", "old"),
    [
        ("gemstone", " Ruby ", "ruby", "sapphire"),
        ("metal", "ROSE   gold", "rose gold", "white gold"),
        ("ring_size", "7", "7", "6"),
        ("ring_size", "7.0", "7", "6"),
        ("ring size", "6.50", "6.5", "6"),
        ("Ring-Size", "13.0", "13", "6"),
    ],
)
def test_change_normalises_into_the_catalogue(
    attribute: str, typed: str, stored: str, old: str
) -> None:
    plan = rules.check_change(IN_PRODUCTION, 1, attribute, typed)
    assert (plan.new_value, plan.old_value, plan.item_id) == (stored, old, 1)


@pytest.mark.parametrize("status", [OrderStatus.AWAITING_PAYMENT, OrderStatus.IN_PRODUCTION])
def test_change_allowed_before_shipping(status: OrderStatus) -> None:
    plan = rules.check_change(replace(IN_PRODUCTION, status=status), 1, "metal", "platinum")
    assert plan.attribute is ChangeAttribute.METAL


@pytest.mark.parametrize(
    ("order", "reason"),
    [
        (replace(IN_PRODUCTION, change_used=True), "change_already_used"),
        (replace(IN_PRODUCTION, status=OrderStatus.SHIPPED, shipped_at=SHIPPED), "order_shipped"),
        (DELIVERED, "order_shipped"),
        (replace(IN_PRODUCTION, status=OrderStatus.CANCELLED), "order_cancelled"),
    ],
)
def test_change_refused_by_the_order(order: OrderFacts, reason: str) -> None:
    assert reason_of(rules.check_change, order, 1, "metal", "platinum") == reason


def test_change_refusals_about_the_request() -> None:
    assert reason_of(rules.check_change, IN_PRODUCTION, 7, "metal", "platinum") == "unknown_item"
    with pytest.raises(Refused) as info:
        rules.check_change(IN_PRODUCTION, 1, "engraving", "A+B")
    assert info.value.reason == "invalid_attribute"
    assert info.value.extra["allowed"] == ["gemstone", "metal", "ring_size"]
    for attribute, catalogue in (("gemstone", GEMSTONES), ("metal", METALS)):
        with pytest.raises(Refused) as info:
            rules.check_change(IN_PRODUCTION, 1, attribute, "unobtainium")
        assert info.value.reason == "invalid_value"
        assert info.value.extra["allowed"] == list(catalogue)
    # the same value as now would waste the one change
    assert reason_of(rules.check_change, IN_PRODUCTION, 1, "gemstone", "Sapphire") == (
        "invalid_value"
    )


def test_ring_size_change_of_an_item_without_one() -> None:
    order = replace(IN_PRODUCTION, items=(PENDANT,))
    with pytest.raises(Refused) as info:
        rules.check_change(order, 2, "ring_size", "6")
    assert info.value.reason == "invalid_attribute"
    assert info.value.extra["allowed"] == ["gemstone", "metal"]


# --- cancel -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "allowed"),
    [
        (OrderStatus.AWAITING_PAYMENT, True),
        (OrderStatus.IN_PRODUCTION, True),
        (OrderStatus.SHIPPED, False),
        (OrderStatus.DELIVERED, False),
        (OrderStatus.CANCELLED, False),
    ],
)
def test_cancel_only_before_shipping(status: OrderStatus, allowed: bool) -> None:
    order = replace(IN_PRODUCTION, status=status)
    assert rules.is_cancellable(order) is allowed
    if allowed:
        rules.check_cancel(order)
    else:
        assert reason_of(rules.check_cancel, order) == "not_cancellable"


# --- crafting ETA and flags ---------------------------------------------------------------


def test_crafting_eta_is_three_to_five_weeks_from_the_order() -> None:
    assert rules.crafting_eta(IN_PRODUCTION) == (date(2026, 9, 22), date(2026, 10, 6))
    assert rules.crafting_eta(DELIVERED) is None
    assert rules.crafting_eta(replace(IN_PRODUCTION, status=OrderStatus.CANCELLED)) is None


@pytest.mark.parametrize(("paid", "has_eta"), [(0, False), (1, False), (2, True), (3, True)])
def test_in_house_finance_is_crafted_once_half_is_paid(paid: int, has_eta: bool) -> None:
    order = replace(
        IN_PRODUCTION,
        status=OrderStatus.AWAITING_PAYMENT,
        payment_method=PaymentMethod.IN_HOUSE,
        parts_total=3,
        parts_paid=paid,
    )
    assert (rules.crafting_eta(order) is not None) is has_eta


def test_changeable_flag() -> None:
    assert rules.is_changeable(IN_PRODUCTION)
    assert not rules.is_changeable(replace(IN_PRODUCTION, change_used=True))
    assert not rules.is_changeable(DELIVERED)


# --- normalisation --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "number"),
    [
        ("KNT-1001", "KNT-1001"),
        ("knt1001", "KNT-1001"),
        ("1001", "KNT-1001"),
        ("#1001", "KNT-1001"),
        ("  knt 1001 ", "KNT-1001"),
        ("KNT#1001", "KNT-1001"),
        ("KNT-100", None),
        ("order 1001 please", None),
        ("KNT-1001; drop table", None),
        ("", None),
    ],
)
def test_order_number_normalisation(typed: str, number: str | None) -> None:
    assert normalize.order_number(typed) == number


def test_every_catalogue_size_normalises_to_itself() -> None:
    assert all(normalize.ring_size(size) == size for size in RING_SIZES)
    assert normalize.ring_size("7.00") == "7"
    assert normalize.ring_size("7½") == "7.5"
    assert normalize.ring_size("nan") == "nan"
