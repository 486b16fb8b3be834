"""The audit log, for the admin and the supervisor."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Query
from sqlalchemy import select

from central.api.deps import SessionDep, allow
from central.api.fields import Limit, Offset, ResponseModel
from central.api.routes import API_PREFIX
from central.core.security import Role
from central.models import AuditEntry, User

router = APIRouter(prefix=API_PREFIX, tags=["audit"])
Readers = allow(Role.ADMIN, Role.SUPERVISOR)


class AuditOut(ResponseModel):
    id: int
    at: datetime
    user_id: int | None
    username: str
    action: str
    entity: str
    entity_id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None


@router.get("/audit", response_model=list[AuditOut], summary="Changes, newest first, by entity and id")
def list_audit(
    session: SessionDep,
    entity: str | None = Query(default=None, max_length=32),
    entity_id: str | None = Query(default=None, max_length=64),
    limit: Limit = 100,
    offset: Offset = 0,
    _user: User = Readers,
) -> list[AuditEntry]:
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit).offset(offset)
    if entity is not None:
        query = query.where(AuditEntry.entity == entity.replace("\x00", ""))
    if entity_id is not None:
        query = query.where(AuditEntry.entity_id == entity_id.replace("\x00", ""))
    return list(session.scalars(query))
