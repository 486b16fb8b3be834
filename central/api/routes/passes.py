"""Monthly passes (月租卡): sell, renew, suspend, resume, cancel, transfer to another plate; and their invoice lines.

Every change is published to the edges (a new sync version) and written to the audit log in one transaction.
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Query
from pydantic import Field
from sqlalchemy import String, cast, select

from central.api.deps import ALL_STAFF, SessionDep, allow
from central.api.errors import ApiError, conflict, not_found
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
from central.billing.pass_billing import bill_pass_renewal, bill_pass_sale, renewal_request_seen
from central.core.db import utcnow
from central.core.security import Role
from central.models import Holder, Invoice, InvoiceLine, MonthlyPass, PassPlan, User
from central.publication import publish_pass
from central.renewal import add_months
from parking.ids import new_id
from parking.wire import PassStatus

router = APIRouter(prefix=API_PREFIX, tags=["passes"])
Readers = allow(*ALL_STAFF)
Sellers = allow(Role.ADMIN, Role.FRONT_DESK, Role.OFFICE)
Finance = allow(Role.ADMIN, Role.OFFICE)


def normalise_plate(plate: str) -> str:
    """Upper case without the separators people type (space, middle dot, hyphen): 粤B·3R7K2 -> 粤B3R7K2."""
    return "".join(ch for ch in plate.upper() if ch not in " ·.-\t")


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


def _plates(raw: list[str]) -> list[str]:
    plates = list(dict.fromkeys(normalise_plate(p) for p in raw))
    if not all(plates):
        raise ApiError(422, "pass.bad_plate", "a plate is empty once separators are removed")
    return plates


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


@router.post("/passes", response_model=PassOut, status_code=201, summary="Sell a pass (makes its invoice)")
def create_pass(body: PassIn, session: SessionDep, client_request: ClientRequestId = None,
                user: User = Sellers) -> MonthlyPass:  # fmt: skip
    if client_request and (
        seen := session.scalars(select(Invoice).where(Invoice.request_id == client_request)).first()
    ):
        return _load(session, seen.pass_id or "")
    if session.get(Holder, body.holder_id) is None:
        raise not_found("holder", body.holder_id)
    plan = session.get(PassPlan, body.plan_id)
    if plan is None:
        raise not_found("plan", body.plan_id)
    if not plan.active:
        raise conflict("plan.inactive", f"plan {plan.name!r} is no longer sold")
    start = body.valid_from or utcnow()
    monthly = MonthlyPass(id=new_id(), holder_id=body.holder_id, plan_id=plan.id, plates=_plates(body.plates),
                          card_number=body.card_number, valid_from=start, valid_to=add_months(start, body.months),
                          status=PassStatus.ACTIVE.value)  # fmt: skip
    session.add(monthly)
    session.flush()
    bill_pass_sale(session, monthly, plan, body.months, start, user, client_request)  # billing: may hold it unpaid
    publish_pass(session, monthly)
    record_change(session, user, "pass.create", "pass", monthly.id, None, snapshot(monthly))
    session.commit()
    return monthly


@router.post("/passes/{pass_id}/renew", response_model=PassOut, summary="Renew by N months (makes its invoice)")
def renew_pass(pass_id: RecordKey, body: Renewal, session: SessionDep, client_request: ClientRequestId = None,
               user: User = Sellers) -> MonthlyPass:  # fmt: skip
    monthly = _load(session, pass_id)
    if renewal_request_seen(session, client_request):
        return monthly
    if monthly.status == PassStatus.CANCELLED:
        raise conflict("pass.cancelled", "a cancelled pass cannot be renewed: sell a new one")
    plan = session.get_one(PassPlan, monthly.plan_id)
    before = snapshot(monthly)
    start = max(monthly.valid_to, utcnow())  # a lapsed pass restarts today, it does not pay for the gap
    if bill_pass_renewal(session, monthly, plan, body.months, start, user, client_request):  # else: once paid
        monthly.valid_to = add_months(start, body.months)
        if monthly.status == PassStatus.EXPIRED:
            monthly.status = PassStatus.ACTIVE.value
    publish_pass(session, monthly)
    record_change(session, user, "pass.renew", "pass", monthly.id, before, snapshot(monthly))
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
