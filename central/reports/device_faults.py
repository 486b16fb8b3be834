"""Device faults: the edge journals each one as a ``device_fault`` record when it starts (a device offline or
faulted) and another when it clears (``fault``: the id of the record that started it). Ingest projects the pair into
``device_faults``; the report lists the faults of a period with how long each lasted (an open one as ongoing),
beside the barrier faults the lanes report as abnormal events (whose duration runs to the lane's next barrier
command, an upper bound)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, tzinfo
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, aliased

from central.models import DeviceFault, EdgeRecord
from central.reports.exceptions import LIST_LIMIT, limited, period_records, text_of
from central.reports.tables import N_, Column, ColumnType, Period, Report, Table

_AT, _COUNT, _MINUTES = ColumnType.DATETIME, ColumnType.COUNT, ColumnType.MINUTES
KIND_LABELS = {
    "barrier_io": N_("Barrier I/O module"), "loop_detector": N_("Loop detector"), "plate_camera": N_("Plate camera"),
    "card_reader": N_("Card reader"), "display": N_("Display"), "snapshot_camera": N_("Snapshot camera"),
    "card_dispenser": N_("Card dispenser"), "receipt_printer": N_("Receipt printer"),
}  # fmt: skip
HEALTH_LABELS = {"offline": N_("Offline"), "fault": N_("Faulted")}
STATE_LABELS = {"ongoing": N_("Ongoing"), "cleared": N_("Cleared")}
_STARTED = ("edge_id", "car_park", "lane", "device", "device_kind", "health", "reason", "started_at")
_CLEARED = ("cleared_at", "cleared_id", "cleared_reason")


def _bounded(payload: Any, key: str, length: int) -> str:
    value = payload.get(key) if isinstance(payload, dict) else None
    return value[:length] if isinstance(value, str) else ""


def _row(record: dict[str, Any]) -> dict[str, Any] | None:
    """The ``device_faults`` row a stored ``device_fault`` record starts or clears (None: it names no fault)."""
    payload = record["payload"]
    lanes = payload.get("lanes") if isinstance(payload, dict) else None
    served = ", ".join(v for v in lanes if isinstance(v, str)) if isinstance(lanes, list) else ""
    row = {"edge_id": record["edge_id"], "car_park": record["car_park"], "lane": (record["lane"] or served)[:64],
           "device": _bounded(payload, "device", 64), "device_kind": _bounded(payload, "device_kind", 32),
           "health": "", "reason": "", "started_at": None, "cleared_at": None, "cleared_id": None,
           "cleared_reason": ""}  # fmt: skip
    event = _bounded(payload, "event", 16)
    if event == "started":
        health, reason = _bounded(payload, "health", 16), _bounded(payload, "reason", 200)
        return row | {"fault_id": record["id"], "health": health, "reason": reason, "started_at": record["at"]}
    fault = _bounded(payload, "fault", 64)
    if event != "cleared" or not fault:
        return None
    return row | {"fault_id": fault, "cleared_at": record["at"], "cleared_id": record["id"],
                  "cleared_reason": _bounded(payload, "reason", 200)}  # fmt: skip


def project_device_faults(session: Session, records: Iterable[dict[str, Any]]) -> None:
    """Project stored records (dicts with the ``edge_records`` columns; other kinds are skipped) into
    ``device_faults``, in journal order: a start makes the row, its clearing completes it (either may come first).
    A clearing only completes a fault of its own edge."""
    dialect = session.get_bind().dialect.name
    for record in records:
        if record["kind"] != "device_fault" or (row := _row(record)) is None:
            continue
        statement = (postgresql_insert if dialect == "postgresql" else sqlite_insert)(DeviceFault).values(row)
        columns = _STARTED if row["started_at"] is not None else _CLEARED
        session.execute(statement.on_conflict_do_update(
            index_elements=["fault_id"], set_={c: statement.excluded[c] for c in columns},
            where=DeviceFault.edge_id == statement.excluded.edge_id,
        ))  # fmt: skip


def _faults(session: Session, car_park: str, period: Period, zone: tzinfo) -> list[DeviceFault]:
    """The faults that were on at some time in the period: started before its end, not cleared before its start."""
    start, end = period.bounds(zone)
    query = select(DeviceFault).where(
        DeviceFault.started_at < end, or_(DeviceFault.cleared_at.is_(None), DeviceFault.cleared_at >= start)
    )
    if car_park:
        query = query.where(DeviceFault.car_park == car_park)
    order = (DeviceFault.started_at, DeviceFault.fault_id)
    return list(session.scalars(query.order_by(*order).limit(LIST_LIMIT + 1)))


def _duration(started: datetime | None, cleared: datetime | None) -> tuple[int | None, int | None]:
    if started is None or cleared is None:
        return None, None
    seconds = (cleared - started).total_seconds()
    return round(seconds / 60), round(seconds)


def _device_table(session: Session, car_park: str, period: Period, zone: tzinfo) -> Table:
    rows = []
    for f in _faults(session, car_park, period, zone):
        minutes, seconds = _duration(f.started_at, f.cleared_at)
        state = "cleared" if f.cleared_at is not None else "ongoing"
        rows.append((f.started_at, f.car_park, f.lane, f.device, f.device_kind, f.health, f.reason, f.cleared_at,
                     state, minutes, seconds))  # fmt: skip
    return limited(Table(
        "faults", N_("Device faults"),
        [Column("at", N_("Fault from"), _AT), Column("car_park", N_("Car park")), Column("lane", N_("Lane")),
         Column("device", N_("Device")), Column("kind", N_("Kind"), labels=KIND_LABELS),
         Column("health", N_("State"), labels=HEALTH_LABELS), Column("reason", N_("Reason")),
         Column("until", N_("Until"), _AT), Column("status", N_("Now"), labels=STATE_LABELS),
         Column("minutes", N_("Minutes"), _MINUTES), Column("seconds", N_("Seconds"), _COUNT)],
        rows,
        note=N_("Every device the edge drives: offline (no link, no answer) or faulted (the device says it is "
                "broken), until it was working again; an ongoing fault has no end yet."),
    ))  # fmt: skip


def _barrier_table(session: Session, car_park: str, period: Period, zone: tzinfo) -> Table:
    faults = [r for r in period_records(session, car_park, period, zone, "abnormal_event")
              if text_of(r.payload, "event") == "barrier_fault"]  # fmt: skip
    after = aliased(EdgeRecord)
    rows = []
    for fault in faults:
        cleared: datetime | None = session.scalars(
            select(after.at).where(after.edge_id == fault.edge_id, after.seq > fault.seq, after.lane == fault.lane,
                                   after.kind == "barrier_command")
            .order_by(after.seq).limit(1)
        ).first()  # fmt: skip
        minutes = round((cleared - fault.at).total_seconds() / 60) if cleared else None
        rows.append((fault.at, fault.car_park, fault.lane or "", text_of(fault.payload, "detail"), cleared, minutes))
    return limited(Table(
        "barrier_faults", N_("Barrier faults reported by the lanes"),
        [Column("at", N_("Fault from"), _AT), Column("car_park", N_("Car park")), Column("lane", N_("Lane")),
         Column("detail", N_("Detail")), Column("until", N_("Until the next barrier command"), _AT),
         Column("minutes", N_("Minutes"), _MINUTES)],
        rows,
        note=N_("A lane journals a barrier fault when the barrier reports it: the duration runs to the lane's next "
                "barrier command and is an upper bound."),
    ))  # fmt: skip


def device_faults(session: Session, car_park: str, period: Period, currency: str, zone: tzinfo) -> Report:
    """Device faults with how long each lasted (an open one as ongoing), and the barrier faults the lanes report."""
    tables = [_device_table(session, car_park, period, zone), _barrier_table(session, car_park, period, zone)]
    return Report("device_faults", N_("Device faults"), period, car_park, currency, zone, tables)
