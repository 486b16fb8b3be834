"""Pass income from billing, by local day: what was billed (the pass sales' and renewals' invoices issued), the
money received for them (payments, by the day received) and the refunds paid out (by the day paid).

Collected is received less refunded. A payment from the account's credit (``credit``) is not money received: the
overpayment it comes from was counted the day it was received. A plan valid at several car parks counts at each
of them (for every car park, once); a plan valid everywhere counts at every car park.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from central.models import Invoice, MonthlyPass, PassPlan, Payment, Refund
from central.reports.tables import Period

PASS_INVOICES = ("pass_sale", "pass_renewal")
FROM_CREDIT = "credit"


@dataclass
class PassIncome:
    billed: dict[date, int] = field(default_factory=dict)
    received: dict[date, int] = field(default_factory=dict)
    refunded: dict[date, int] = field(default_factory=dict)

    def collected(self, day: date) -> int:
        return self.received.get(day, 0) - self.refunded.get(day, 0)

    @property
    def days(self) -> list[date]:
        return sorted(set(self.billed) | set(self.received) | set(self.refunded))

    def total(self, figure: str) -> int:
        if figure == "collected":
            return self.total("received") - self.total("refunded")
        by_day: dict[date, int] = getattr(self, figure)
        return sum(by_day.values())


def _by_day(session: Session, query: Select[Any], car_park: str, zone: tzinfo) -> dict[date, int]:
    found: dict[date, int] = defaultdict(int)
    for when, amount, car_parks in session.execute(query):
        if not car_park or not car_parks or car_park in car_parks:
            found[when.astimezone(zone).date()] += int(amount)
    return dict(found)


def _of_passes(at: Any, amount: Any, joined: Any, start: datetime, end: datetime, currency: str) -> Select[Any]:
    """``at`` and ``amount`` of the rows of a pass's invoice (joined on ``joined``) in ``[start, end)``, with the
    car parks of the pass's plan."""
    query = select(at, amount, PassPlan.car_parks).select_from(at.class_)
    if joined is not None:
        query = query.join(Invoice, Invoice.id == joined)
    return (
        query.join(MonthlyPass, MonthlyPass.id == Invoice.pass_id).join(PassPlan, PassPlan.id == MonthlyPass.plan_id)
        .where(Invoice.kind.in_(PASS_INVOICES), Invoice.currency == currency, at >= start, at < end)
    )  # fmt: skip


def pass_income(session: Session, car_park: str, period: Period, currency: str, zone: tzinfo) -> PassIncome:
    """The pass income of ``car_park`` (empty: every car park) over ``period`` in ``currency``, by local day."""
    start, end = period.bounds(zone)
    billed = _of_passes(Invoice.issued_at, Invoice.total_minor, None, start, end, currency)
    received = _of_passes(Payment.received_at, Payment.amount_minor, Payment.invoice_id, start, end, currency)
    refunded = _of_passes(Refund.paid_at, Refund.amount_minor, Refund.invoice_id, start, end, currency)
    return PassIncome(
        _by_day(session, billed.where(Invoice.status != "void"), car_park, zone),
        _by_day(session, received.where(Payment.method != FROM_CREDIT), car_park, zone),
        _by_day(session, refunded.where(Refund.status == "paid"), car_park, zone),
    )
