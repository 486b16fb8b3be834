"""The arrears ledger with its ageing, the dunning list, suspension of overdue passes, renewal reminder delivery,
monthly collection statistics, and their CSV/XLSX exports."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response
from sqlalchemy import select

from central.api.deps import SessionDep, SettingsDep
from central.api.fields import Limit, Offset, ResponseModel
from central.api.routes import API_PREFIX
from central.api.routes.billing_common import CSV_XLSX, BookReaders, Dunning, Reminders, table_file
from central.billing.arrears import ageing_totals, arrears_ledger, dunning_list, suspend_overdue_passes
from central.billing.exports import ledger_table, statistics_table
from central.billing.reminders import ReminderChannels, deliver_reminders
from central.billing.statistics import collection_statistics, temporary_takings
from central.models import ReminderDelivery, User

router = APIRouter(prefix=API_PREFIX + "/billing", tags=["billing"])
Month = Annotated[str, Query(pattern=r"^20[0-9]{2}-(0[1-9]|1[0-2])$")]


class ArrearsOut(ResponseModel):
    holder_id: int
    holder: str
    unit: str | None
    phone: str
    email: str
    currency: str
    owed_minor: int
    owed_since: datetime
    invoices: list[str]
    aged: dict[str, int]


class CollectionOut(ResponseModel):
    car_park: str
    month: str
    fee_item: str
    currency: str
    billed_minor: int
    collected_minor: int
    outstanding_minor: int
    rate: float | None


class TakingsOut(ResponseModel):
    car_park: str
    month: str
    currency: str
    takings_minor: int
    shifts: int


class StatisticsOut(ResponseModel):
    passes_and_fees: list[CollectionOut]
    temporary_parking: list[TakingsOut]


class DeliveryOut(ResponseModel):
    id: int
    pass_id: str
    valid_to: datetime
    channel: str
    target: str
    status: str
    error: str
    at: datetime


class Suspended(ResponseModel):
    suspended: list[str]


@router.get("/arrears", response_model=list[ArrearsOut], summary="The arrears ledger (欠费台账) with ageing")
def ledger(session: SessionDep, _user: User = BookReaders) -> list[ArrearsOut]:
    return [ArrearsOut.model_validate(row) for row in arrears_ledger(session)]


@router.get("/arrears/ageing", response_model=dict[str, dict[str, int]], summary="Arrears per currency and age")
def ageing(session: SessionDep, _user: User = BookReaders) -> dict[str, dict[str, int]]:
    return ageing_totals(arrears_ledger(session))


@router.get("/arrears/export", summary="The arrears ledger as CSV or XLSX", response_class=Response, responses=CSV_XLSX)
def export_ledger(session: SessionDep, format: Literal["csv", "xlsx"] = "csv", _user: User = BookReaders) -> Response:
    return table_file(ledger_table(session), "arrears", format)


@router.get("/dunning", response_model=list[ArrearsOut], summary="Holders to chase (催缴), largest debt first")
def dunning(
    session: SessionDep, min_days: int = Query(default=0, ge=0, le=3650), _user: User = BookReaders
) -> list[ArrearsOut]:
    return [ArrearsOut.model_validate(row) for row in dunning_list(session, min_days)]


@router.post("/arrears/suspend", response_model=Suspended, summary="Suspend passes overdue past their plan's grace")
def suspend(session: SessionDep, user: User = Dunning) -> Suspended:
    suspended = suspend_overdue_passes(session, user)
    session.commit()
    return Suspended(suspended=suspended)


@router.get("/statistics", response_model=StatisticsOut, summary="Collection by car park, month and fee item")
def statistics(session: SessionDep, first: Month, last: Month, _user: User = BookReaders) -> StatisticsOut:
    return StatisticsOut(
        passes_and_fees=[CollectionOut.model_validate(r) for r in collection_statistics(session, first, last)],
        temporary_parking=[TakingsOut.model_validate(t) for t in temporary_takings(session, first, last)],
    )


@router.get(
    "/statistics/export", summary="Collection statistics as CSV or XLSX", response_class=Response, responses=CSV_XLSX
)
def export_statistics(
    session: SessionDep, first: Month, last: Month, format: Literal["csv", "xlsx"] = "csv", _user: User = BookReaders
) -> Response:
    return table_file(statistics_table(session, first, last), f"collection-{first}-{last}", format)


@router.post(
    "/reminders/deliveries",
    response_model=list[DeliveryOut],
    summary="Send renewal reminders (e-mail, webhook) for passes ending within N days",
)
def deliver(
    session: SessionDep, settings: SettingsDep, days: int = Query(default=15, ge=0, le=366), user: User = Reminders
) -> list[ReminderDelivery]:
    channels = ReminderChannels(settings.reminder_mail_url, settings.reminder_webhook_url)
    made = deliver_reminders(session, user, channels, days)
    session.commit()
    return made


@router.get("/reminders/deliveries", response_model=list[DeliveryOut], summary="Reminder deliveries and failures")
def deliveries(
    session: SessionDep,
    pass_id: str | None = Query(default=None, max_length=64),
    limit: Limit = 100,
    offset: Offset = 0,
    _user: User = Reminders,
) -> list[ReminderDelivery]:
    query = select(ReminderDelivery).order_by(ReminderDelivery.id.desc()).limit(limit).offset(offset)
    if pass_id is not None:
        query = query.where(ReminderDelivery.pass_id == pass_id.replace("\x00", ""))
    return list(session.scalars(query))
