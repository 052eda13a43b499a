"""What the API does, one method per endpoint: prove ownership, apply the rules, write.

Every ownership check goes through the guessing guard (`guessing.py`) first. Every create
runs in one write transaction: find the order (locking its row), replay the record
already created under the same idempotency key (or refuse a reused key), check the
rules, insert, audit, and commit before the caller's deadline. A concurrent twin that
collides on a unique constraint starts over and then finds the winner's record (see
`Database.write`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

from sqlalchemy.orm import Session

from bot.orders import normalize, repository, rules, views
from bot.orders.db import Database
from bot.orders.domain import (
    Caller,
    ChangeStatus,
    NotFound,
    OrderStatus,
    ReturnKind,
    ReturnStatus,
    key_reused,
)
from bot.orders.guessing import GuessingGuard
from bot.orders.models import Cancellation, ChangeRequest, Order, ReturnRequest
from bot.orders.repository import Keyed
from bot.orders.schemas import (
    CancelCreate,
    Cancelled,
    ChangeCreate,
    ChangeCreated,
    OrderNumberOnly,
    OrderView,
    OwnerProof,
    ReturnCreate,
    ReturnCreated,
    StaffOrderView,
)

Clock = Callable[[], datetime]
View = TypeVar("View")


def _replay(
    session: Session, model: type[Keyed], key: str, digest: str, view: Callable[[Keyed], View]
) -> View | None:
    """The answer already given for this idempotency key, or None for a new request.

    The same key with a different body is refused rather than answered with the old record.
    """
    earlier = repository.by_idempotency_key(session, model, key)
    if earlier is None:
        return None
    if earlier.request_hash != digest:
        raise key_reused()
    return view(earlier)


def _owner_fields(proof: OwnerProof) -> dict[str, str | None]:
    return {
        "order_number": normalize.order_number(proof.order_number),
        "email": normalize.email(proof.email),
    }


class OrderService:
    def __init__(
        self, db: Database, clock: Clock, guard: GuessingGuard, policy: rules.Policy = rules.POLICY
    ) -> None:
        self.db = db
        self.clock = clock
        self.guard = guard
        self.policy = policy

    # --- reads -------------------------------------------------------------------------

    def verify(self, proof: OwnerProof, caller: Caller) -> str | None:
        """The normalised order number when the e-mail is the order's, else None."""
        return self.guard.owner_check(proof.order_number, proof.email, caller, "verify")

    def lookup(self, proof: OwnerProof, caller: Caller) -> OrderView:
        if self.guard.owner_check(proof.order_number, proof.email, caller, "lookup") is None:
            raise NotFound()
        with self.db.read() as session:
            order = repository.owned_order(session, proof.order_number, proof.email)
            if order is None:
                raise NotFound()
            return views.order_view(order, self.clock(), self.policy)

    def describe(self, body: OrderNumberOnly) -> StaffOrderView:
        """An order by its number alone, for the store's staff (the gateway's console)."""
        with self.db.read() as session:
            order = repository.order_by_number(session, body.order_number)
            if order is None:
                raise NotFound()
            return views.staff_order_view(order, self.clock(), self.policy)

    def audit_view(self, order_number: str, caller: Caller) -> None:
        """Write down that `caller` looked at the order (no e-mail proof guards that look)."""
        now = self.clock()

        def write(session: Session) -> None:
            repository.audit(
                session,
                when=now,
                action="staff_view",
                order_number=order_number,
                caller=caller,
                details={},
            )

        self.db.write(write)

    # --- writes ------------------------------------------------------------------------

    def _locked_order(self, session: Session, proof: OwnerProof) -> Order:
        order = repository.owned_order(session, proof.order_number, proof.email, for_update=True)
        if order is None:
            raise NotFound()
        return order

    def _create(
        self,
        request: ReturnCreate | ChangeCreate | CancelCreate,
        model: type[Keyed],
        digest: str,
        view: Callable[[Keyed], View],
        make: Callable[[Order, datetime], tuple[Keyed, str, dict[str, object]]],
        caller: Caller,
        route: str,
    ) -> tuple[View, bool]:
        """The one shape of every create: the guessing guard's ownership check, then one
        write transaction: lock the order, replay the idempotency key, then `make` (the
        rules and the record, with the audit action and details), insert, audit, commit
        before the caller's deadline. (the record, True) when created now; (the earlier
        one, False) on a replay."""

        def step(session: Session) -> tuple[View, bool]:
            order = self._locked_order(session, request)
            replayed = _replay(session, model, request.idempotency_key, digest, view)
            if replayed is not None:
                return replayed, False
            now = self.clock()
            record, action, details = make(order, now)
            record.idempotency_key = request.idempotency_key
            record.request_hash = digest
            session.add(record)
            repository.audit(
                session,
                when=now,
                action=action,
                order_number=order.order_number,
                caller=caller,
                details={**details, "idempotency_key": request.idempotency_key},
            )
            session.flush()
            return view(record), True

        # A repeat of a request already written (the same key and body, so the same proof
        # of ownership) is answered before the guessing guard: a client asking again after
        # a timeout must hear "done" even if the address was locked meanwhile.
        with self.db.read() as session:
            replayed = _replay(session, model, request.idempotency_key, digest, view)
        if replayed is not None:
            return replayed, False
        if self.guard.owner_check(request.order_number, request.email, caller, route) is None:
            raise NotFound()
        return self.db.write(step, deadline=caller.deadline)

    def create_return(self, request: ReturnCreate, caller: Caller) -> tuple[ReturnCreated, bool]:
        digest = repository.fingerprint(
            "return",
            {
                **_owner_fields(request),
                "item_id": request.item_id,
                "kind": request.kind,
                "reason": request.reason,
                "exchange_size": normalize.ring_size(request.exchange_size)
                if request.exchange_size
                else None,
            },
        )

        def make(order: Order, now: datetime) -> tuple[ReturnRequest, str, dict[str, object]]:
            plan = rules.check_return(
                repository.facts_of(order),
                request.item_id,
                ReturnKind(request.kind),
                request.exchange_size,
                now,
                self.policy,
            )
            record = ReturnRequest(
                rma_number=repository.new_number("RMA"),
                order=order,
                item_id=plan.item_id,
                kind=plan.kind.value,
                reason=request.reason,
                exchange_size=plan.exchange_size,
                status=ReturnStatus.OPEN.value,
                created_at=now,
            )
            return (
                record,
                f"{plan.kind.value}.requested",
                {
                    "rma_number": record.rma_number,
                    "item_id": plan.item_id,
                    "kind": plan.kind.value,
                    "exchange_size": plan.exchange_size,
                },
            )

        return self._create(
            request,
            ReturnRequest,
            digest,
            lambda record: views.return_created(record, self.policy),
            make,
            caller,
            "returns",
        )

    def create_change(self, request: ChangeCreate, caller: Caller) -> tuple[ChangeCreated, bool]:
        attribute = rules.parse_attribute(request.attribute)
        digest = repository.fingerprint(
            "change",
            {
                **_owner_fields(request),
                "item_id": request.item_id,
                "attribute": attribute.value if attribute else normalize.value(request.attribute),
                "new_value": normalize.ring_size(request.new_value)
                if attribute is not None and attribute.value == "ring_size"
                else normalize.value(request.new_value),
            },
        )

        def make(order: Order, now: datetime) -> tuple[ChangeRequest, str, dict[str, object]]:
            plan = rules.check_change(
                repository.facts_of(order), request.item_id, request.attribute, request.new_value
            )
            record = ChangeRequest(
                request_number=repository.new_number("CHG"),
                order=order,
                item_id=plan.item_id,
                attribute=plan.attribute.value,
                old_value=plan.old_value,
                new_value=plan.new_value,
                status=ChangeStatus.REQUESTED.value,
                created_at=now,
            )
            return (
                record,
                "change.requested",
                {
                    "request_number": record.request_number,
                    "item_id": plan.item_id,
                    "attribute": plan.attribute.value,
                    "old_value": plan.old_value,
                    "new_value": plan.new_value,
                },
            )

        return self._create(
            request, ChangeRequest, digest, views.change_created, make, caller, "changes"
        )

    def cancel(self, request: CancelCreate, caller: Caller) -> tuple[Cancelled, bool]:
        digest = repository.fingerprint("cancel", _owner_fields(request))

        def make(order: Order, now: datetime) -> tuple[Cancellation, str, dict[str, object]]:
            rules.check_cancel(repository.facts_of(order), self.policy)
            record = Cancellation(
                cancellation_number=repository.new_number("CXL"),
                order=order,
                previous_status=order.status,
                created_at=now,
            )
            order.status = OrderStatus.CANCELLED.value
            return (
                record,
                "order.cancelled",
                {
                    "cancellation_number": record.cancellation_number,
                    "previous_status": record.previous_status,
                },
            )

        return self._create(request, Cancellation, digest, views.cancelled, make, caller, "cancel")
