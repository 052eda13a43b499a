"""The demo orders of DESIGN.md, dated relative to `today`, written only into an empty database."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.orders import repository
from bot.orders.db import take_advisory_lock
from bot.orders.domain import ActorKind, Caller
from bot.orders.models import ChangeRequest, Customer, Item, Order, Payment, Shipment

SEED_CALLER = Caller(kind=ActorKind.ADMIN, actor="seed")


@dataclass(frozen=True)
class SeedResult:
    seeded: bool
    orders: list[str] = field(default_factory=list)

    @property
    def message(self) -> str:
        if self.seeded:
            return f"seeded {len(self.orders)} demo orders: {', '.join(self.orders)}"
        return "the database already has orders: nothing seeded"


def _days_ago(today: date, days: int, hour: int = 12) -> datetime:
    return datetime.combine(today - timedelta(days=days), time(hour, 0), tzinfo=UTC)


def _order(
    number: str,
    email: str,
    name: str,
    status: str,
    placed_at: datetime,
    item: Item,
    payment: Payment,
    shipment: Shipment | None = None,
) -> Order:
    return Order(
        order_number=number,
        customer=Customer(email=email, name=name, created_at=placed_at),
        status=status,
        placed_at=placed_at,
        items=[item],
        payment=payment,
        shipment=shipment,
    )


def demo_orders(today: date) -> list[Order]:
    ava = _order(
        "KNT-1001",
        "ava@example.com",
        "Ava Thompson",
        "in_production",
        _days_ago(today, 5),
        Item(
            product="Sapphire Halo Engagement Ring",
            gemstone="sapphire",
            metal="white gold",
            ring_size="6",
        ),
        Payment(method="card"),
    )
    ben = _order(
        "KNT-1002",
        "ben@example.com",
        "Ben Carter",
        "delivered",
        _days_ago(today, 38),
        Item(
            product="Classic Diamond Solitaire Ring",
            gemstone="diamond",
            metal="yellow gold",
            ring_size="7",
        ),
        Payment(method="bnpl", provider="Klarna"),
        Shipment(
            carrier="FedEx",
            tracking_number="771234560012",
            shipped_at=_days_ago(today, 10, hour=16),
            delivered_at=_days_ago(today, 7, hour=14),
        ),
    )
    cara = _order(
        "KNT-1003",
        "cara@example.com",
        "Cara Nguyen",
        "delivered",
        _days_ago(today, 75),
        Item(
            product="Emerald Eternity Band",
            gemstone="emerald",
            metal="platinum",
            ring_size="5.5",
        ),
        Payment(method="card"),
        Shipment(
            carrier="FedEx",
            tracking_number="771234560029",
            shipped_at=_days_ago(today, 45, hour=16),
            delivered_at=_days_ago(today, 42, hour=11),
        ),
    )
    dan = _order(
        "KNT-1004",
        "dan@example.com",
        "Dan Okafor",
        "in_production",
        _days_ago(today, 9),
        Item(
            product="Ruby Three-Stone Ring",
            gemstone="ruby",
            metal="rose gold",
            ring_size="8.5",
        ),
        Payment(method="bnpl", provider="Afterpay"),
    )
    eve = _order(
        "KNT-1005",
        "eve@example.com",
        "Eve Laurent",
        "awaiting_payment",
        _days_ago(today, 3),
        Item(
            product="Aquamarine Solitaire Pendant",
            gemstone="aquamarine",
            metal="rose gold",
            ring_size=None,
        ),
        Payment(method="in_house", parts_total=3, parts_paid=1),
    )
    return [ava, ben, cara, dan, eve]


def _dans_change(dan: Order, today: date) -> ChangeRequest:
    """KNT-1004 used its one change: ring size 8 -> 8.5, already applied to the item."""
    return ChangeRequest(
        request_number="CHG-SEED1004",
        order=dan,
        item_id=dan.items[0].id,
        attribute="ring_size",
        old_value="8",
        new_value="8.5",
        status="applied",
        created_at=_days_ago(today, 7),
        idempotency_key="seed-KNT-1004-change",
        request_hash=repository.fingerprint("seed", {"order_number": dan.order_number}),
    )


def seed(session_factory: Callable[[], Session], today: date) -> SeedResult:
    """Write the demo orders if the database has no orders at all; say what was done."""
    try:
        with session_factory() as session, session.begin():
            take_advisory_lock(session)
            if session.scalar(select(func.count()).select_from(Order)):
                return SeedResult(seeded=False)
            orders = demo_orders(today)
            session.add_all(orders)
            session.flush()
            session.add(_dans_change(orders[3], today))
            now = datetime.now(UTC)
            for order in orders:
                repository.audit(
                    session,
                    when=now,
                    action="order.seeded",
                    order_number=order.order_number,
                    caller=SEED_CALLER,
                    details={"status": order.status, "placed_at": order.placed_at.isoformat()},
                )
            return SeedResult(seeded=True, orders=[o.order_number for o in orders])
    except IntegrityError:
        # Another process seeded between our count and our insert (SQLite, deferred begin).
        return SeedResult(seeded=False)
