"""Renewal reminders: passes expiring within N days with the holder's contact, as JSON or as a CSV file for the
front desk and the collectors (who remind holders every month)."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta

from fastapi import APIRouter, Query
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from central.api.deps import ALL_STAFF, SessionDep, allow
from central.api.fields import ResponseModel
from central.api.routes import API_PREFIX
from central.core.db import utcnow
from central.models import Holder, MonthlyPass, Unit, User
from central.publication import unit_label
from central.renewal import OPERATOR_ZONE
from parking.wire import PassStatus

router = APIRouter(prefix=API_PREFIX + "/passes/reminders", tags=["passes"])
Readers = allow(*ALL_STAFF)
Days = Query(default=15, ge=0, le=366, description="expiring within this many days from now")


class Reminder(ResponseModel):
    pass_id: str
    plates: list[str]
    valid_to: datetime
    days_left: int
    holder: str
    unit: str | None
    phone: str
    email: str
    status: str


def _cell(value: object) -> str:
    """Text for a CSV cell that a spreadsheet will not run as a formula."""
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def due_reminders(session: Session, days: int) -> list[Reminder]:
    now = utcnow()
    rows = session.execute(
        select(MonthlyPass, Holder, Unit)
        .join(Holder, Holder.id == MonthlyPass.holder_id)
        .outerjoin(Unit, Unit.id == Holder.unit_id)
        .where(
            MonthlyPass.status.in_([PassStatus.ACTIVE.value, PassStatus.SUSPENDED.value]),
            MonthlyPass.valid_to >= now,
            MonthlyPass.valid_to <= now + timedelta(days=days),
        )
        .order_by(MonthlyPass.valid_to, MonthlyPass.id)
    )
    return [
        Reminder(
            pass_id=monthly.id,
            plates=monthly.plates,
            valid_to=monthly.valid_to,
            days_left=(monthly.valid_to - now).days,
            holder=holder.name,
            unit=unit_label(unit),
            phone=holder.phone,
            email=holder.email,
            status=monthly.status,
        )
        for monthly, holder, unit in rows
    ]


@router.get("", response_model=list[Reminder], summary="Passes expiring within N days, with the holder's contact")
def list_reminders(session: SessionDep, days: int = Days, _user: User = Readers) -> list[Reminder]:
    return due_reminders(session, days)


@router.get(
    ".csv",
    summary="The reminder list as CSV (UTF-8 with BOM, opens in Excel)",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}, "description": "one row per pass"}},
)
def export_reminders(session: SessionDep, days: int = Days, _user: User = Readers) -> Response:
    return csv_response(reminders_csv(session, days))


def reminders_csv(session: Session, days: int) -> str:
    """The reminder list as CSV text (with a BOM, so Excel reads it as UTF-8), times in the operator's zone."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out)
    writer.writerow(["pass", "plates", "expires (local)", "days left", "holder", "unit", "phone", "email", "status"])
    for item in due_reminders(session, days):
        local = item.valid_to.astimezone(OPERATOR_ZONE).strftime("%Y-%m-%d %H:%M")
        row = [item.pass_id, " ".join(item.plates), local, item.days_left, item.holder, item.unit or "", item.phone,
               item.email, item.status]  # fmt: skip
        writer.writerow([_cell(value) for value in row])
    return out.getvalue()


def csv_response(text: str) -> Response:
    """The CSV as a download named renewal-reminders.csv."""
    return Response(
        text, media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="renewal-reminders.csv"'},
    )  # fmt: skip
