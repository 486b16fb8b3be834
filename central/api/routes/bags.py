"""Cash-bag custody: the car park's drops with their custody, and the cashier's pick-up, count and deposit."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import Field

from central.api.deps import SessionDep, allow
from central.api.fields import MinorUnits, RequestModel, ShortText, When
from central.api.routes import API_PREFIX
from central.api.routes.reconciliation import CarParkKey, api_error
from central.audit import snapshot
from central.core.db import utcnow
from central.core.security import Role
from central.models import CashBag, User
from central.reconciliation import custody
from central.reconciliation.review import ReconciliationError

router = APIRouter(prefix=API_PREFIX + "/bags", tags=["cash bags"])
Readers = allow(Role.ADMIN, Role.CASHIER, Role.SUPERVISOR, Role.AUDITOR)
Cashiers = allow(Role.CASHIER)
BagKey = Annotated[str, Path(min_length=1, max_length=32)]


class PickUpIn(RequestModel):
    witnessed_by: ShortText = Field(description="who witnessed the pick-up (usually the supervisor)")
    at: When | None = Field(default=None, description="when it happened (default: now)")


class CountIn(RequestModel):
    counted: MinorUnits
    at: When | None = None


class DepositIn(RequestModel):
    slip_reference: Annotated[str, Field(min_length=1, max_length=64)] = Field(
        description="the bank deposit slip's reference (银行进账单)"
    )
    at: When | None = None


@router.get("", summary="A car park's cash bags with their custody")
def list_bags(
    session: SessionDep,
    car_park: Annotated[str, Query(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")],
    _user: User = Readers,
) -> list[dict[str, Any]]:
    return custody.bag_lines(session, car_park)


def _custody_step(session: SessionDep, step: Callable[[], CashBag]) -> dict[str, Any]:
    """One custody step: committed, answering the bag as it now is; or rolled back with the step's refusal."""
    try:
        bag = step()
    except ReconciliationError as err:
        session.rollback()
        raise api_error(err) from err
    session.commit()
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in snapshot(bag).items()}


@router.post("/{car_park}/{bag}/pick-up", summary="Record a bag's pick-up at the booth, with its witness")
def pick_up(
    car_park: CarParkKey, bag: BagKey, body: PickUpIn, session: SessionDep, user: User = Cashiers
) -> dict[str, Any]:
    return _custody_step(
        session, lambda: custody.pick_up(session, user, car_park, bag, body.witnessed_by, body.at, utcnow())
    )


@router.post("/{car_park}/{bag}/count", summary="Record a bag's count at the office")
def count(
    car_park: CarParkKey, bag: BagKey, body: CountIn, session: SessionDep, user: User = Cashiers
) -> dict[str, Any]:
    return _custody_step(session, lambda: custody.count(session, user, car_park, bag, body.counted, body.at, utcnow()))


@router.post("/{car_park}/{bag}/deposit", summary="Record a bag's bank deposit with the deposit slip's reference")
def deposit(
    car_park: CarParkKey, bag: BagKey, body: DepositIn, session: SessionDep, user: User = Cashiers
) -> dict[str, Any]:
    return _custody_step(
        session, lambda: custody.deposit(session, user, car_park, bag, body.slip_reference, body.at, utcnow())
    )
