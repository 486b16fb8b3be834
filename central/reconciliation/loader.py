"""Reading one car park's day from the database into :class:`~.shift_records.ShiftRecords`, a few set-based
queries per day (never one per transaction), then reconciling it with the pure checks."""

from __future__ import annotations

import functools
import gc
import logging
from bisect import bisect_left, bisect_right
from collections import defaultdict, namedtuple
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from operator import attrgetter
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, and_, case, func, select
from sqlalchemy.orm import Session

from central.models import CarPark, CashBag, ChainBreak, MoneyRecord, ShiftReview, Tariff, TariffVersion
from central.reconciliation.checks import ShiftResult, reconcile_shift
from central.reconciliation.findings import ReconcileSettings
from central.reconciliation.peers import CollectorRates, collector_rates, flag_outliers
from central.reconciliation.shift_records import BagCustody, ChainProblem, MoneyRow, Review, ShiftRecords
from parking.shift_report import check_shift_report
from parking.tariff import Tariff as CompiledTariff
from parking.tariff import TariffError, parse_tariff

_LOGGER = logging.getLogger(__name__)
M = MoneyRecord.__table__.c
CARD_LOOKBACK = timedelta(days=30)  # a temporary card out longer than this is no longer counted as out


@dataclass
class DayResult:
    car_park: str
    day: date
    shifts: list[ShiftResult]
    collectors: list[CollectorRates]
    closed: bool
    quotes: int = 0
    states: dict[str, int] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "car_park": self.car_park,
            "day": self.day.isoformat(),
            "closed": self.closed,
            "states": self.states,
            "shifts": [s.as_json() for s in self.shifts],
            "collectors": [c.as_json() for c in self.collectors],
        }


@functools.lru_cache(maxsize=256)
def compiled_tariff(digest: str, content: str) -> CompiledTariff | None:
    """A tariff text compiled once per hash (the text of a hash never changes)."""
    try:
        return parse_tariff(content.encode("utf-8"), source=f"tariff {digest[:12]}")
    except TariffError as err:
        _LOGGER.warning("tariff %s does not compile: %s", digest, err)
        return None


_EXTRA = (
    MoneyRecord.detail["coupons"].label("coupons"),
    MoneyRecord.detail["presented_card"].as_boolean().label("presented_card"),
)
_UNUSED = frozenset({"detail", "car_park", "hash_ok", "tariff_id"})  # no check reads these (the car park is known)
_READ = (*(c for c in MoneyRecord.__table__.c if c.key not in _UNUSED), *_EXTRA)
# The checks read each row's fields many times over: a named tuple's field is a C-level item lookup, an order of
# magnitude cheaper than a SQLAlchemy Row's attribute (found by name at every access).
_MoneyRow = namedtuple("_MoneyRow", [c.key for c in _READ])  # type: ignore[misc]


def _fetch(session: Session, query: Select[Any]) -> Sequence[Sequence[Any]]:
    """Every row of a Core ``query``, on the session's connection (and in its transaction).

    On PostgreSQL through psycopg, the driver SQLAlchemy already uses, straight from the driver's connection in
    the binary format: no SQLAlchemy row or result processing (of no use here: psycopg's timestamptz arrive
    aware, its JSON decoded by the engine's own loaders), and the server sends integers and times without
    formatting them as text. That halves the cost of reading a day's thousands of rows. Elsewhere (SQLite,
    whose times SQLAlchemy's types make aware) through SQLAlchemy Core.
    """
    connection = session.connection()
    if connection.dialect.driver != "psycopg":
        return connection.execute(query).all()
    compiled = query.compile(dialect=connection.dialect, compile_kwargs={"render_postcompile": True})
    driver: Any = connection.connection.driver_connection
    with driver.cursor(binary=True) as cursor:
        cursor.execute(str(compiled), compiled.params)
        rows: list[tuple[Any, ...]] = cursor.fetchall()
    return rows


def _rows(session: Session, *where: Any) -> list[MoneyRow]:
    rows = _fetch(session, select(*_READ).where(*where).order_by(M.seq))
    # tuple.__new__ is _MoneyRow._make without its Python frame
    return list(map(functools.partial(tuple.__new__, _MoneyRow), rows))


def _details(session: Session, record_ids: Sequence[str], key: str) -> dict[str, Any]:
    if not record_ids:
        return {}
    query = select(M.record_id, MoneyRecord.detail[key]).where(M.record_id.in_(list(record_ids)))
    return {str(record_id): value for record_id, value in session.execute(query)}


def day_bounds(day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(0), zone)
    return start, datetime.combine(day + timedelta(days=1), time(0), zone)


def _tariffs(session: Session, digests: set[str]) -> dict[str, CompiledTariff | None]:
    found: dict[str, str] = {}
    if digests:
        found.update(
            session.execute(
                select(TariffVersion.sha256, TariffVersion.content).where(TariffVersion.sha256.in_(digests))
            ).all()
        )
        missing = digests - set(found)
        if missing:
            found.update(session.execute(select(Tariff.sha256, Tariff.content).where(Tariff.sha256.in_(missing))).all())
    return {digest: compiled_tariff(digest, content) for digest, content in found.items()}


def _by_edge(shifts: Iterable[ShiftRecords]) -> dict[str, list[ShiftRecords]]:
    groups: dict[str, list[ShiftRecords]] = defaultdict(list)
    for data in shifts:
        groups[data.edge_id].append(data)
    return groups


def _seq_span(data: ShiftRecords) -> tuple[int, int] | None:
    seqs = [r.seq for r in (*data.booth_rows, *data.lane_rows)]
    return (min(seqs), max(seqs)) if seqs else None


def _chains(session: Session, shifts: Sequence[ShiftRecords]) -> None:
    """Each shift's chain breaks and gaps (seqs central never received) among the seqs of its rows: two queries per
    edge over the span of all its shifts, each shift then keeping what lies within its own span (a gap counts for a
    shift when the seqs either side of it are both within the shift's span, as if asked for that span alone)."""
    for edge_id, group in _by_edge(shifts).items():
        spans = {data.shift: _seq_span(data) for data in group}
        bounds = [span for span in spans.values() if span is not None]
        if not bounds:
            continue
        low, high = min(b[0] for b in bounds), max(b[1] for b in bounds)
        breaks = [
            ChainProblem(seq, record_id, reason, detail)
            for seq, record_id, reason, detail in session.execute(
                select(ChainBreak.seq, ChainBreak.record_id, ChainBreak.reason, ChainBreak.detail)
                .where(ChainBreak.edge_id == edge_id, ChainBreak.seq.between(low, high)).order_by(ChainBreak.seq)
            )
        ]  # fmt: skip
        stored = (
            select(M.seq, func.lag(M.seq).over(order_by=M.seq).label("before"))
            .where(M.edge_id == edge_id, M.seq.between(low, high))
            .subquery()
        )
        gaps = session.execute(
            select(stored.c.seq, stored.c.before).where(stored.c.seq - stored.c.before > 1).order_by(stored.c.seq)
        ).all()
        for data in group:
            if (span := spans[data.shift]) is None:
                continue
            first, last = span
            data.chain = [b for b in breaks if first <= b.seq <= last]
            for seq, before in gaps:
                if before >= first and seq <= last:
                    what = f"seq {before + 1}" if seq == before + 2 else f"seq {before + 1} to {seq - 1}"
                    data.chain.append(ChainProblem(before + 1, None, "gap", f"{what} not received"))


def _cards_out(session: Session, shifts: Sequence[ShiftRecords]) -> None:
    """The temporary cards out at each shift's opening (issued within the look-back, their session not ended
    before the opening): one query per edge, one sum per opening."""
    closed = MoneyRecord.__table__.alias("closed")

    def out_at(at: datetime) -> Any:
        ended = (
            select(closed.c.record_id)
            .where(closed.c.session_id == M.session_id, closed.c.kind == "session",
                   closed.c.event.in_(("closed", "voided")), closed.c.at < at)
            .exists()
        )  # fmt: skip
        return func.coalesce(func.sum(case((and_(M.at < at, M.at > at - CARD_LOOKBACK, ~ended), 1), else_=0)), 0)

    for edge_id, group in _by_edge(shifts).items():
        opened = [data.opened_at for data in group]
        query = select(*(out_at(at) for at in opened)).where(
            M.edge_id == edge_id, M.kind == "session", M.event == "opened", M.session_kind == "temporary",
            M.card.is_not(None), M.at < max(opened), M.at > min(opened) - CARD_LOOKBACK,
        )  # fmt: skip
        counts = session.execute(query).one()
        for data, count in zip(group, counts, strict=True):
            data.cards_out_at_open = int(count or 0)


def _lane_rows(shifts: Sequence[ShiftRecords], lane: Sequence[MoneyRow], now: datetime) -> None:
    """Give each shift the edge's records without a shift in its time window (in seq order)."""
    for edge_id, group in _by_edge(shifts).items():
        by_time = sorted((r for r in lane if r.edge_id == edge_id), key=attrgetter("at"))
        times = [r.at for r in by_time]
        for data in group:
            window = by_time[bisect_left(times, data.opened_at) : bisect_right(times, data.closed_at or now)]
            if (lanes := data.lanes) is not None:  # another booth's lanes are that booth's shift's
                window = [r for r in window if r.lane is None or r.lane in lanes]
            data.lane_rows = sorted(window, key=attrgetter("seq"))


def _lanes(stated: Any) -> frozenset[str] | None:
    """The lanes an opening record states (projected into its ``detail``), or None when it states none."""
    if isinstance(stated, list) and stated and all(isinstance(lane, str) for lane in stated):
        return frozenset(stated)
    return None


def _report(rows: Iterable[MoneyRow], texts: dict[str, Any]) -> tuple[Any, MoneyRow | None, str | None]:
    """The latest report of the shift that validates and its row; else why the reports that arrived do not."""
    reports = [r for r in rows if r.kind == "shift_report"]
    problem = None
    for row in reversed(reports):
        report, why = check_shift_report({"report": texts.get(row.record_id)})
        if report is not None:
            return report, row, None
        problem = problem or f"report {row.record_id}: {why}"
    return None, None, problem


def load_day(session: Session, car_park: str, day: date, now: datetime) -> list[ShiftRecords]:
    """Every shift opened on ``day`` (the car park's local day) with what central holds about it."""
    park = session.get(CarPark, car_park)
    zone = ZoneInfo(park.timezone if park is not None else "Asia/Shanghai")
    start, end = day_bounds(day, zone)
    opened = _rows(session, M.car_park == car_park, M.kind == "shift", M.event == "opened", M.at >= start, M.at < end)
    if not opened:
        return []
    ids = [str(r.shift) for r in opened if r.shift]
    own: dict[str, list[MoneyRow]] = defaultdict(list)
    for row in _rows(session, M.shift.in_(ids)):
        own[str(row.shift)].append(row)
    reports = [r.record_id for rows in own.values() for r in rows if r.kind == "shift_report"]
    texts = _details(session, reports, "report")  # every report of the day's shifts at once
    staffed = _details(session, [r.record_id for r in opened], "lanes")
    shifts: list[ShiftRecords] = []
    for row in opened:
        report, report_row, problem = _report(own[str(row.shift)], texts)
        shifts.append(ShiftRecords(shift=str(row.shift), car_park=car_park, edge_id=row.edge_id, zone=zone, opened=row,
                                   report=report, report_row=report_row, report_problem=problem,
                                   booth_rows=own[str(row.shift)], lane_rows=[],
                                   lanes=_lanes(staffed.get(row.record_id))))  # fmt: skip
    low = min(s.opened_at for s in shifts)
    high = max(s.closed_at or now for s in shifts)
    # length(shift) IS NULL is shift IS NULL, written so that the planner takes the car park's time range
    # (ix_money_records_car_park_at) and not every record without a shift of every car park (ix_money_records_shift)
    lane = _rows(session, M.car_park == car_park, func.length(M.shift).is_(None), M.at >= low, M.at <= high)
    _lane_rows(shifts, lane, now)
    _attach_sessions(session, car_park, shifts)
    digests = {str(r.tariff_hash) for s in shifts for r in (*s.booth_rows, *s.lane_rows) if r.tariff_hash}
    tariffs = _tariffs(session, digests)
    reviews = {r.shift: r for r in session.scalars(select(ShiftReview).where(ShiftReview.shift.in_(ids)))}
    bags = [str(r.bag) for s in shifts for r in s.booth_rows if r.event == "cash_drop" and r.bag]
    custody = (
        {b.bag: b for b in session.scalars(select(CashBag).where(CashBag.car_park == car_park, CashBag.bag.in_(bags)))}
        if bags
        else {}
    )
    _chains(session, shifts)
    _cards_out(session, shifts)
    for data in shifts:
        data.tariffs = tariffs
        if (review := reviews.get(data.shift)) is not None:
            data.review = Review(review.state, review.note, review.decided_by, review.decided_at,
                                 review.first_decided_at)  # fmt: skip
        for drop in (r for r in data.booth_rows if r.event == "cash_drop"):
            bag = str(drop.bag)
            if (c := custody.get(bag)) is not None and c.drop_record == drop.record_id:
                data.bags[bag] = BagCustody(
                    bag,
                    c.picked_up_at,
                    c.picked_up_by,
                    c.witnessed_by,
                    c.counted_at,
                    c.counted_by,
                    c.counted,
                    c.deposited_at,
                    c.deposited_by,
                    c.deposit_slip,
                )
    return shifts


def _attach_sessions(session: Session, car_park: str, shifts: list[ShiftRecords]) -> None:
    """The sessions the shift's records name (their entries may be days old), and for each lost-card payment
    without an entry the open sessions of the same plate."""
    wanted = {str(r.session_id) for s in shifts for r in (*s.booth_rows, *s.lane_rows) if r.session_id}
    by_session: dict[str, list[MoneyRow]] = defaultdict(list)
    if wanted:
        for row in _rows(session, M.kind == "session", M.session_id.in_(wanted), M.event.in_(("opened", "paid"))):
            by_session[str(row.session_id)].append(row)
    plates = {str(r.plate) for s in shifts for r in s.booth_rows
              if r.event == "payment" and r.lost_card and r.entry_at is None and r.plate}  # fmt: skip
    entries: dict[str, list[tuple[MoneyRow, datetime | None]]] = defaultdict(list)
    if plates:
        opened = _rows(session, M.car_park == car_park, M.kind == "session", M.event == "opened", M.plate.in_(plates))
        ended: dict[str, datetime] = {}
        if opened:
            for sid, at in session.execute(
                select(M.session_id, func.min(M.at)).where(
                    and_(M.kind == "session", M.event.in_(("closed", "voided")),
                         M.session_id.in_([str(r.session_id) for r in opened]))
                ).group_by(M.session_id)
            ):  # fmt: skip
                ended[str(sid)] = at
        for row in opened:
            entries[str(row.plate)].append((row, ended.get(str(row.session_id))))
    for data in shifts:
        for row in data.lane_rows:
            if row.kind == "session" and row.event == "closed" and row.for_record:
                data.closings[str(row.for_record)] = row
        for sid, rows in by_session.items():
            for row in rows:
                if row.event == "opened":
                    data.sessions[sid] = row
                else:
                    data.paid_ahead.setdefault(sid, []).append(row)
        data.entries_by_plate = entries


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector paused (if it runs at all) for the duration.

    A day's reconciliation keeps thousands of rows alive (named tuples: the collector keeps tracking them) and
    makes tens of thousands of short-lived objects (quotes, lines): the collector would run dozens of times per
    car park and walk the whole process's heap every few car parks, finding nothing (rows and quotes hold no
    cycles): measured, about 30 % of the day's CPU time. Reference counting still frees everything as usual;
    whatever cycles the day leaves are collected once the collector runs again. Process-wide: a reconciliation
    started in another thread meanwhile finds it paused and leaves it to the first to switch back on.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def reconcile_day(session: Session, car_park: str, day: date, settings: ReconcileSettings, now: datetime) -> DayResult:
    """Reconcile every shift opened on ``day`` at ``car_park``, collectors against their peers included."""
    with _collector_paused():
        return _reconcile_day(session, car_park, day, settings, now)


def _reconcile_day(session: Session, car_park: str, day: date, settings: ReconcileSettings, now: datetime) -> DayResult:
    results = [reconcile_shift(data, settings, now) for data in load_day(session, car_park, day, now)]
    differences = [f for r in results for f in r.findings if f.code.startswith("fee.charged")]
    lines = _details(session, [f.records[0] for f in differences], "lines")
    for finding in differences:  # the edge's breakdown beside central's, read only for the differences
        finding.detail["edge"]["lines"] = lines.get(finding.records[0]) or []
    collectors = collector_rates(results, settings)
    flag_outliers(results, collectors)
    states: dict[str, int] = defaultdict(int)
    for result in results:
        states[result.state] += 1
    bags_done = all(b["state"] == "deposited" for r in results for b in r.listings["bags"])
    closed = bool(results) and all(r.state == "signed_off" for r in results) and bags_done
    return DayResult(car_park, day, results, collectors, closed, sum(r.quotes for r in results), dict(states))
