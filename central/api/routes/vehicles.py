"""Vehicle lists: free vehicles by category (免费车辆), special vehicles (特殊车辆) and the blacklist (黑名单)."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Query
from pydantic import Field, model_validator
from sqlalchemy import select

from central.api.deps import ALL_STAFF, SessionDep, allow
from central.api.errors import not_found
from central.api.fields import Limit, Offset, PlateText, RecordKey, RequestModel, ResponseModel, Slug, Text, When
from central.api.routes import API_PREFIX
from central.audit import record_change, snapshot
from central.core.security import Role
from central.issuing import normalise_plate
from central.models import User, VehicleListEntry
from central.publication import publish_vehicle, retract
from central.vehicle_lists import FREE_CATEGORIES, add_vehicle_entry
from parking.wire import ListKind, VehicleList

router = APIRouter(prefix=API_PREFIX + "/vehicles", tags=["vehicle lists"])
Readers = allow(*ALL_STAFF)
Writers = allow(Role.ADMIN, Role.SUPERVISOR)


class VehicleIn(RequestModel):
    list_kind: VehicleList
    plate: PlateText
    category: Slug = Field(description="free: police, military, fire, ambulance, rescue, government, staff")
    reason: Text = ""
    car_parks: list[Slug] = Field(default_factory=list, max_length=50)
    valid_from: When | None = None
    valid_to: When | None = None

    @model_validator(mode="after")
    def _category_fits(self) -> VehicleIn:
        if self.list_kind is VehicleList.FREE and self.category not in FREE_CATEGORIES:
            raise ValueError(f"a free vehicle's category is one of {', '.join(sorted(FREE_CATEGORIES))}")
        if self.valid_from and self.valid_to and self.valid_to <= self.valid_from:
            raise ValueError("valid_to must be after valid_from")
        return self


class VehicleOut(ResponseModel):
    id: str
    list_kind: str
    plate: str
    category: str
    reason: str
    car_parks: list[str]
    valid_from: datetime
    valid_to: datetime | None
    created_at: datetime


@router.get("", response_model=list[VehicleOut], summary="List entries, by list or plate")
def list_vehicles(
    session: SessionDep,
    list_kind: VehicleList | None = None,
    plate: str | None = Query(default=None, max_length=16),
    limit: Limit = 100,
    offset: Offset = 0,
    _user: User = Readers,
) -> list[VehicleListEntry]:
    query = select(VehicleListEntry).order_by(VehicleListEntry.created_at, VehicleListEntry.id)
    if list_kind is not None:
        query = query.where(VehicleListEntry.list_kind == list_kind.value)
    if plate:
        query = query.where(VehicleListEntry.plate == normalise_plate(plate.replace("\x00", "")))
    return list(session.scalars(query.limit(limit).offset(offset)))


@router.post("", response_model=VehicleOut, status_code=201, summary="Add a plate to a list")
def add_vehicle(body: VehicleIn, session: SessionDep, user: User = Writers) -> VehicleListEntry:
    entry = add_vehicle_entry(session, user, list_kind=body.list_kind.value, plate=body.plate,
                              category=body.category, reason=body.reason, car_parks=body.car_parks,
                              valid_from=body.valid_from, valid_to=body.valid_to)  # fmt: skip
    session.commit()
    return entry


@router.put("/{entry_id}", response_model=VehicleOut, summary="Change an entry")
def change_vehicle(entry_id: RecordKey, body: VehicleIn, session: SessionDep, user: User = Writers) -> VehicleListEntry:
    entry = session.get(VehicleListEntry, entry_id)
    if entry is None:
        raise not_found("vehicle", entry_id)
    before = snapshot(entry)
    entry.list_kind, entry.plate, entry.category = body.list_kind.value, normalise_plate(body.plate), body.category
    entry.reason, entry.car_parks = body.reason, sorted(set(body.car_parks))
    entry.valid_from, entry.valid_to = body.valid_from or entry.valid_from, body.valid_to
    publish_vehicle(session, entry)
    record_change(session, user, "vehicle.change", "vehicle", entry.id, before, snapshot(entry))
    session.commit()
    return entry


@router.delete("/{entry_id}", status_code=204, summary="Remove an entry (edges drop it at their next sync)")
def remove_vehicle(entry_id: RecordKey, session: SessionDep, user: User = Writers) -> None:
    entry = session.get(VehicleListEntry, entry_id)
    if entry is None:
        raise not_found("vehicle", entry_id)
    before = snapshot(entry)
    session.delete(entry)
    retract(session, ListKind.VEHICLES, entry_id)
    record_change(session, user, "vehicle.remove", "vehicle", entry_id, before, None)
    session.commit()
