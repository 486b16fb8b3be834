"""The revenue report: takings by day or hour, car park, lane, method and collector, and pass income collected
beside the temporary takings, with the passes billed beside their collection. The takings are read from the rollups
only (a month is a few thousand rows however many records it counted); pass income from billing
(:mod:`central.reports.pass_income`)."""

from __future__ import annotations

from datetime import tzinfo
from typing import Any

from sqlalchemy import ColumnElement, func, select, tuple_
from sqlalchemy.orm import Session

from central.models import ReportDaily, ReportHourly
from central.reports.pass_income import pass_income
from central.reports.tables import N_, Column, ColumnType, Period, Report, Series, Table

PAYMENTS = ("payment", "prepayment")
_COUNT, _MONEY = ColumnType.COUNT, ColumnType.MONEY


def _payments() -> ColumnElement[int]:
    paid = ReportDaily.outcome.in_(PAYMENTS)
    return func.coalesce(func.sum(ReportDaily.count).filter(paid), 0)


def _taken() -> ColumnElement[int]:
    return func.coalesce(func.sum(ReportDaily.amount_minor), 0)


def _reversals() -> ColumnElement[int]:
    return func.coalesce(func.sum(ReportDaily.count).filter(ReportDaily.outcome == "reversal"), 0)


def _daily(car_park: str, period: Period) -> list[ColumnElement[bool]]:
    where = [ReportDaily.kind == "transaction", ReportDaily.day >= period.first, ReportDaily.day <= period.last]
    if car_park:
        where.append(ReportDaily.car_park == car_park)
    return where


def _over_time(session: Session, car_park: str, period: Period) -> Table:
    if period.grain == "day":
        query = (
            select(ReportHourly.hour, func.sum(ReportHourly.count), func.sum(ReportHourly.amount_minor))
            .where(ReportHourly.kind == "transaction", ReportHourly.day == period.first)
            .group_by(ReportHourly.hour)
        )  # fmt: skip
        if car_park:
            query = query.where(ReportHourly.car_park == car_park)
        found = {hour: (count, amount) for hour, count, amount in session.execute(query)}
        rows = [(f"{h:02d}:00", int(found.get(h, (0, 0))[0]), int(found.get(h, (0, 0))[1])) for h in range(24)]
        columns = [Column("hour", N_("Hour")), Column("transactions", N_("Transactions"), _COUNT),
                   Column("taken", N_("Taken"), _MONEY)]  # fmt: skip
        return Table("by_hour", N_("Takings by hour"), columns, rows)
    by_day = {row[0]: row[1:] for row in _grouped(session, car_park, period, [(ReportDaily.day,)])[0]}
    rows_ = [(day, *by_day.get(day, (0, 0, 0, 0))[:2], by_day.get(day, (0, 0, 0, 0))[3]) for day in period.days]
    columns = [Column("day", N_("Day"), ColumnType.DATE), Column("transactions", N_("Transactions"), _COUNT),
               Column("payments", N_("Payments"), _COUNT), Column("taken", N_("Taken"), _MONEY)]  # fmt: skip
    return Table("by_day", N_("Takings by day"), columns, rows_)


def _pass_tables(session: Session, car_park: str, period: Period, currency: str, zone: tzinfo,
                 temporary: int) -> tuple[Table, Table]:  # fmt: skip
    """Pass income collected beside the temporary takings, and the passes' billing beside their collection by day."""
    passes = pass_income(session, car_park, period, currency, zone)
    collected = passes.total("collected")
    sources = {"temporary": N_("Temporary parking"), "passes": N_("Pass income collected"), "total": N_("Total")}
    income = Table(
        "income", N_("Pass income beside temporary takings"),
        [Column("source", N_("Income"), labels=sources), Column("amount", N_("Collected"), _MONEY)],
        [("temporary", temporary), ("passes", collected), ("total", temporary + collected)],
        note=N_("Pass income: the payments received for pass sales and renewals, by the day received, less the "
                "refunds paid out, by the day paid."),
    )  # fmt: skip
    billing = Table(
        "pass_billing", N_("Passes billed and collected by day"),
        [Column("day", N_("Day"), ColumnType.DATE), Column("billed", N_("Billed"), _MONEY),
         Column("received", N_("Received"), _MONEY), Column("refunded", N_("Refunded"), _MONEY),
         Column("collected", N_("Collected"), _MONEY)],
        [(day, passes.billed.get(day, 0), passes.received.get(day, 0), passes.refunded.get(day, 0),
          passes.collected(day)) for day in passes.days],
        note=N_("Billed: the invoices of pass sales and renewals issued that day (not voided). A payment from the "
                "account's credit is not counted again: the overpayment was received the day it was paid."),
    )  # fmt: skip
    return income, billing


_DIMENSIONS = (ReportDaily.day, ReportDaily.car_park, ReportDaily.lane, ReportDaily.method, ReportDaily.operator)


def _grouped(
    session: Session, car_park: str, period: Period, groups: list[tuple[Any, ...]]
) -> list[list[tuple[Any, ...]]]:
    """For each group of columns, its rows: the group's values, then transactions, payments, reversals and the
    money taken. On PostgreSQL one scan of the period's rollups answers every group (``GROUPING SETS``)."""
    where = _daily(car_park, period)
    sums = (func.sum(ReportDaily.count), _payments(), _reversals(), _taken())
    if session.get_bind().dialect.name != "postgresql":
        return [[(*row[: len(g)], *(int(v) for v in row[len(g) :]))
                 for row in session.execute(select(*g, *sums).where(*where).group_by(*g).order_by(*g))]
                for g in groups]  # fmt: skip
    named = [[c.key for c in g] for g in groups]
    dims = [c for c in _DIMENSIONS if any(c.key in keys for keys in named)]
    masks = [sum(1 << (len(dims) - 1 - i) for i, c in enumerate(dims) if c.key not in keys) for keys in named]
    query = (
        select(*dims, func.grouping(*dims), *sums).where(*where)
        .group_by(func.grouping_sets(*[tuple_(*g) for g in groups])).order_by(*dims)
    )  # fmt: skip
    found: list[list[tuple[Any, ...]]] = [[] for _ in groups]
    positions = {c.key: i for i, c in enumerate(dims)}
    for row in session.execute(query):
        cells: tuple[Any, ...] = tuple(row)
        index = masks.index(int(cells[len(dims)]))
        values = tuple(cells[positions[key]] for key in named[index])
        found[index].append((*values, *(int(v) for v in cells[len(dims) + 1 :])))
    return found


def revenue(session: Session, car_park: str, period: Period, currency: str, zone: tzinfo) -> Report:
    """The revenue report of ``car_park`` (empty: every car park) over ``period``."""
    over_time = _over_time(session, car_park, period)
    tables = [over_time]
    dimensions = (
        ("by_car_park", N_("By car park"), [ReportDaily.car_park], [Column("car_park", N_("Car park"))]),
        ("by_lane", N_("By lane or pay station"), [ReportDaily.car_park, ReportDaily.lane],
         [Column("car_park", N_("Car park")), Column("lane", N_("Lane"))]),
        ("by_method", N_("By method"), [ReportDaily.method], [Column("method", N_("Method"))]),
        ("by_collector", N_("By collector"), [ReportDaily.operator], [Column("collector", N_("Collector"))]),
    )  # fmt: skip
    grouped = _grouped(session, car_park, period, [tuple(group) for _key, _title, group, _columns in dimensions])
    for (key, title, _group, columns), found in zip(dimensions, grouped, strict=True):
        rows = [(*row[:-4], *row[-3:]) for row in found if any(row[-3:])]
        sums = [Column("payments", N_("Payments"), _COUNT), Column("reversals", N_("Reversals"), _COUNT),
                Column("taken", N_("Taken"), _MONEY)]  # fmt: skip
        tables.append(Table(key, title, [*columns, *sums], rows))
    income, billing = _pass_tables(session, car_park, period, currency, zone, tables[1].total("taken"))
    tables[1:1] = [income, billing]
    labels = [str(r[0])[-5:] if period.grain == "month" else str(r[0])[:2] for r in over_time.rows]
    chart = Series(labels, {N_("Taken"): [float(v) for v in over_time.column("taken")]}, money=True)
    chart_key = "by_hour" if period.grain == "day" else "by_day"
    return Report("revenue", N_("Revenue"), period, car_park, currency, zone, tables, {chart_key: chart})
