"""Shift reconciliation: a car park's day, the supervisor's queue of shifts by state, one shift's checks, and the
sign-off or flag (never by whoever worked the shift)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Path, Query
from pydantic import AfterValidator, Field

from central.api.deps import SessionDep, SettingsDep, allow
from central.api.errors import ApiError, not_found
from central.api.fields import RecordKey, RequestModel, Text
from central.api.routes import API_PREFIX
from central.core.config import Settings
from central.core.db import utcnow
from central.core.security import Role
from central.models import CarPark, User
from central.payments.statement import e_payments_of_day, pay_stations_of_day
from central.reconciliation.findings import ReconcileSettings
from central.reconciliation.loader import reconcile_day
from central.reconciliation.review import ReconciliationError, decide, reconcile_one

router = APIRouter(prefix=API_PREFIX + "/reconciliation", tags=["reconciliation"])
Readers = allow(Role.ADMIN, Role.SUPERVISOR, Role.AUDITOR)
Supervisors = allow(Role.SUPERVISOR)
CarParkKey = Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]


def _day_in_service(value: date) -> date:
    if not date(2000, 1, 1) <= value < date(2200, 1, 1):
        raise ValueError("the day must be between 2000-01-01 and 2199-12-31")
    return value


Day = Annotated[date, AfterValidator(_day_in_service)]
State = Literal["awaiting_report", "to_review", "flagged", "signed_off"]


def reconcile_settings(settings: Settings) -> ReconcileSettings:
    """The checks' thresholds from central's settings."""
    return ReconcileSettings(
        peer_factor=settings.recon_peer_factor, peer_min_gap=settings.recon_peer_min_gap,
        peer_min_exits=settings.recon_peer_min_exits, bag_step_hours=settings.recon_bag_step_hours,
    )  # fmt: skip


def api_error(err: ReconciliationError) -> ApiError:
    return ApiError(err.status, err.code, err.message)


class DecisionIn(RequestModel):
    note: Text = Field(default="", description="why; required to flag, and to sign off a shift with exceptions")


def _car_park(session: SessionDep, car_park: str) -> None:
    if session.get(CarPark, car_park) is None:
        raise not_found("car_park", car_park)


@router.get("/days/{car_park}/{day}", summary="A car park's day reconciled: every shift, collectors, closed or not")
def get_day(
    car_park: CarParkKey, day: Day, session: SessionDep, settings: SettingsDep, _user: User = Readers
) -> dict[str, Any]:
    _car_park(session, car_park)
    result = reconcile_day(session, car_park, day, reconcile_settings(settings), utcnow()).as_json()
    park = session.get(CarPark, car_park)
    zone = ZoneInfo(park.timezone if park is not None else "Asia/Shanghai")
    result["e_payments"] = e_payments_of_day(session, car_park, day, zone)  # beside the shifts' cash
    result["pay_stations"] = pay_stations_of_day(session, car_park, day, zone)
    return result


@router.get("/shifts", summary="The supervisor's queue: a car park's shifts of a day by state")
def list_shifts(
    session: SessionDep,
    settings: SettingsDep,
    car_park: Annotated[str, Query(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")],
    day: Day,
    state: State | None = None,
    _user: User = Readers,
) -> list[dict[str, Any]]:
    result = reconcile_day(session, car_park, day, reconcile_settings(settings), utcnow())  # unknown: no shifts
    return [
        {"shift": s.shift, "booth": s.booth, "collector": s.collector, "opened_at": s.opened_at,
         "closed_at": s.closed_at, "state": s.state, "exceptions": [f.code for f in s.exceptions]}
        for s in result.shifts if state is None or s.state == state
    ]  # fmt: skip


@router.get("/shifts/{shift_id}", summary="One shift's reconciliation: figures, findings, listings")
def get_shift(shift_id: RecordKey, session: SessionDep, settings: SettingsDep, _user: User = Readers) -> dict[str, Any]:
    try:
        _day, shift = reconcile_one(session, shift_id, reconcile_settings(settings), utcnow())
    except ReconciliationError as err:
        raise api_error(err) from err
    return shift.as_json()


def _decide(
    session: SessionDep, settings: Settings, user: User, shift_id: str, decision: str, note: str
) -> dict[str, Any]:
    try:
        shift = decide(session, user, shift_id, decision, note, reconcile_settings(settings), utcnow())
    except ReconciliationError as err:
        session.rollback()
        raise api_error(err) from err
    session.commit()
    return shift.as_json()


@router.post("/shifts/{shift_id}/sign-off", summary="Sign a shift off (not by whoever worked it)")
def sign_off(
    shift_id: RecordKey, body: DecisionIn, session: SessionDep, settings: SettingsDep, user: User = Supervisors
) -> dict[str, Any]:
    return _decide(session, settings, user, shift_id, "signed_off", body.note)


@router.post("/shifts/{shift_id}/flag", summary="Flag a shift for follow-up, with a note (not by whoever worked it)")
def flag(
    shift_id: RecordKey, body: DecisionIn, session: SessionDep, settings: SettingsDep, user: User = Supervisors
) -> dict[str, Any]:
    return _decide(session, settings, user, shift_id, "flagged", body.note)
