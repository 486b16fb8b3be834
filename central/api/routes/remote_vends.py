"""Remote vend: the office opens an unattended lane with a reason (the intercom case). Central keeps the request
(audited); the car park's edge takes it on its next poll, journals a manual open (who, when, why, the evidence
image) with the opening — so reconciliation counts it like any manual open — and reports back."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import Field
from sqlalchemy import select

from central.api.deps import CurrentEdge, SessionDep, allow
from central.api.errors import not_found
from central.api.fields import RequestModel, Text
from central.api.routes import API_PREFIX
from central.core.db import utcnow
from central.core.security import Role
from central.models import RemoteVend, User
from central.remote_vends import request_vend, vend_json

router = APIRouter(prefix=API_PREFIX, tags=["remote vend"])
Operators = allow(Role.SUPERVISOR, Role.ADMIN)
Readers = allow(Role.SUPERVISOR, Role.ADMIN, Role.AUDITOR)
Key = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]


class RemoteVendIn(RequestModel):
    car_park: Key
    lane: Key
    reason: Text = Field(min_length=3)
    evidence: str | None = Field(default=None, max_length=500, description="the intercom camera's image, if any")


@router.post("/remote-vends", status_code=201, summary="Open an unattended lane from the office, with a reason")
def post_vend(body: RemoteVendIn, session: SessionDep, user: User = Operators) -> dict[str, Any]:
    vend = request_vend(session, user, car_park=body.car_park, lane=body.lane, reason=body.reason,
                        evidence=body.evidence)  # fmt: skip
    session.commit()
    return vend_json(vend)


@router.get("/remote-vends", summary="Remote vends of a car park, newest first")
def list_vends(
    session: SessionDep, car_park: Annotated[str, Query(max_length=64)], _user: User = Readers
) -> list[dict[str, Any]]:
    query = select(RemoteVend).where(RemoteVend.car_park_id == car_park).order_by(RemoteVend.id.desc()).limit(200)
    return [vend_json(vend) for vend in session.scalars(query)]


@router.get("/edges/remote-vends", summary="The edge: remote vends waiting for its lanes",
            openapi_extra={"x-roles": ["edge"]})  # fmt: skip
def pending_vends(edge: CurrentEdge, session: SessionDep) -> dict[str, Any]:
    query = select(RemoteVend).where(RemoteVend.car_park_id == edge.car_park_id, RemoteVend.delivered_at.is_(None))
    return {"vends": [vend_json(vend) for vend in session.scalars(query.order_by(RemoteVend.id).limit(50))]}


class VendDone(RequestModel):
    vend: int = Field(ge=1, le=2**62)
    outcome: Literal["opened", "lane_unknown", "lane_busy"]
    record: Key | None = None


@router.post("/edges/remote-vends/done", summary="The edge: a remote vend journaled (or refused by the lane)",
             openapi_extra={"x-roles": ["edge"]})  # fmt: skip
def vend_done(body: VendDone, edge: CurrentEdge, session: SessionDep) -> dict[str, Any]:
    vend = session.get(RemoteVend, body.vend)
    if vend is None or vend.car_park_id != edge.car_park_id:
        raise not_found("remote_vend", body.vend)
    if vend.delivered_at is None:
        vend.delivered_at, vend.outcome, vend.journal_record = utcnow(), body.outcome, body.record
        session.commit()
    return vend_json(vend)
