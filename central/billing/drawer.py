"""The office cashier's own cash drawer: opened with a float counted by denomination, closed with the cash
counted again against what the payments and refunds say it should hold, and the takings sealed into a numbered
cash bag (投包)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from central.audit import record_change, snapshot
from central.billing.errors import BillingError
from central.billing.numbering import take_numbers
from central.core.db import utcnow
from central.models import Drawer, DrawerBag, Payment, Refund, User
from central.renewal import OPERATOR_ZONE
from parking.shift_report import CashCount

# Notes and coins in circulation, in minor units; a count naming anything else is refused.
DENOMINATIONS: dict[str, frozenset[int]] = {
    "CNY": frozenset({10000, 5000, 2000, 1000, 500, 100, 50, 10, 5, 1}),
    "EUR": frozenset({50000, 20000, 10000, 5000, 2000, 1000, 500, 200, 100, 50, 20, 10, 5, 2, 1}),
}


def check_count(count: CashCount) -> None:
    known = DENOMINATIONS.get(count.currency)
    if known is None:
        raise BillingError("drawer.currency", f"no denominations known for {count.currency}", status=422)
    bad = sorted({line.denomination for line in count.lines} - known)
    if bad:
        raise BillingError("drawer.bad_denomination", f"not a {count.currency} note or coin: {bad}", status=422)


def open_drawer_of(session: Session, cashier: User) -> Drawer:
    """The cashier's open drawer; cash cannot be taken without one."""
    drawer = session.scalars(select(Drawer).where(Drawer.cashier_id == cashier.id, Drawer.status == "open")).first()
    if drawer is None:
        raise BillingError("drawer.not_open", f"{cashier.username} has no open cash drawer: open one first")
    return drawer


def open_drawer(session: Session, cashier: User, count: CashCount) -> Drawer:
    """Open the cashier's drawer with the float as counted."""
    check_count(count)
    if session.scalars(select(Drawer.id).where(Drawer.cashier_id == cashier.id, Drawer.status == "open")).first():
        raise BillingError("drawer.already_open", f"{cashier.username} already has an open drawer")
    drawer = Drawer(
        cashier_id=cashier.id,
        currency=count.currency,
        status="open",
        opened_at=utcnow(),
        float_minor=count.total,
        opening_count=count.model_dump(mode="json"),
    )
    session.add(drawer)
    session.flush()
    record_change(session, cashier, "drawer.open", "cash_drawer", drawer.id, None, snapshot(drawer))
    return drawer


def expected_cash(session: Session, drawer: Drawer) -> int:
    """The float plus cash taken less cash refunded through this drawer."""
    taken = session.scalar(
        select(func.coalesce(func.sum(Payment.amount_minor), 0)).where(Payment.drawer_id == drawer.id)
    )
    paid_out = session.scalar(
        select(func.coalesce(func.sum(Refund.amount_minor), 0)).where(
            Refund.drawer_id == drawer.id, Refund.status == "paid"
        )
    )
    return drawer.float_minor + int(taken or 0) - int(paid_out or 0)


def close_drawer(session: Session, cashier: User, count: CashCount, keep_float_minor: int = 0) -> DrawerBag:
    """Close the drawer with the cash counted; everything but ``keep_float_minor`` goes into the next bag."""
    check_count(count)
    drawer = open_drawer_of(session, cashier)
    if count.currency != drawer.currency:
        raise BillingError("drawer.currency", f"the drawer holds {drawer.currency}, counted {count.currency}")
    if not 0 <= keep_float_minor <= count.total:
        raise BillingError("drawer.bad_float", "the float kept must be between 0 and the cash counted", status=422)
    before = snapshot(drawer)
    now = utcnow()
    drawer.expected_minor = expected_cash(session, drawer)
    drawer.counted_minor = count.total
    drawer.difference_minor = count.total - drawer.expected_minor
    drawer.closing_count, drawer.closed_at, drawer.status = count.model_dump(mode="json"), now, "closed"
    year = now.astimezone(OPERATOR_ZONE).year
    seq = take_numbers(session, "bag", "office", year)
    bag = DrawerBag(
        number=f"BAG-{year}-{seq:05d}",
        drawer_id=drawer.id,
        amount_minor=count.total - keep_float_minor,
        currency=count.currency,
        count=count.model_dump(mode="json"),
        sealed_at=now,
        sealed_by=cashier.id,
    )
    session.add(bag)
    session.flush()
    record_change(session, cashier, "drawer.close", "cash_drawer", drawer.id, before, snapshot(drawer))
    record_change(session, cashier, "bag.seal", "cash_bag", bag.number, None, snapshot(bag))
    return bag
