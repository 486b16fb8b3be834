"""Selling and renewing monthly passes: calendar months in the operator's zone, and the invoice line each makes."""

from __future__ import annotations

import calendar
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from central.audit import record_change, snapshot
from central.models import InvoiceLine, MonthlyPass, PassPlan, User
from central.publication import publish_pass
from parking.wire import PassStatus

# Passes run in whole calendar months of the operator's local time (a pass bought on 31 January runs to the
# last day of February), so the month arithmetic happens in this zone, not in UTC.
OPERATOR_ZONE = ZoneInfo("Asia/Shanghai")


def add_months(instant: datetime, months: int, zone: ZoneInfo = OPERATOR_ZONE) -> datetime:
    """``instant`` plus ``months`` calendar months in ``zone``, the day clamped to the month's last; answers UTC."""
    local = instant.astimezone(zone)
    index = local.month - 1 + months
    year, month = local.year + index // 12, index % 12 + 1
    day = min(local.day, calendar.monthrange(year, month)[1])
    return local.replace(year=year, month=month, day=day).astimezone(UTC)


def invoice_line(monthly: MonthlyPass, plan: PassPlan, months: int, start: datetime, user: User | None) -> InvoiceLine:
    """The line billing will collect: the plan's monthly price times ``months``, for ``start`` onwards."""
    end = add_months(start, months)
    return InvoiceLine(
        pass_id=monthly.id, holder_id=monthly.holder_id,
        description=f"{plan.name}: {months} month{'s' if months != 1 else ''} for {', '.join(monthly.plates)}",
        months=months, amount_minor=plan.price_minor * months, currency=plan.currency, period_from=start,
        period_to=end, created_by=user.id if user else None,
    )  # fmt: skip


def expire_lapsed_passes(session: Session, now: datetime) -> int:
    """Mark active passes whose validity ended before ``now`` as expired (and publish them); answers how many.

    Edges already refuse a pass after its ``valid_to``; the status tells the office and the reminder lists, and a
    renewal brings the pass back to active. The caller commits.
    """
    lapsed = list(session.scalars(
        select(MonthlyPass).where(MonthlyPass.status == PassStatus.ACTIVE.value, MonthlyPass.valid_to < now)
    ))  # fmt: skip
    for monthly in lapsed:
        before = snapshot(monthly)
        monthly.status = PassStatus.EXPIRED.value
        publish_pass(session, monthly)
        record_change(session, None, "pass.expire", "pass", monthly.id, before, snapshot(monthly))
    return len(lapsed)
