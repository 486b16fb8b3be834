"""Holders (owners and tenants) and the units they belong to."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Query
from pydantic import Field
from sqlalchemy import select

from central.api.deps import ALL_STAFF, SessionDep, allow
from central.api.errors import not_found
from central.api.fields import Limit, Name, Offset, RequestModel, ResponseModel, RowId, ShortText, Text
from central.api.routes import API_PREFIX
from central.audit import record_change, snapshot
from central.core.security import Role
from central.models import Holder, Unit, User
from central.publication import republish_holder

router = APIRouter(prefix=API_PREFIX, tags=["holders"])
Readers = allow(*ALL_STAFF)
Writers = allow(Role.ADMIN, Role.FRONT_DESK, Role.OFFICE)


class UnitIn(RequestModel):
    building: ShortText = Field(min_length=1)
    room: ShortText = Field(min_length=1)
    notes: Text = ""


class UnitOut(ResponseModel):
    id: int
    building: str
    room: str
    notes: str


class HolderIn(RequestModel):
    name: Name
    phone: ShortText = ""
    email: Text = Field(default="", max_length=128)
    unit_id: int | None = Field(default=None, ge=1, le=2_147_483_647)
    notes: Text = ""


class HolderChange(RequestModel):
    name: Name | None = None
    phone: ShortText | None = None
    email: Text | None = Field(default=None, max_length=128)
    unit_id: int | None = Field(default=None, ge=1, le=2_147_483_647)
    notes: Text | None = None


class HolderOut(ResponseModel):
    id: int
    name: str
    phone: str
    email: str
    unit_id: int | None
    notes: str
    created_at: datetime


@router.get("/units", response_model=list[UnitOut], summary="List units")
def list_units(session: SessionDep, limit: Limit = 100, offset: Offset = 0, _user: User = Readers) -> list[Unit]:
    return list(session.scalars(select(Unit).order_by(Unit.building, Unit.room).limit(limit).offset(offset)))


@router.post("/units", response_model=UnitOut, status_code=201, summary="Add a unit (building and room)")
def create_unit(body: UnitIn, session: SessionDep, user: User = Writers) -> Unit:
    unit = Unit(**body.model_dump())
    session.add(unit)
    session.flush()
    record_change(session, user, "unit.create", "unit", unit.id, None, snapshot(unit))
    session.commit()
    return unit


@router.get("/holders", response_model=list[HolderOut], summary="List or search holders")
def list_holders(
    session: SessionDep,
    name: str | None = Query(default=None, max_length=128),
    limit: Limit = 100,
    offset: Offset = 0,
    _user: User = Readers,
) -> list[Holder]:
    query = select(Holder).order_by(Holder.id).limit(limit).offset(offset)
    if name:
        query = query.where(Holder.name.contains(name.replace("\x00", ""), autoescape=True))
    return list(session.scalars(query))


@router.get("/holders/{holder_id}", response_model=HolderOut, summary="One holder")
def get_holder(holder_id: RowId, session: SessionDep, _user: User = Readers) -> Holder:
    holder = session.get(Holder, holder_id)
    if holder is None:
        raise not_found("holder", holder_id)
    return holder


@router.post("/holders", response_model=HolderOut, status_code=201, summary="Add a holder")
def create_holder(body: HolderIn, session: SessionDep, user: User = Writers) -> Holder:
    if body.unit_id is not None and session.get(Unit, body.unit_id) is None:
        raise not_found("unit", body.unit_id)
    holder = Holder(**body.model_dump())
    session.add(holder)
    session.flush()
    record_change(session, user, "holder.create", "holder", holder.id, None, snapshot(holder))
    session.commit()
    return holder


@router.patch("/holders/{holder_id}", response_model=HolderOut, summary="Change a holder (their passes resync)")
def change_holder(holder_id: RowId, body: HolderChange, session: SessionDep, user: User = Writers) -> Holder:
    holder = session.get(Holder, holder_id)
    if holder is None:
        raise not_found("holder", holder_id)
    if body.unit_id is not None and session.get(Unit, body.unit_id) is None:
        raise not_found("unit", body.unit_id)
    before = snapshot(holder)
    for key, value in body.model_dump(exclude_unset=True, exclude_none=True).items():
        setattr(holder, key, value)
    session.flush()
    if before["name"] != holder.name or before["unit_id"] != holder.unit_id:
        republish_holder(session, holder.id)
    record_change(session, user, "holder.change", "holder", holder.id, before, snapshot(holder))
    session.commit()
    return holder
