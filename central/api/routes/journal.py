"""What the edges reported: their journal records (the source of truth) and the hash-chain breaks found."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import Field
from sqlalchemy import func, select

from central.api.deps import SessionDep, allow
from central.api.fields import Limit, Offset, ResponseModel, When
from central.api.routes import API_PREFIX
from central.core.security import Role
from central.fault_reports import FaultReport, fault_reports
from central.models import ChainBreak, EdgeRecord, EdgeShiftReport, EdgeTransaction, QuarantinedRecord, User
from parking.wire import RecordKind

router = APIRouter(prefix=API_PREFIX, tags=["journal"])
Readers = allow(Role.ADMIN, Role.SUPERVISOR, Role.OFFICE)
Supervisors = allow(Role.ADMIN, Role.SUPERVISOR)


class RecordOut(ResponseModel):
    id: str
    edge_id: str
    seq: int
    kind: str
    car_park: str
    lane: str | None
    at: datetime
    payload: dict[str, Any]
    prev_hash: str
    hash: str
    hash_ok: bool
    received_at: datetime


class ChainBreakOut(ResponseModel):
    id: int
    edge_id: str
    seq: int
    record_id: str
    reason: str
    detail: str
    detected_at: datetime


@router.get("/records", response_model=list[RecordOut], summary="Journal records from the edges")
def list_records(
    session: SessionDep,
    edge_id: str | None = Query(default=None, max_length=64),
    kind: RecordKind | None = None,
    since: Annotated[When | None, Query(description="records at or after this time")] = None,
    limit: Limit = 100,
    offset: Offset = 0,
    _user: User = Readers,
) -> list[EdgeRecord]:
    query = select(EdgeRecord).order_by(EdgeRecord.edge_id, EdgeRecord.seq).limit(limit).offset(offset)
    if edge_id is not None:
        query = query.where(EdgeRecord.edge_id == edge_id.replace("\x00", ""))
    if kind is not None:
        query = query.where(EdgeRecord.kind == kind.value)
    if since is not None:
        query = query.where(EdgeRecord.at >= since)
    return list(session.scalars(query))


@router.get("/chain-breaks", response_model=list[ChainBreakOut], summary="Hash-chain breaks flagged at ingest")
def list_chain_breaks(
    session: SessionDep,
    edge_id: str | None = Query(default=None, max_length=64),
    limit: Limit = 100,
    offset: Offset = 0,
    _user: User = Readers,
) -> list[ChainBreak]:
    query = select(ChainBreak).order_by(ChainBreak.id.desc()).limit(limit).offset(offset)
    if edge_id is not None:
        query = query.where(ChainBreak.edge_id == edge_id.replace("\x00", ""))
    return list(session.scalars(query))


class QuarantinedOut(ResponseModel):
    id: int
    edge_id: str
    record_id: str | None
    seq: int | None = Field(description="set when the record holds a usable seq and hashes: it is in the chain")
    kind: str | None
    prev_hash: str | None
    hash: str | None
    hash_ok: bool | None = Field(description="null: the hash could not be recomputed from what was received")
    reason: str = Field(description="text_not_storable, out_of_range, too_long, too_deep, not_storable, ...")
    field: str = Field(description="the first field outside the bounds, e.g. payload.reason, seq, at")
    detail: str
    raw: str = Field(description="the record as received, as JSON with non-ASCII escaped (U+0000 as \\u0000)")
    received_at: datetime


@router.get(
    "/quarantine", response_model=list[QuarantinedOut],
    summary="Journal records kept as received but not projected: outside the wire bounds or refused by the database",
)  # fmt: skip
def list_quarantine(
    session: SessionDep,
    edge_id: str | None = Query(default=None, max_length=64),
    reason: str | None = Query(default=None, max_length=32),
    limit: Limit = 100,
    offset: Offset = 0,
    _user: User = Supervisors,
) -> list[QuarantinedRecord]:
    query = select(QuarantinedRecord).order_by(QuarantinedRecord.id.desc()).limit(limit).offset(offset)
    if edge_id is not None:
        query = query.where(QuarantinedRecord.edge_id == edge_id.replace("\x00", ""))
    if reason is not None:
        query = query.where(QuarantinedRecord.reason == reason.replace("\x00", ""))
    return list(session.scalars(query))


class TransactionOut(ResponseModel):
    record_id: str
    edge_id: str
    car_park: str
    lane: str | None
    at: datetime
    transaction_kind: str
    amount_minor: int | None
    currency: str
    session_id: str | None
    plate: str | None


class TransactionTotal(ResponseModel):
    car_park: str
    transaction_kind: str
    currency: str
    count: int
    amount_minor: int


Since = Annotated[When | None, Query(description="at or after this time")]
Until = Annotated[When | None, Query(description="before this time")]


def _window(query: Any, car_park: str | None, since: datetime | None, until: datetime | None) -> Any:
    if car_park is not None:
        query = query.where(EdgeTransaction.car_park == car_park.replace("\x00", ""))
    if since is not None:
        query = query.where(EdgeTransaction.at >= since)
    if until is not None:
        query = query.where(EdgeTransaction.at < until)
    return query


@router.get("/transactions", response_model=list[TransactionOut], summary="Transactions reported by the edges")
def list_transactions(
    session: SessionDep,
    car_park: str | None = Query(default=None, max_length=64),
    since: Since = None,
    until: Until = None,
    limit: Limit = 100,
    offset: Offset = 0,
    _user: User = Readers,
) -> list[EdgeTransaction]:
    query = select(EdgeTransaction).order_by(EdgeTransaction.at, EdgeTransaction.record_id)
    return list(session.scalars(_window(query, car_park, since, until).limit(limit).offset(offset)))


@router.get("/transactions/totals", response_model=list[TransactionTotal], summary="Takings by car park and kind")
def transaction_totals(
    session: SessionDep,
    car_park: str | None = Query(default=None, max_length=64),
    since: Since = None,
    until: Until = None,
    _user: User = Readers,
) -> list[TransactionTotal]:
    query = select(
        EdgeTransaction.car_park, EdgeTransaction.transaction_kind, EdgeTransaction.currency, func.count(),
        func.coalesce(func.sum(EdgeTransaction.amount_minor), 0),
    ).group_by(EdgeTransaction.car_park, EdgeTransaction.transaction_kind, EdgeTransaction.currency)  # fmt: skip
    rows = session.execute(_window(query, car_park, since, until).order_by(EdgeTransaction.car_park)).all()
    return [
        TransactionTotal(car_park=park, transaction_kind=kind, currency=currency, count=count, amount_minor=int(total))
        for park, kind, currency, count, total in rows
    ]


class ShiftReportOut(ResponseModel):
    record_id: str
    edge_id: str
    car_park: str
    at: datetime
    shift: str | None
    booth: str | None
    revision: int | None
    operator: str | None
    currency: str
    takings: int | None
    cash_expected: int | None
    cash_counted: int | None
    cash_difference: int | None = Field(description="counted - expected: negative is a shortage (短款)")
    cards_difference: int | None
    unexplained_cycles: int | None
    valid: bool = Field(description="false: the report did not validate; the record is kept as sent")
    problem: str


@router.get("/shift-reports", response_model=list[ShiftReportOut], summary="Booth shift reports from the edges")
def list_shift_reports(
    session: SessionDep,
    car_park: str | None = Query(default=None, max_length=64),
    valid: bool | None = Query(default=None, description="only the reports that validated (true) or not (false)"),
    since: Since = None,
    until: Until = None,
    limit: Limit = 100,
    offset: Offset = 0,
    _user: User = Readers,
) -> list[EdgeShiftReport]:
    query = select(EdgeShiftReport).order_by(EdgeShiftReport.at, EdgeShiftReport.record_id)
    if car_park is not None:
        query = query.where(EdgeShiftReport.car_park == car_park.replace("\x00", ""))
    if valid is not None:
        query = query.where(EdgeShiftReport.valid.is_(valid))
    if since is not None:
        query = query.where(EdgeShiftReport.at >= since)
    if until is not None:
        query = query.where(EdgeShiftReport.at < until)
    return list(session.scalars(query.limit(limit).offset(offset)))


class FaultReportOut(ResponseModel):
    record_id: str
    edge_id: str
    car_park: str
    lane: str | None
    device: str | None = Field(description="null: the collector reported the lane itself")
    operator: str
    booth: str | None
    note: str
    at: datetime
    received_at: datetime


@router.get(
    "/fault-reports", response_model=list[FaultReportOut],
    summary="Faults the booth collectors reported (procedure 7.2), newest first",
)  # fmt: skip
def list_fault_reports(
    session: SessionDep,
    car_park: str | None = Query(default=None, max_length=64),
    since: Annotated[When | None, Query(description="reports at or after this time")] = None,
    limit: Limit = 100,
    offset: Offset = 0,
    _user: User = Readers,
) -> list[FaultReport]:
    return fault_reports(session, car_park=car_park, since=since, limit=limit, offset=offset)
