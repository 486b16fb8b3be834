"""The exception reports: hand actions per collector, manual opens with reason and operator, abnormal events with
their evidence, the free and special vehicle log by category (device faults: :mod:`central.reports.device_faults`).

The counts come from the rollups; the lists read the period's records themselves (manual actions and abnormal
events through a partial index, waivers through ``edge_transactions``), at most :data:`LIST_LIMIT` rows each.
"""

from __future__ import annotations

from datetime import tzinfo
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from central.models import EdgeRecord, EdgeTransaction, ReportDaily
from central.reports.tables import N_, Column, ColumnType, Period, Report, Series, Table

LIST_LIMIT = 1000
_COUNT, _MONEY, _AT = ColumnType.COUNT, ColumnType.MONEY, ColumnType.DATETIME

ACTION_LABELS = {
    "manual_open": N_("Manual open"), "waive_fee": N_("Fee waived"), "confirm_vehicle": N_("Vehicle confirmed"),
    "lost_card": N_("Lost card"), "attach_entry": N_("Entry found"), "reset_anti_passback": N_("Anti-passback reset"),
}  # fmt: skip
EVENT_LABELS = {
    "back_out": N_("Backed out"), "tailgating": N_("Tailgating"), "entry_denied": N_("Entry denied"),
    "no_entry_record": N_("No entry record"), "opened_without_command": N_("Opened without a command"),
    "barrier_fault": N_("Barrier fault"), "barrier_open_at_start": N_("Barrier open at start"),
    "blacklist_at_exit": N_("Blacklisted vehicle leaving"), "session_over_max": N_("Stay over the limit"),
    "stopped_card_at_exit": N_("Stopped access card at the exit"),
}  # fmt: skip
DENIAL_LABELS = {
    "blacklist": N_("Blacklisted"), "full": N_("Car park full"), "anti_passback": N_("Already inside"),
    "lost_card": N_("Lost access card"), "revoked_card": N_("Revoked access card"),
    "replaced_card": N_("Replaced access card"),
}  # fmt: skip
KIND_LABELS = {
    "free": N_("Free vehicle"), "special": N_("Special vehicle"), "temporary": N_("Temporary"),
    "pass": N_("Monthly pass"), "reopened": N_("Reopened (back-out)"), "voided": N_("Voided (back-out)"),
}  # fmt: skip


def text_of(payload: Any, *keys: str) -> str:
    for key in keys:
        value = payload.get(key) if isinstance(payload, dict) else None
        if isinstance(value, str) and value:
            return value
    return ""


def period_records(session: Session, car_park: str, period: Period, zone: tzinfo, kind: str) -> list[EdgeRecord]:
    start, end = period.bounds(zone)
    query = select(EdgeRecord).where(EdgeRecord.kind == kind, EdgeRecord.at >= start, EdgeRecord.at < end)
    if car_park:
        query = query.where(EdgeRecord.car_park == car_park)
    return list(session.scalars(query.order_by(EdgeRecord.at, EdgeRecord.id).limit(LIST_LIMIT + 1)))


def limited(table: Table) -> Table:
    if len(table.rows) > LIST_LIMIT:
        table.rows, table.limited = table.rows[:LIST_LIMIT], True
    return table


def _per_collector(session: Session, car_park: str, period: Period) -> Table:
    def counted(kind: str, outcome: Any) -> Any:
        return func.coalesce(func.sum(ReportDaily.count).filter(ReportDaily.kind == kind, outcome), 0)

    opens = counted("manual", ReportDaily.outcome == "manual_open")
    waivers = counted("transaction", ReportDaily.outcome == "waiver")
    reversals = counted("transaction", ReportDaily.outcome == "reversal")
    others = counted("manual", ReportDaily.outcome.not_in(("manual_open", "waive_fee")))
    query = (
        select(ReportDaily.operator, opens, waivers, reversals, others)
        .where(ReportDaily.kind.in_(("manual", "transaction")), ReportDaily.operator != "",
               ReportDaily.day >= period.first, ReportDaily.day <= period.last)
        .group_by(ReportDaily.operator).order_by(ReportDaily.operator)
    )  # fmt: skip
    if car_park:
        query = query.where(ReportDaily.car_park == car_park)
    rows = [(who, int(a), int(b), int(c), int(d), int(a + b + c + d)) for who, a, b, c, d in session.execute(query)]
    return Table(
        "per_collector", N_("Exceptions per collector"),
        [Column("collector", N_("Collector")), Column("manual_opens", N_("Manual opens"), _COUNT),
         Column("waivers", N_("Fees waived"), _COUNT), Column("reversals", N_("Reversals"), _COUNT),
         Column("other", N_("Other hand actions"), _COUNT), Column("total", N_("Total"), _COUNT)],
        [r for r in rows if r[-1]],
    )  # fmt: skip


def exceptions(session: Session, car_park: str, period: Period, currency: str, zone: tzinfo) -> Report:
    """Hand actions per collector, manual opens and abnormal events of ``car_park`` over ``period``."""
    per_collector = _per_collector(session, car_park, period)
    manual = period_records(session, car_park, period, zone, "manual_action")
    opens = limited(Table(
        "manual_opens", N_("Manual opens and other hand actions"),
        [Column("at", N_("When"), _AT), Column("car_park", N_("Car park")), Column("lane", N_("Lane")),
         Column("action", N_("Action"), labels=ACTION_LABELS), Column("operator", N_("Operator")),
         Column("reason", N_("Reason")), Column("evidence", N_("Evidence"))],
        [(r.at, r.car_park, r.lane or "", text_of(r.payload, "action"), text_of(r.payload, "operator"),
          text_of(r.payload, "reason"), text_of(r.payload, "evidence")) for r in manual],
    ))  # fmt: skip
    abnormal = period_records(session, car_park, period, zone, "abnormal_event")
    events = limited(Table(
        "abnormal", N_("Abnormal events"),
        [Column("at", N_("When"), _AT), Column("car_park", N_("Car park")), Column("lane", N_("Lane")),
         Column("event", N_("Event"), labels=EVENT_LABELS), Column("detail", N_("Detail")),
         Column("evidence", N_("Evidence"))],
        [(r.at, r.car_park, r.lane or "", text_of(r.payload, "event"), text_of(r.payload, "reason", "detail", "code"),
          text_of(r.payload, "evidence") or text_of(r.payload, "for_record", "session")) for r in abnormal],
        note=N_("Evidence: the image the lane kept, else the record or session the event concerns."),
    ))  # fmt: skip
    totals = [float(v) for v in per_collector.column("total")]
    charts = {"per_collector": Series(per_collector.column("collector"), {N_("Exceptions"): totals})}
    return Report("exceptions", N_("Exceptions"), period, car_park, currency, zone, [per_collector, opens, events],
                  charts)  # fmt: skip


def vehicle_log(session: Session, car_park: str, period: Period, currency: str, zone: tzinfo) -> Report:
    """Free and special vehicles by category (entries, waivers and the fees not charged) and each waiver."""
    entries = func.coalesce(func.sum(ReportDaily.count).filter(ReportDaily.kind == "entry"), 0)
    waived = func.coalesce(func.sum(ReportDaily.count).filter(ReportDaily.kind == "transaction"), 0)
    due = func.coalesce(func.sum(ReportDaily.due_minor).filter(ReportDaily.kind == "transaction"), 0)
    is_listed = ((ReportDaily.kind == "entry") & ReportDaily.outcome.in_(("free", "special"))) | (
        (ReportDaily.kind == "transaction") & (ReportDaily.outcome == "waiver")
    )
    query = (
        select(ReportDaily.category, entries, waived, due)
        .where(is_listed, ReportDaily.day >= period.first, ReportDaily.day <= period.last)
        .group_by(ReportDaily.category).order_by(ReportDaily.category)
    )  # fmt: skip
    if car_park:
        query = query.where(ReportDaily.car_park == car_park)
    by_category = Table(
        "by_category", N_("Free and special vehicles by category"),
        [Column("category", N_("Category")), Column("entries", N_("Entries"), _COUNT),
         Column("waivers", N_("Fees waived"), _COUNT), Column("due", N_("Fees not charged"), _MONEY)],
        [(c, int(e), int(w), int(d)) for c, e, w, d in session.execute(query)],
    )  # fmt: skip
    start, end = period.bounds(zone)
    log_query = (
        select(EdgeRecord).join(EdgeTransaction, EdgeTransaction.record_id == EdgeRecord.id)
        .where(EdgeTransaction.transaction_kind == "waiver", EdgeTransaction.at >= start, EdgeTransaction.at < end)
        .order_by(EdgeTransaction.at, EdgeTransaction.record_id).limit(LIST_LIMIT + 1)
    )  # fmt: skip
    if car_park:
        log_query = log_query.where(EdgeTransaction.car_park == car_park)
    log = limited(Table(
        "log", N_("Free and special vehicle log"),
        [Column("at", N_("When"), _AT), Column("car_park", N_("Car park")), Column("lane", N_("Lane")),
         Column("plate", N_("Plate")), Column("kind", N_("List"), labels=KIND_LABELS),
         Column("category", N_("Category")), Column("operator", N_("Operator")), Column("reason", N_("Reason")),
         Column("due", N_("Fee not charged"), _MONEY)],
        [(r.at, r.car_park, r.lane or "", text_of(r.payload, "plate"), text_of(r.payload, "list_kind"),
          text_of(r.payload, "category"), text_of(r.payload, "operator"), text_of(r.payload, "reason"),
          _int(r.payload, "waived") + _int(r.payload, "due")) for r in session.scalars(log_query)],
    ))  # fmt: skip
    return Report("vehicle_log", N_("Free and special vehicles"), period, car_park, currency, zone, [by_category, log])


def _int(payload: Any, key: str) -> int:
    value = payload.get(key) if isinstance(payload, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) and abs(value) < 10**18 else 0
