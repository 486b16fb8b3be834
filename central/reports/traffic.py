"""The traffic report: occupancy through the day per vehicle class (from entries and exits), vehicles by class
and outcome, and the entries denied with why. Read from the rollups."""

from __future__ import annotations

from collections import defaultdict
from datetime import tzinfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from central.models import ReportDaily, ReportHourly
from central.reports.exceptions import DENIAL_LABELS, KIND_LABELS
from central.reports.tables import N_, Column, ColumnType, Period, Report, Series, Table

_COUNT = ColumnType.COUNT
UNKNOWN_CLASS = N_("unknown")
CLASS_LABELS = {"": UNKNOWN_CLASS}


def _hourly(session: Session, car_park: str, period: Period) -> dict[tuple[object, int, str, str], int]:
    query = (
        select(ReportHourly.day, ReportHourly.hour, ReportHourly.vehicle_class, ReportHourly.kind,
               func.sum(ReportHourly.count))
        .where(ReportHourly.kind.in_(("entry", "exit")), ReportHourly.day >= period.first,
               ReportHourly.day <= period.last)
        .group_by(ReportHourly.day, ReportHourly.hour, ReportHourly.vehicle_class, ReportHourly.kind)
    )  # fmt: skip
    if car_park:
        query = query.where(ReportHourly.car_park == car_park)
    return {(day, hour, vclass, kind): int(count) for day, hour, vclass, kind, count in session.execute(query)}


def _inside_before(session: Session, car_park: str, period: Period) -> dict[str, int]:
    """Vehicles inside by class when the period starts: every entry before it less every exit."""
    entries = func.coalesce(func.sum(ReportHourly.count).filter(ReportHourly.kind == "entry"), 0)
    exits = func.coalesce(func.sum(ReportHourly.count).filter(ReportHourly.kind == "exit"), 0)
    query = (
        select(ReportHourly.vehicle_class, entries - exits)
        .where(ReportHourly.kind.in_(("entry", "exit")), ReportHourly.day < period.first)
        .group_by(ReportHourly.vehicle_class)
    )  # fmt: skip
    if car_park:
        query = query.where(ReportHourly.car_park == car_park)
    return {vclass: int(level) for vclass, level in session.execute(query)}


def traffic(session: Session, car_park: str, period: Period, currency: str, zone: tzinfo) -> Report:
    """The traffic report of ``car_park`` (empty: every car park) over ``period``, hour by local hour."""
    counts = _hourly(session, car_park, period)
    inside = _inside_before(session, car_park, period)
    classes = sorted({k[2] for k in counts} | set(inside))
    rows, curve = [], defaultdict(list)
    labels = []
    for day in period.days:
        for hour in range(24):
            labels.append(f"{hour:02d}" if period.grain == "day" else f"{day.day:02d} {hour:02d}")
            for vclass in classes:
                came, went = counts.get((day, hour, vclass, "entry"), 0), counts.get((day, hour, vclass, "exit"), 0)
                inside[vclass] = inside.get(vclass, 0) + came - went
                curve[vclass or UNKNOWN_CLASS].append(float(inside[vclass]))
                if came or went or period.grain == "day":
                    rows.append((day, f"{hour:02d}:00", vclass, came, went, inside[vclass]))
    occupancy = Table(
        "occupancy", N_("Occupancy through the day"),
        [Column("day", N_("Day"), ColumnType.DATE), Column("hour", N_("Hour")),
         Column("vehicle_class", N_("Vehicle class"), labels=CLASS_LABELS), Column("entries", N_("Entries"), _COUNT),
         Column("exits", N_("Exits"), _COUNT), Column("inside", N_("Inside at the end of the hour"), _COUNT)],
        rows,
        note=N_("Inside: every entry before less every exit, by the journal's session records."),
    )  # fmt: skip
    tables = [occupancy, _vehicles(session, car_park, period), _denials(session, car_park, period)]
    charts = {"occupancy": Series(labels, dict(curve))}
    return Report("traffic", N_("Traffic and occupancy"), period, car_park, currency, zone, tables, charts)


def _vehicles(session: Session, car_park: str, period: Period) -> Table:
    entries = func.coalesce(func.sum(ReportDaily.count).filter(ReportDaily.kind == "entry"), 0)
    exits = func.coalesce(func.sum(ReportDaily.count).filter(ReportDaily.kind == "exit"), 0)
    query = (
        select(ReportDaily.vehicle_class, ReportDaily.outcome, entries, exits)
        .where(ReportDaily.kind.in_(("entry", "exit")), ReportDaily.day >= period.first,
               ReportDaily.day <= period.last)
        .group_by(ReportDaily.vehicle_class, ReportDaily.outcome)
        .order_by(ReportDaily.vehicle_class, ReportDaily.outcome)
    )  # fmt: skip
    if car_park:
        query = query.where(ReportDaily.car_park == car_park)
    rows = [(vclass, outcome, int(came), int(went))
            for vclass, outcome, came, went in session.execute(query)]  # fmt: skip
    return Table(
        "vehicles", N_("Vehicles by class and outcome"),
        [Column("vehicle_class", N_("Vehicle class"), labels=CLASS_LABELS),
         Column("outcome", N_("Outcome"), labels=KIND_LABELS | CLASS_LABELS),
         Column("entries", N_("Entries"), _COUNT), Column("exits", N_("Exits"), _COUNT)],
        rows,
        note=N_("Outcome: the session's kind (temporary, pass, free, special); reopened and voided: a back-out."),
    )  # fmt: skip


def _denials(session: Session, car_park: str, period: Period) -> Table:
    query = (
        select(ReportDaily.car_park, ReportDaily.lane, ReportDaily.category, func.sum(ReportDaily.count))
        .where(ReportDaily.kind == "abnormal", ReportDaily.outcome == "entry_denied",
               ReportDaily.day >= period.first, ReportDaily.day <= period.last)
        .group_by(ReportDaily.car_park, ReportDaily.lane, ReportDaily.category)
        .order_by(ReportDaily.car_park, ReportDaily.lane, ReportDaily.category)
    )  # fmt: skip
    if car_park:
        query = query.where(ReportDaily.car_park == car_park)
    rows = [(park, lane, code, int(count)) for park, lane, code, count in session.execute(query)]
    return Table(
        "denials", N_("Entries denied, and why"),
        [Column("car_park", N_("Car park")), Column("lane", N_("Lane")), Column("why", N_("Why"), labels=DENIAL_LABELS),
         Column("count", N_("Denied"), _COUNT)],
        rows,
    )  # fmt: skip
