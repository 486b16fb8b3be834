"""What the edges reported: their journal records (the source of truth) and the hash-chain breaks found."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlalchemy import select

from central.api.deps import SessionDep, allow
from central.api.fields import Limit, Offset, ResponseModel, When
from central.api.routes import API_PREFIX
from central.core.security import Role
from central.models import ChainBreak, EdgeRecord, User
from parking.wire import RecordKind

router = APIRouter(prefix=API_PREFIX, tags=["journal"])
Readers = allow(Role.ADMIN, Role.SUPERVISOR, Role.OFFICE)


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
