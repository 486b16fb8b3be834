"""Tariff files published to the edges (the edge's tariff engine reads them; central stores and versions them)."""

from __future__ import annotations

import hashlib
from datetime import datetime

from fastapi import APIRouter
from pydantic import Field
from sqlalchemy import select

from central.api.deps import SessionDep, allow
from central.api.errors import not_found
from central.api.fields import RequestModel, ResponseModel, Slug, SlugKey
from central.api.routes import API_PREFIX
from central.audit import record_change, snapshot
from central.core.db import utcnow
from central.core.security import Role
from central.models import Tariff, TariffVersion, User
from central.publication import publish_tariff, retract
from central.reconciliation.projection import archive_tariff
from parking.wire import ListKind

router = APIRouter(prefix=API_PREFIX + "/tariffs", tags=["tariffs"])
Readers = allow(Role.ADMIN, Role.OFFICE, Role.SUPERVISOR)
Writers = allow(Role.ADMIN, Role.OFFICE)


class TariffIn(RequestModel):
    content: str = Field(min_length=1, max_length=200_000, description="the tariff file, as the edge reads it")
    car_parks: list[Slug] = Field(default_factory=list, max_length=50, description="empty: every car park")


class TariffOut(ResponseModel):
    id: str
    sha256: str
    car_parks: list[str]
    updated_at: datetime
    content: str


@router.get("", response_model=list[TariffOut], summary="List published tariffs")
def list_tariffs(session: SessionDep, _user: User = Readers) -> list[Tariff]:
    return list(session.scalars(select(Tariff).order_by(Tariff.id)))


@router.put("/{tariff_id}", response_model=TariffOut, summary="Publish a tariff (create or replace)")
def put_tariff(tariff_id: SlugKey, body: TariffIn, session: SessionDep, user: User = Writers) -> Tariff:
    content = body.content.replace("\x00", "")
    tariff = session.get(Tariff, tariff_id)
    before = snapshot(tariff) if tariff is not None else None
    if tariff is None:
        tariff = Tariff(id=tariff_id, content="", sha256="")
        session.add(tariff)
    tariff.content = content
    tariff.sha256 = hashlib.sha256(content.encode("utf-8")).hexdigest()
    tariff.car_parks = sorted(set(body.car_parks))
    tariff.updated_at = utcnow()
    session.flush()
    publish_tariff(session, tariff)
    archive_tariff(
        session, TariffVersion(sha256=tariff.sha256, tariff_id=tariff.id, content=content, source="published")
    )
    record_change(session, user, "tariff.publish", "tariff", tariff.id, before, snapshot(tariff))
    session.commit()
    return tariff


@router.delete("/{tariff_id}", status_code=204, summary="Withdraw a tariff")
def delete_tariff(tariff_id: SlugKey, session: SessionDep, user: User = Writers) -> None:
    tariff = session.get(Tariff, tariff_id)
    if tariff is None:
        raise not_found("tariff", tariff_id)
    before = snapshot(tariff)
    session.delete(tariff)
    retract(session, ListKind.TARIFFS, tariff_id)
    record_change(session, user, "tariff.withdraw", "tariff", tariff_id, before, None)
    session.commit()
