"""Faults the booth collectors reported (procedure 7.2): an edge journals each as a ``manual_action`` record with
``action`` ``fault_report``, the collector, the booth, the lane, the device (or none: the lane itself) and the note.
Read here for the supervisor (the API and the shift reports page)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from central.models import EdgeRecord

SHOWN = 20  # on the supervisor's page


@dataclass(frozen=True, slots=True)
class FaultReport:
    record_id: str
    edge_id: str
    car_park: str
    lane: str | None
    device: str | None
    operator: str
    booth: str | None
    note: str
    at: datetime
    received_at: datetime


def fault_reports(
    session: Session, *, car_park: str | None = None, since: datetime | None = None, limit: int = SHOWN,
    offset: int = 0,
) -> list[FaultReport]:  # fmt: skip
    """The fault reports newest first, of one car park or all, at or after ``since``."""
    action = EdgeRecord.payload["action"].as_string()
    query = (
        select(EdgeRecord).where(EdgeRecord.kind == "manual_action", action == "fault_report")
        .order_by(EdgeRecord.at.desc(), EdgeRecord.id.desc()).limit(limit).offset(offset)
    )  # fmt: skip
    if car_park:
        query = query.where(EdgeRecord.car_park == car_park.replace("\x00", ""))
    if since is not None:
        query = query.where(EdgeRecord.at >= since)
    return [_report(record) for record in session.scalars(query)]


def _report(record: EdgeRecord) -> FaultReport:
    p = record.payload
    device, booth = p.get("device"), p.get("booth")
    return FaultReport(
        record_id=record.id, edge_id=record.edge_id, car_park=record.car_park, lane=record.lane,
        device=str(device) if device else None, operator=str(p.get("operator", "")),
        booth=str(booth) if booth else None, note=str(p.get("note") or p.get("reason") or ""), at=record.at,
        received_at=record.received_at,
    )  # fmt: skip
