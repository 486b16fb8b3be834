"""Tariffs published to the edges: each publication is a new version with the time it takes effect, validated
first with the edge's own loader (:func:`parking.tariff.parse_tariff`), so a file the lanes would refuse is refused
here with every problem at its key path. Every version stays published (a vehicle that entered under an earlier
version is charged by it); withdrawing a tariff withdraws all its versions."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from fastapi import APIRouter
from pydantic import AwareDatetime, Field
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from central.api.deps import SessionDep, allow
from central.api.errors import ApiError, not_found
from central.api.fields import RequestModel, ResponseModel, Slug, SlugKey
from central.api.routes import API_PREFIX
from central.audit import record_change, snapshot
from central.core.db import utcnow
from central.core.security import Role
from central.models import Tariff, TariffRelease, TariffVersion, User
from central.publication import publish_tariff, retract
from central.reconciliation.projection import archive_tariff
from parking.tariff import TariffFileError, TariffProblem, parse_tariff
from parking.wire import ListKind

router = APIRouter(prefix=API_PREFIX + "/tariffs", tags=["tariffs"])
Readers = allow(Role.ADMIN, Role.OFFICE, Role.SUPERVISOR)
Writers = allow(Role.ADMIN, Role.OFFICE)
# A version cannot take effect in the past (it would re-price stays already begun); this much clock skew is allowed.
_PAST_TOLERANCE = timedelta(minutes=5)


class TariffIn(RequestModel):
    content: str = Field(min_length=1, max_length=200_000, description="the tariff file, as the edge reads it")
    car_parks: list[Slug] = Field(default_factory=list, max_length=50, description="empty: every car park")
    effective_from: AwareDatetime | None = Field(
        default=None, description="when this version starts quoting (stays that enter from then on); default now"
    )


class TariffReleaseOut(ResponseModel):
    id: str
    number: int
    sha256: str
    effective_from: datetime
    published_by: str
    published_at: datetime


class TariffOut(ResponseModel):
    id: str
    sha256: str
    car_parks: list[str]
    updated_at: datetime
    content: str
    versions: list[TariffReleaseOut] = Field(default_factory=list)


def _releases(session: Session, tariff_id: str) -> list[TariffRelease]:
    query = select(TariffRelease).where(TariffRelease.tariff_id == tariff_id).order_by(TariffRelease.number)
    return list(session.scalars(query))


def _out(session: Session, tariff: Tariff) -> TariffOut:
    versions = [TariffReleaseOut.model_validate(r, from_attributes=True) for r in _releases(session, tariff.id)]
    return TariffOut(id=tariff.id, sha256=tariff.sha256, car_parks=list(tariff.car_parks),
                     updated_at=tariff.updated_at, content=tariff.content, versions=versions)  # fmt: skip


def _refused(problems: list[TariffProblem]) -> ApiError:
    detail = [{"path": p.path, "message": p.message} for p in problems]
    return ApiError(422, "tariff.invalid", "; ".join(str(p) for p in problems), detail)


def validated(tariff_id: str, content: str, effective_from: datetime) -> None:
    """Refuse (422 ``tariff.invalid``, problems by key path) a text the edges' loader would refuse, one whose
    ``id`` is not the tariff it is published as, or a version that would take effect in the past."""
    try:
        tariff = parse_tariff(content, source=f"tariff {tariff_id}")
    except TariffFileError as err:
        raise _refused(err.problems) from None
    if tariff.id != tariff_id:
        raise _refused([TariffProblem("id", f"the file's id is {tariff.id!r}; it is published as {tariff_id!r}")])
    if effective_from < utcnow() - _PAST_TOLERANCE:
        raise _refused([TariffProblem("effective_from", "lies in the past: a version cannot re-price stays begun")])


@router.get("", response_model=list[TariffOut], summary="List published tariffs with their versions")
def list_tariffs(session: SessionDep, _user: User = Readers) -> list[TariffOut]:
    return [_out(session, tariff) for tariff in session.scalars(select(Tariff).order_by(Tariff.id))]


@router.put("/{tariff_id}", response_model=TariffOut, summary="Publish a new version of a tariff")
def put_tariff(tariff_id: SlugKey, body: TariffIn, session: SessionDep, user: User = Writers) -> TariffOut:
    content = body.content.replace("\x00", "")
    effective_from = body.effective_from or utcnow()
    validated(tariff_id, content, effective_from)
    tariff = session.get(Tariff, tariff_id)
    before = snapshot(tariff) if tariff is not None else None
    if tariff is None:
        tariff = Tariff(id=tariff_id, content="", sha256="")
        session.add(tariff)
    tariff.content = content
    tariff.sha256 = hashlib.sha256(content.encode("utf-8")).hexdigest()
    tariff.car_parks = sorted(set(body.car_parks))
    tariff.updated_at = utcnow()
    last = session.scalar(select(func.max(TariffRelease.number)).where(TariffRelease.tariff_id == tariff_id)) or 0
    release = TariffRelease(id=f"{tariff_id}@{last + 1}", tariff_id=tariff_id, number=last + 1, content=content,
                            sha256=tariff.sha256, effective_from=effective_from, car_parks=tariff.car_parks,
                            published_by=user.username)  # fmt: skip
    session.add(release)
    session.flush()
    publish_tariff(session, release)
    archive_tariff(
        session, TariffVersion(sha256=tariff.sha256, tariff_id=tariff.id, content=content, source="published")
    )
    after = snapshot(tariff) | {"version": release.id, "effective_from": effective_from.isoformat()}
    record_change(session, user, "tariff.publish", "tariff", tariff.id, before, after)
    session.commit()
    return _out(session, tariff)


@router.delete("/{tariff_id}", status_code=204, summary="Withdraw a tariff and every version of it")
def delete_tariff(tariff_id: SlugKey, session: SessionDep, user: User = Writers) -> None:
    tariff = session.get(Tariff, tariff_id)
    if tariff is None:
        raise not_found("tariff", tariff_id)
    before = snapshot(tariff)
    for release in _releases(session, tariff_id):
        retract(session, ListKind.TARIFFS, release.id)
        session.delete(release)
    retract(session, ListKind.TARIFFS, tariff_id)  # published before tariffs had versions
    session.delete(tariff)
    record_change(session, user, "tariff.withdraw", "tariff", tariff_id, before, None)
    session.commit()
