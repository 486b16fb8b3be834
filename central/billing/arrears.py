"""The arrears ledger (欠费台账): what each holder owes per unit and since when, aged 0–30 / 31–60 / 61–90 / over
90 days past the due date; the dunning list (催缴) with the holder's contact; and the suspension of passes overdue
past their plan's grace (edges learn it at the next sync: the lane says the pass is suspended)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from central.audit import record_change, snapshot
from central.core.db import utcnow
from central.models import Holder, Invoice, MonthlyPass, PassHold, PlanBillingRule, Unit, User
from central.publication import publish_pass, unit_label
from parking.wire import PassStatus

BUCKETS = ("0-30", "31-60", "61-90", "90+")


def bucket(days: int) -> str:
    """The ageing bucket of an amount ``days`` past its due date."""
    return BUCKETS[0] if days <= 30 else BUCKETS[1] if days <= 60 else BUCKETS[2] if days <= 90 else BUCKETS[3]


@dataclass
class ArrearsRow:
    holder_id: int
    holder: str
    unit: str | None
    phone: str
    email: str
    currency: str
    owed_minor: int
    owed_since: datetime
    invoices: list[str]
    aged: dict[str, int] = field(default_factory=lambda: dict.fromkeys(BUCKETS, 0))


def arrears_ledger(session: Session, now: datetime | None = None) -> list[ArrearsRow]:
    """Holders with open invoices past due, the oldest debt first."""
    now = now or utcnow()
    rows: dict[tuple[int, str, str], ArrearsRow] = {}
    query = (
        select(Invoice, Holder, Unit)
        .join(Holder, Holder.id == Invoice.holder_id)
        .outerjoin(Unit, Unit.id == Holder.unit_id)
        .where(Invoice.status == "open", Invoice.due_at < now, Invoice.total_minor > Invoice.paid_minor)
        .order_by(Invoice.due_at, Invoice.id)
    )
    for invoice, holder, unit in session.execute(query):
        key = (holder.id, unit_label(unit) or "", invoice.currency)
        row = rows.get(key)
        if row is None:
            row = rows[key] = ArrearsRow(
                holder.id,
                holder.name,
                unit_label(unit),
                holder.phone,
                holder.email,
                invoice.currency,
                0,
                invoice.due_at,
                [],
            )
        owed = invoice.total_minor - invoice.paid_minor
        row.owed_minor += owed
        row.invoices.append(invoice.number)
        row.aged[bucket((now - invoice.due_at).days)] += owed
    return sorted(rows.values(), key=lambda r: (r.owed_since, r.holder_id))


def ageing_totals(rows: list[ArrearsRow]) -> dict[str, dict[str, int]]:
    """The ledger summed per currency and bucket."""
    totals: dict[str, dict[str, int]] = {}
    for row in rows:
        per = totals.setdefault(row.currency, dict.fromkeys(BUCKETS, 0))
        for name, amount in row.aged.items():
            per[name] += amount
    return totals


def dunning_list(session: Session, min_days: int = 0, now: datetime | None = None) -> list[ArrearsRow]:
    """Holders to chase: owing for more than ``min_days`` past due, largest debt first, with their contact."""
    now = now or utcnow()
    rows = [r for r in arrears_ledger(session, now) if (now - r.owed_since).days >= min_days]
    return sorted(rows, key=lambda r: (-r.owed_minor, r.holder_id))


def suspend_overdue_passes(session: Session, actor: User | None, now: datetime | None = None) -> list[str]:
    """Suspend active passes with an invoice overdue longer than their plan's grace; answers the pass ids."""
    now = now or utcnow()
    query = (
        select(MonthlyPass, PlanBillingRule.suspend_after_days, Invoice.id, Invoice.due_at)
        .join(PlanBillingRule, PlanBillingRule.plan_id == MonthlyPass.plan_id)
        .join(Invoice, Invoice.pass_id == MonthlyPass.id)
        .where(
            PlanBillingRule.suspend_after_days.is_not(None),
            MonthlyPass.status == PassStatus.ACTIVE.value,
            Invoice.status == "open",
            Invoice.total_minor > Invoice.paid_minor,
        )
        .order_by(Invoice.due_at)
    )
    suspended: list[str] = []
    for monthly, grace, invoice_id, due_at in session.execute(query):
        if monthly.id in suspended or due_at + timedelta(days=int(grace or 0)) >= now:
            continue
        if session.get(PassHold, monthly.id) is not None:
            continue
        before = snapshot(monthly)
        monthly.status = PassStatus.SUSPENDED.value
        session.add(PassHold(pass_id=monthly.id, reason="arrears", invoice_id=invoice_id, since=now))
        session.flush()
        publish_pass(session, monthly)
        record_change(session, actor, "pass.suspend_arrears", "pass", monthly.id, before, snapshot(monthly))
        suspended.append(monthly.id)
    return suspended
