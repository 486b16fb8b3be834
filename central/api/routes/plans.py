"""Pass plans: a monthly price (integer minor units) for a vehicle class at a set of car parks."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import Field
from sqlalchemy import select

from central.api.deps import ALL_STAFF, SessionDep, allow
from central.api.errors import conflict, not_found
from central.api.fields import Currency, MinorUnits, Name, RequestModel, ResponseModel, RowId, Slug
from central.api.routes import API_PREFIX
from central.audit import record_change, snapshot
from central.core.security import Role
from central.models import MonthlyPass, PassPlan, User
from central.publication import publish_pass

router = APIRouter(prefix=API_PREFIX + "/plans", tags=["passes"])
Readers = allow(*ALL_STAFF)
Writers = allow(Role.ADMIN, Role.OFFICE)


class PlanIn(RequestModel):
    name: Name
    vehicle_class: Slug = "small"
    price_minor: MinorUnits
    currency: Currency = "CNY"
    car_parks: list[Slug] = Field(default_factory=list, max_length=50, description="empty: every car park")


class PlanChange(RequestModel):
    price_minor: MinorUnits | None = None
    car_parks: list[Slug] | None = Field(default=None, max_length=50)
    active: bool | None = None


class PlanOut(ResponseModel):
    id: int
    name: str
    vehicle_class: str
    price_minor: int
    currency: str
    car_parks: list[str]
    active: bool


@router.get("", response_model=list[PlanOut], summary="List pass plans")
def list_plans(session: SessionDep, _user: User = Readers) -> list[PassPlan]:
    return list(session.scalars(select(PassPlan).order_by(PassPlan.id)))


@router.post("", response_model=PlanOut, status_code=201, summary="Create a pass plan")
def create_plan(body: PlanIn, session: SessionDep, user: User = Writers) -> PassPlan:
    if session.scalars(select(PassPlan).where(PassPlan.name == body.name)).first() is not None:
        raise conflict("plan.exists", f"plan {body.name!r} exists")
    plan = PassPlan(**body.model_dump(), active=True)
    plan.car_parks = sorted(set(plan.car_parks))
    session.add(plan)
    session.flush()
    record_change(session, user, "plan.create", "plan", plan.id, None, snapshot(plan))
    session.commit()
    return plan


@router.patch("/{plan_id}", response_model=PlanOut, summary="Change a plan (its passes resync if car parks change)")
def change_plan(plan_id: RowId, body: PlanChange, session: SessionDep, user: User = Writers) -> PassPlan:
    plan = session.get(PassPlan, plan_id)
    if plan is None:
        raise not_found("plan", plan_id)
    before = snapshot(plan)
    if body.price_minor is not None:
        plan.price_minor = body.price_minor
    if body.active is not None:
        plan.active = body.active
    if body.car_parks is not None and sorted(set(body.car_parks)) != plan.car_parks:
        plan.car_parks = sorted(set(body.car_parks))
        session.flush()
        for monthly in session.scalars(select(MonthlyPass).where(MonthlyPass.plan_id == plan.id)):
            publish_pass(session, monthly)
    record_change(session, user, "plan.change", "plan", plan.id, before, snapshot(plan))
    session.commit()
    return plan
