"""The supervisor's review of a shift: sign it off or flag it, with a note, audited with before and after.

Separation of duties: whoever worked the shift (opened it, took any of its payments, closed it) can never sign it off
nor flag it. A decision never hides a difference: the findings are recomputed on every read, and records that
arrive after the decision send the shift back to review.
"""

from __future__ import annotations

import logging
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from central.audit import record_change, snapshot
from central.models import CarPark, MoneyRecord, ShiftReview, User
from central.reconciliation.checks import ShiftResult
from central.reconciliation.findings import ReconcileSettings
from central.reconciliation.loader import DayResult, reconcile_day

_LOGGER = logging.getLogger(__name__)
DECISIONS = ("signed_off", "flagged")


class ReconciliationError(Exception):
    """A refused reconciliation action: ``status`` (HTTP), a stable ``code`` and what is wrong."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def shift_day(session: Session, shift_id: str) -> tuple[str, date]:
    """The car park and local day a shift belongs to (the day it opened)."""
    row = session.execute(
        select(MoneyRecord.car_park, MoneyRecord.at)
        .where(MoneyRecord.shift == shift_id, MoneyRecord.kind == "shift", MoneyRecord.event == "opened")
        .limit(1)
    ).first()  # fmt: skip
    if row is None:
        raise ReconciliationError(404, "shift.not_found", f"central holds no opening of shift {shift_id!r}")
    car_park, at = row
    park = session.get(CarPark, car_park)
    zone = ZoneInfo(park.timezone if park is not None else "Asia/Shanghai")
    return car_park, at.astimezone(zone).date()


def reconcile_one(
    session: Session, shift_id: str, settings: ReconcileSettings, now: datetime
) -> tuple[DayResult, ShiftResult]:
    """One shift's reconciliation, within its day (peers are the day's other collectors)."""
    car_park, day = shift_day(session, shift_id)
    result = reconcile_day(session, car_park, day, settings, now)
    for shift in result.shifts:
        if shift.shift == shift_id:
            return result, shift
    raise ReconciliationError(404, "shift.not_found", f"shift {shift_id!r} is not in {car_park} on {day}")


def decide(
    session: Session, user: User, shift_id: str, decision: str, note: str, settings: ReconcileSettings, now: datetime
) -> ShiftResult:
    """Sign off or flag a shift (the caller commits). Refuses a shift without a report, one the user worked, a flag
    without a note, and a sign-off of a shift with exceptions without a note."""
    if decision not in DECISIONS:
        raise ValueError(f"decision {decision!r}")
    _day, shift = reconcile_one(session, shift_id, settings, now)
    if shift.state == "awaiting_report":
        raise ReconciliationError(409, "review.awaiting_report", f"shift {shift_id} has no closing report yet")
    if user.username in shift.operators:
        raise ReconciliationError(
            403, "review.own_shift", f"{user.username} worked shift {shift_id}: another supervisor must review it"
        )
    note = note.strip()
    if not note and (decision == "flagged" or shift.exceptions):
        raise ReconciliationError(
            422, "review.note_required", f"say why: shift {shift_id} has {len(shift.exceptions)} exceptions"
            if decision == "signed_off" else "a flag needs a note",
        )  # fmt: skip
    review = session.get(ShiftReview, shift_id)
    before = snapshot(review) if review is not None else None
    if review is None:
        review = ShiftReview(shift=shift_id, car_park=shift.car_park, first_decided_at=now)
        session.add(review)
    review.state, review.note, review.decided_by, review.decided_at = decision, note, user.username, now
    review.exceptions = len(shift.exceptions)
    session.flush()
    action = "shift.sign_off" if decision == "signed_off" else "shift.flag"
    record_change(session, user, action, "shift", shift_id, before, snapshot(review))
    _LOGGER.info("%s %s shift %s with %d exceptions", user.username, decision, shift_id, len(shift.exceptions))
    _day, shift = reconcile_one(session, shift_id, settings, now)
    return shift
