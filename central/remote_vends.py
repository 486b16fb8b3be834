"""Asking for a remote vend (the office opens an unattended lane, the intercom case): checked, kept and audited
here for the API and the office page alike; the car park's edge carries it out on its next poll."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from central.audit import record_change
from central.core.db import utcnow
from central.errors import ApiError, not_found
from central.models import CarPark, Lane, RemoteVend, User


def vend_json(vend: RemoteVend) -> dict[str, Any]:
    return {
        "id": vend.id, "car_park": vend.car_park_id, "lane": vend.lane_id, "reason": vend.reason,
        "evidence": vend.evidence, "requested_by": vend.requested_by, "requested_at": vend.requested_at.isoformat(),
        "delivered_at": vend.delivered_at.isoformat() if vend.delivered_at else None,
        "journal_record": vend.journal_record, "outcome": vend.outcome,
    }  # fmt: skip


def request_vend(
    session: Session, user: User, *, car_park: str, lane: str, reason: str, evidence: str | None = None
) -> RemoteVend:
    """Keep the vend and its audit entry (who, when, why); the caller commits. Raises ApiError (404, 422)."""
    if session.get(CarPark, car_park) is None:
        raise not_found("car_park", car_park)
    known = session.get(Lane, lane)
    if known is not None and known.car_park_id != car_park:
        raise ApiError(422, "remote_vend.lane_elsewhere", f"lane {lane!r} is not at {car_park!r}")
    vend = RemoteVend(car_park_id=car_park, lane_id=lane, reason=reason, evidence=evidence,
                      requested_by=user.username, requested_at=utcnow())  # fmt: skip
    session.add(vend)
    session.flush()
    record_change(session, user, "remote_vend.request", "remote_vend", vend.id, None, vend_json(vend), reason=reason)
    return vend
