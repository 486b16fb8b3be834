"""The registry: car parks, lanes, and edges with their tokens (shown once, stored as a digest, revocable)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from zoneinfo import available_timezones

from fastapi import APIRouter
from pydantic import Field, field_validator
from sqlalchemy import select

from central.api.deps import SessionDep, allow
from central.api.errors import conflict, not_found
from central.api.fields import Currency, Name, RequestModel, ResponseModel, Slug, SlugKey
from central.api.routes import API_PREFIX
from central.audit import record_change, snapshot
from central.core.db import utcnow
from central.core.security import Role, new_token, token_digest
from central.models import CarPark, Edge, Lane, User

router = APIRouter(prefix=API_PREFIX, tags=["registry"])
Admin = allow(Role.ADMIN)
Readers = allow(Role.ADMIN, Role.SUPERVISOR, Role.OFFICE)


class CarParkIn(RequestModel):
    id: Slug
    name: Name
    timezone: str = "Asia/Shanghai"
    currency: Currency = "CNY"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        if value not in available_timezones():
            raise ValueError("not an IANA time zone such as Asia/Shanghai")
        return value


class CarParkOut(ResponseModel):
    id: str
    name: str
    timezone: str
    currency: str


class LaneIn(RequestModel):
    id: Slug
    car_park_id: Slug
    name: Name
    direction: Literal["entry", "exit", "door"]


class LaneOut(ResponseModel):
    id: str
    car_park_id: str
    name: str
    direction: str


class EdgeIn(RequestModel):
    id: Slug
    car_park_id: Slug
    name: Name


class EdgeOut(ResponseModel):
    id: str
    car_park_id: str
    name: str
    active: bool = Field(description="holds a token that is not revoked")
    token_issued_at: datetime | None
    revoked_at: datetime | None
    synced_version: int
    last_sync_at: datetime | None
    chain_seq: int
    last_ingest_at: datetime | None
    cert_sha256: str | None = Field(description="the pinned SHA-256 of its client certificate (none: any the CA "
                                                "issued to its id)")  # fmt: skip

    @classmethod
    def of(cls, edge: Edge) -> EdgeOut:
        return cls(
            id=edge.id, car_park_id=edge.car_park_id, name=edge.name,
            active=edge.token_hash is not None and edge.revoked_at is None, token_issued_at=edge.token_issued_at,
            revoked_at=edge.revoked_at, synced_version=edge.synced_version, last_sync_at=edge.last_sync_at,
            chain_seq=edge.chain_seq, last_ingest_at=edge.last_ingest_at, cert_sha256=edge.cert_sha256,
        )  # fmt: skip


class CertificatePin(RequestModel):
    sha256: str | None = Field(max_length=95, description="the SHA-256 fingerprint of the edge's client certificate "
                               "(hex, colons allowed, as `openssl x509 -noout -fingerprint -sha256` prints it); null "
                               "unpins")  # fmt: skip

    @field_validator("sha256")
    @classmethod
    def _fingerprint(cls, value: str | None) -> str | None:
        if value is None:
            return None
        digest = value.replace(":", "").strip().lower()
        if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise ValueError("not a SHA-256 fingerprint: 64 hex digits (colons allowed)")
        return digest


class EdgeToken(ResponseModel):
    edge_id: str
    token: str = Field(description="shown this once: central keeps only its digest")


@router.get("/car-parks", response_model=list[CarParkOut], summary="List car parks")
def list_car_parks(session: SessionDep, _user: User = Readers) -> list[CarPark]:
    return list(session.scalars(select(CarPark).order_by(CarPark.id)))


@router.post("/car-parks", response_model=CarParkOut, status_code=201, summary="Register a car park")
def create_car_park(body: CarParkIn, session: SessionDep, user: User = Admin) -> CarPark:
    if session.get(CarPark, body.id) is not None:
        raise conflict("car_park.exists", f"car park {body.id!r} exists")
    car_park = CarPark(**body.model_dump())
    session.add(car_park)
    session.flush()
    record_change(session, user, "car_park.create", "car_park", car_park.id, None, snapshot(car_park))
    session.commit()
    return car_park


@router.get("/lanes", response_model=list[LaneOut], summary="List lanes")
def list_lanes(session: SessionDep, _user: User = Readers) -> list[Lane]:
    return list(session.scalars(select(Lane).order_by(Lane.car_park_id, Lane.id)))


@router.post("/lanes", response_model=LaneOut, status_code=201, summary="Register a lane")
def create_lane(body: LaneIn, session: SessionDep, user: User = Admin) -> Lane:
    if session.get(CarPark, body.car_park_id) is None:
        raise not_found("car_park", body.car_park_id)
    if session.get(Lane, body.id) is not None:
        raise conflict("lane.exists", f"lane {body.id!r} exists")
    lane = Lane(**body.model_dump())
    session.add(lane)
    session.flush()
    record_change(session, user, "lane.create", "lane", lane.id, None, snapshot(lane))
    session.commit()
    return lane


@router.get("/edges", response_model=list[EdgeOut], summary="List edges with their sync and ingest state")
def list_edges(session: SessionDep, _user: User = Readers) -> list[EdgeOut]:
    return [EdgeOut.of(edge) for edge in session.scalars(select(Edge).order_by(Edge.id))]


@router.post("/edges", response_model=EdgeToken, status_code=201, summary="Register an edge: answers its token once")
def create_edge(body: EdgeIn, session: SessionDep, user: User = Admin) -> EdgeToken:
    if session.get(CarPark, body.car_park_id) is None:
        raise not_found("car_park", body.car_park_id)
    if session.get(Edge, body.id) is not None:
        raise conflict("edge.exists", f"edge {body.id!r} exists")
    token = new_token("pge")
    edge = Edge(id=body.id, car_park_id=body.car_park_id, name=body.name, token_hash=token_digest(token),
                token_issued_at=utcnow())  # fmt: skip
    session.add(edge)
    session.flush()
    record_change(session, user, "edge.create", "edge", edge.id, None, snapshot(edge))
    session.commit()
    return EdgeToken(edge_id=edge.id, token=token)


@router.post("/edges/{edge_id}/token", response_model=EdgeToken, summary="Issue a new token (the old one stops)")
def rotate_edge_token(edge_id: SlugKey, session: SessionDep, user: User = Admin) -> EdgeToken:
    edge = session.get(Edge, edge_id)
    if edge is None:
        raise not_found("edge", edge_id)
    before = snapshot(edge)
    token = new_token("pge")
    edge.token_hash = token_digest(token)
    edge.token_issued_at = utcnow()
    edge.revoked_at = None
    record_change(session, user, "edge.token", "edge", edge.id, before, snapshot(edge))
    session.commit()
    return EdgeToken(edge_id=edge.id, token=token)


@router.post("/edges/{edge_id}/revoke", response_model=EdgeOut, summary="Revoke the edge's token")
def revoke_edge(edge_id: SlugKey, session: SessionDep, user: User = Admin) -> EdgeOut:
    edge = session.get(Edge, edge_id)
    if edge is None:
        raise not_found("edge", edge_id)
    before = snapshot(edge)
    edge.revoked_at = utcnow()
    record_change(session, user, "edge.revoke", "edge", edge.id, before, snapshot(edge))
    session.commit()
    return EdgeOut.of(edge)


@router.put("/edges/{edge_id}/certificate", response_model=EdgeOut,
            summary="Pin the SHA-256 of the edge's client certificate (null: any the CA issued to its id)")  # fmt: skip
def pin_edge_certificate(edge_id: SlugKey, body: CertificatePin, session: SessionDep, user: User = Admin) -> EdgeOut:
    edge = session.get(Edge, edge_id)
    if edge is None:
        raise not_found("edge", edge_id)
    before = snapshot(edge)
    edge.cert_sha256 = body.sha256
    record_change(session, user, "edge.certificate", "edge", edge.id, before, snapshot(edge))
    session.commit()
    return EdgeOut.of(edge)
