"""Monthly passes (月租卡): sell, renew, suspend, resume, cancel, transfer to another plate; and their invoice lines.

Every change is published to the edges (a new sync version) and written to the audit log in one transaction.
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Query
from pydantic import Field
from sqlalchemy import String, cast, select

from central.api.deps import ALL_STAFF, SessionDep, allow
from central.api.errors import conflict, not_found
from central.api.fields import (
    CardNumber,
    Limit,
    Months,
    Offset,
    PlateText,
    RecordKey,
    RequestModel,
    ResponseModel,
    When,
)
from central.api.routes import API_PREFIX
from central.api.routes.billing_common import ClientRequestId
from central.audit import record_change, snapshot
from central.card_refusals import PassPresentation, pass_presentations
from central.core.security import Role
from central.issuing import normalise_plate, renew_pass, sell_pass
from central.models import InvoiceLine, MonthlyPass, User
from central.publication import publish_pass
from parking.wire import PassStatus

router = APIRouter(prefix=API_PREFIX, tags=["passes"])
Readers = allow(*ALL_STAFF)
Sellers = allow(Role.ADMIN, Role.FRONT_DESK, Role.OFFICE)
Finance = allow(Role.ADMIN, Role.OFFICE)


class PassIn(RequestModel):
    holder_id: int = Field(ge=1, le=2_147_483_647)
    plan_id: int = Field(ge=1, le=2_147_483_647)
    plates: list[PlateText] = Field(min_length=1, max_length=5)
    card_number: CardNumber | None = None
    valid_from: When | None = Field(default=None, description="default: now")
    months: Months = 1


class Renewal(RequestModel):
    months: Months


class Transfer(RequestModel):
    old_plate: PlateText
    new_plate: PlateText


class PassOut(ResponseModel):
    id: str
    holder_id: int
    plan_id: int
    plates: list[str]
    card_number: str | None
    valid_from: datetime
    valid_to: datetime
    status: str
    created_at: datetime


class InvoiceLineOut(ResponseModel):
    id: int
    pass_id: str
    holder_id: int
    description: str
    months: int
    amount_minor: int
    currency: str
    period_from: datetime
    period_to: datetime
    created_at: datetime
    billed: bool


def _load(session: SessionDep, pass_id: str) -> MonthlyPass:
    monthly = session.get(MonthlyPass, pass_id)
    if monthly is None:
        raise not_found("pass", pass_id)
    return monthly


@router.get("/passes", response_model=list[PassOut], summary="List passes, by plate, holder or status")
def list_passes(
    session: SessionDep,
    plate: str | None = Query(default=None, max_length=16),
    holder_id: int | None = Query(default=None, ge=1, le=2_147_483_647),
    status: PassStatus | None = None,
    limit: Limit = 100,
    offset: Offset = 0,
    _user: User = Readers,
) -> list[MonthlyPass]:
    query = select(MonthlyPass).order_by(MonthlyPass.created_at, MonthlyPass.id).limit(limit).offset(offset)
    if plate:
        query = query.where(cast(MonthlyPass.plates, String).contains(f'"{normalise_plate(plate)}"', autoescape=True))
    if holder_id is not None:
        query = query.where(MonthlyPass.holder_id == holder_id)
    if status is not None:
        query = query.where(MonthlyPass.status == status.value)
    return list(session.scalars(query))


@router.get("/passes/{pass_id}", response_model=PassOut, summary="One pass")
def get_pass(pass_id: RecordKey, session: SessionDep, _user: User = Readers) -> MonthlyPass:
    return _load(session, pass_id)


class PresentationOut(ResponseModel):
    at: datetime
    car_park: str
    lane: str | None
    plate: str
    reason: str = Field(description="the lane's decision, e.g. 'pass suspended: arrears': charged as a temporary one")
    record: str = Field(description="the edge's journal record")


@router.get("/passes/{pass_id}/presentations", response_model=list[PresentationOut],
            summary="Where a vehicle of this pass entered while it was suspended or cancelled")  # fmt: skip
def presentations(pass_id: RecordKey, session: SessionDep, _user: User = Readers) -> list[PassPresentation]:
    _load(session, pass_id)
    return pass_presentations(session, [pass_id])


@router.post("/passes", response_model=PassOut, status_code=201, summary="Sell a pass (makes its invoice)")
def create_pass(body: PassIn, session: SessionDep, client_request: ClientRequestId = None,
                user: User = Sellers) -> MonthlyPass:  # fmt: skip
    monthly = sell_pass(session, user, holder_id=body.holder_id, plan_id=body.plan_id, plates=body.plates,
                        card_number=body.card_number, valid_from=body.valid_from, months=body.months,
                        client_request=client_request)  # fmt: skip
    session.commit()
    return monthly


@router.post("/passes/{pass_id}/renew", response_model=PassOut, summary="Renew by N months (makes its invoice)")
def renew(pass_id: RecordKey, body: Renewal, session: SessionDep, client_request: ClientRequestId = None,
          user: User = Sellers) -> MonthlyPass:  # fmt: skip
    monthly = renew_pass(session, user, _load(session, pass_id), body.months, client_request=client_request)
    session.commit()
    return monthly


def _set_status(session: SessionDep, user: User, pass_id: str, to: PassStatus, allowed_from: set[str]) -> MonthlyPass:
    monthly = _load(session, pass_id)
    if monthly.status not in allowed_from:
        raise conflict(
            "pass.bad_status", f"a {monthly.status} pass cannot become {to.value}", {"status": monthly.status}
        )
    before = snapshot(monthly)
    monthly.status = to.value
    publish_pass(session, monthly)
    record_change(session, user, f"pass.{to.value}", "pass", monthly.id, before, snapshot(monthly))
    session.commit()
    return monthly


@router.post("/passes/{pass_id}/suspend", response_model=PassOut, summary="Suspend a pass (edges deny it)")
def suspend_pass(pass_id: RecordKey, session: SessionDep, user: User = Sellers) -> MonthlyPass:
    return _set_status(session, user, pass_id, PassStatus.SUSPENDED, {PassStatus.ACTIVE.value})


@router.post("/passes/{pass_id}/resume", response_model=PassOut, summary="Resume a suspended pass")
def resume_pass(pass_id: RecordKey, session: SessionDep, user: User = Sellers) -> MonthlyPass:
    return _set_status(session, user, pass_id, PassStatus.ACTIVE, {PassStatus.SUSPENDED.value})


@router.post("/passes/{pass_id}/cancel", response_model=PassOut, summary="Cancel a pass for good")
def cancel_pass(pass_id: RecordKey, session: SessionDep, user: User = Sellers) -> MonthlyPass:
    allowed = {PassStatus.ACTIVE.value, PassStatus.SUSPENDED.value, PassStatus.EXPIRED.value}
    return _set_status(session, user, pass_id, PassStatus.CANCELLED, allowed)


@router.post("/passes/{pass_id}/transfer", response_model=PassOut, summary="Move the pass from one plate to another")
def transfer_pass(pass_id: RecordKey, body: Transfer, session: SessionDep, user: User = Sellers) -> MonthlyPass:
    monthly = _load(session, pass_id)
    if monthly.status == PassStatus.CANCELLED:
        raise conflict("pass.cancelled", "a cancelled pass cannot be transferred")
    old, new = normalise_plate(body.old_plate), normalise_plate(body.new_plate)
    if old not in monthly.plates:
        raise conflict("pass.plate_not_on_pass", f"{old} is not on this pass", {"plates": monthly.plates})
    if not new or new in monthly.plates:
        raise conflict("pass.plate_on_pass", f"{new!r} is already on this pass or empty")
    before = snapshot(monthly)
    monthly.plates = [new if p == old else p for p in monthly.plates]
    publish_pass(session, monthly)
    record_change(session, user, "pass.transfer", "pass", monthly.id, before, snapshot(monthly))
    session.commit()
    return monthly


@router.get("/invoice-lines", response_model=list[InvoiceLineOut], summary="Invoice lines made by sales and renewals")
def list_invoice_lines(
    session: SessionDep,
    pass_id: str | None = Query(default=None, max_length=64),
    billed: bool | None = None,
    limit: Limit = 100,
    offset: Offset = 0,
    _user: User = Finance,
) -> list[InvoiceLine]:
    query = select(InvoiceLine).order_by(InvoiceLine.id).limit(limit).offset(offset)
    if pass_id is not None:
        query = query.where(InvoiceLine.pass_id == pass_id.replace("\x00", ""))
    if billed is not None:
        query = query.where(InvoiceLine.billed.is_(billed))
    return list(session.scalars(query))
