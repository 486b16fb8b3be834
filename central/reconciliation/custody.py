"""A cash bag's custody after its drop at the booth (投包): picked up at the booth by a cashier with a witness (取包),
counted at the office against the amount declared at the drop, deposited at the bank with the deposit slip's
reference (银行进账单). Each step says who and when, follows the one before, and is audited with before and after.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from central.audit import record_change, snapshot
from central.models import CashBag, MoneyRecord, User
from central.reconciliation.review import ReconciliationError

_LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Drop:
    record_id: str
    shift: str | None
    currency: str
    amount: int
    at: datetime


def find_drop(session: Session, car_park: str, bag: str) -> Drop:
    """The journal's drop of ``bag`` at ``car_park`` (the latest if a number was reused), or 404."""
    row = session.execute(
        select(MoneyRecord.record_id, MoneyRecord.shift, MoneyRecord.currency, MoneyRecord.amount, MoneyRecord.at)
        .where(MoneyRecord.car_park == car_park, MoneyRecord.kind == "shift", MoneyRecord.event == "cash_drop",
               MoneyRecord.bag == bag)
        .order_by(MoneyRecord.at.desc()).limit(1)
    ).first()  # fmt: skip
    if row is None:
        raise ReconciliationError(404, "bag.not_found", f"no cash drop of bag {bag!r} at car park {car_park!r}")
    return Drop(row[0], row[1], row[2], row[3] or 0, row[4])


def _when(at: datetime | None, after: datetime | None, now: datetime, step: str) -> datetime:
    moment = at or now
    if moment > now:
        raise ReconciliationError(422, "bag.step_in_future", f"the {step} cannot be recorded in the future")
    if after is not None and moment < after:
        raise ReconciliationError(422, "bag.step_out_of_order",
                                  f"the {step} at {moment.isoformat()} is before the step before it")  # fmt: skip
    return moment


def pick_up(
    session: Session, user: User, car_park: str, bag: str, witnessed_by: str, at: datetime | None, now: datetime
) -> CashBag:
    """The cashier picked the sealed bag up at the booth, witnessed by ``witnessed_by`` (never the cashier)."""
    drop = find_drop(session, car_park, bag)
    witness = witnessed_by.strip()
    if not witness:
        raise ReconciliationError(422, "bag.witness_required", "a bag pick-up needs a witness")
    if witness == user.username:
        raise ReconciliationError(422, "bag.witness_is_cashier", "the witness cannot be the cashier who picks up")
    custody = session.scalars(select(CashBag).where(CashBag.car_park == car_park, CashBag.bag == bag)).first()
    if custody is not None and custody.drop_record == drop.record_id and custody.picked_up_at is not None:
        raise ReconciliationError(409, "bag.already_picked_up", f"bag {bag} was picked up already")
    before = snapshot(custody) if custody is not None else None
    if custody is None:
        custody = CashBag(car_park=car_park, bag=bag)
        session.add(custody)
    custody.drop_record, custody.shift, custody.currency = drop.record_id, drop.shift, drop.currency
    custody.declared, custody.dropped_at = drop.amount, drop.at
    custody.picked_up_at = _when(at, drop.at, now, "pick-up")
    custody.picked_up_by, custody.witnessed_by = user.username, witness
    custody.counted_at = custody.counted_by = custody.counted = None
    custody.deposited_at = custody.deposited_by = custody.deposit_slip = None
    session.flush()
    record_change(session, user, "bag.pick_up", "cash_bag", f"{car_park}/{bag}", before, snapshot(custody))
    return custody


def _custody(session: Session, car_park: str, bag: str) -> CashBag:
    find_drop(session, car_park, bag)
    custody = session.scalars(select(CashBag).where(CashBag.car_park == car_park, CashBag.bag == bag)).first()
    if custody is None or custody.picked_up_at is None:
        raise ReconciliationError(409, "bag.not_picked_up", f"bag {bag} has not been picked up")
    return custody


def count(
    session: Session,
    user: User,
    car_park: str,
    bag: str,
    counted: int,
    at: datetime | None,
    now: datetime,
    *,
    denominations: dict[str, int] | None = None,
    reason: str | None = None,
) -> CashBag:
    """The bag opened and counted at the office; ``counted`` (minor units) stands beside the declared amount. The
    notes and coins counted (``denominations``: face value in minor units → pieces) and why a count differs from the
    declared amount (``reason``) are kept in the audit log with the count."""
    custody = _custody(session, car_park, bag)
    if custody.counted_at is not None:
        raise ReconciliationError(409, "bag.already_counted", f"bag {bag} was counted already")
    before = snapshot(custody)
    custody.counted_at = _when(at, custody.picked_up_at, now, "count")
    custody.counted_by, custody.counted = user.username, counted
    session.flush()
    after = snapshot(custody) | ({"denominations": denominations} if denominations else {})
    record_change(session, user, "bag.count", "cash_bag", f"{car_park}/{bag}", before, after, reason=reason or None)
    if counted != custody.declared:
        _LOGGER.warning("bag %s/%s: declared %s, counted %s", car_park, bag, custody.declared, counted)
    return custody


def deposit(
    session: Session, user: User, car_park: str, bag: str, slip: str, at: datetime | None, now: datetime
) -> CashBag:
    """The bag's cash deposited at the bank: the deposit slip's reference (银行进账单) is required."""
    custody = _custody(session, car_park, bag)
    if custody.counted_at is None:
        raise ReconciliationError(409, "bag.not_counted", f"bag {bag} has not been counted")
    if custody.deposited_at is not None:
        raise ReconciliationError(409, "bag.already_deposited", f"bag {bag} was deposited already")
    if not slip.strip():
        raise ReconciliationError(422, "bag.slip_required", "give the bank deposit slip's reference")
    before = snapshot(custody)
    custody.deposited_at = _when(at, custody.counted_at, now, "deposit")
    custody.deposited_by, custody.deposit_slip = user.username, slip.strip()
    session.flush()
    record_change(session, user, "bag.deposit", "cash_bag", f"{car_park}/{bag}", before, snapshot(custody))
    return custody


def bag_lines(session: Session, car_park: str, limit: int = 500) -> list[dict[str, Any]]:
    """The car park's drops, newest first, each with its custody so far."""
    drops = session.execute(
        select(MoneyRecord.record_id, MoneyRecord.bag, MoneyRecord.shift, MoneyRecord.amount, MoneyRecord.currency,
               MoneyRecord.at, MoneyRecord.operator)
        .where(MoneyRecord.car_park == car_park, MoneyRecord.kind == "shift", MoneyRecord.event == "cash_drop")
        .order_by(MoneyRecord.at.desc()).limit(limit)
    ).all()  # fmt: skip
    custody = {b.bag: b for b in session.scalars(select(CashBag).where(CashBag.car_park == car_park))}
    lines = []
    for record_id, bag, shift, amount, currency, at, operator in drops:
        line: dict[str, Any] = {"bag": bag, "shift": shift, "declared": amount, "currency": currency,
                                "dropped_at": at, "dropped_by": operator, "state": "dropped"}  # fmt: skip
        c = custody.get(str(bag))
        if c is not None and c.drop_record == record_id:
            line |= {k: getattr(c, k) for k in ("picked_up_at", "picked_up_by", "witnessed_by", "counted_at",
                                                 "counted_by", "counted", "deposited_at", "deposited_by",
                                                 "deposit_slip")}  # fmt: skip
            line["state"] = "deposited" if c.deposited_at else "counted" if c.counted_at else "picked_up"
        lines.append(line)
    return lines
