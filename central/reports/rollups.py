"""Keeping the report rollups (``report_daily``, ``report_hourly``) as journal records arrive, and rebuilding them.

Each counted record becomes one *fact*: what it was (``kind``, ``outcome``), where (car park, lane or pay station),
how (``method``), who (``operator``), of which vehicle (``vehicle_class``, ``category``), the money taken
(``amount``: a payment's amount, a reversal's negated, nothing else) and the fee not charged (``due``: a waiver's or a
manual open's). An exit (a session's ``closed`` or ``voided``) takes its vehicle class, kind and category from the
session's opening record, whose id is the session's id. Days and hours are local to the car park.

Both spellings below read a payload the same way (SQL for PostgreSQL, inside the ingest transaction; Python for
SQLite): a field missing or of the wrong type counts as empty or zero, never refused.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from central.models import CarPark, EdgeRecord, ReportDaily, ReportHourly

_LOGGER = logging.getLogger(__name__)

DEFAULT_ZONE = "Asia/Shanghai"
_SESSION_EVENTS = ("opened", "reopened", "closed", "voided")
_CLOSING_EVENTS = ("closed", "voided")
_KINDS = {"transaction": "transaction", "manual_action": "manual", "abnormal_event": "abnormal"}
_DAILY_KEY = ("car_park", "day", "kind", "outcome", "lane", "method", "operator", "vehicle_class", "category",
              "currency")  # fmt: skip
_HOURLY_KEY = ("car_park", "day", "hour", "kind", "vehicle_class", "currency")
HOURLY_KINDS = ("entry", "exit", "transaction")


# ------------------------------------------------------------------------------------------------------ SQL


def _t(source: str, key: str, length: int) -> str:
    return (f"CASE WHEN jsonb_typeof({source}.payload->'{key}') = 'string' "
            f"THEN left({source}.payload->>'{key}', {length}) ELSE '' END")  # fmt: skip


def _i(source: str, key: str) -> str:
    return (f"CASE WHEN jsonb_typeof({source}.payload->'{key}') = 'number' AND {source}.payload->>'{key}' ~ "
            "'^-?[0-9]{1,18}$' " + f"THEN ({source}.payload->>'{key}')::bigint ELSE 0 END")  # fmt: skip


_EVENT = "r.payload->>'event'"
_CLOSING = f"(r.kind = 'session' AND {_EVENT} IN ('closed', 'voided'))"
_FACTS = f"""
SELECT r.car_park, (r.at AT TIME ZONE coalesce(z.zone, '{DEFAULT_ZONE}')) AS local_at,
    CASE r.kind WHEN 'transaction' THEN 'transaction' WHEN 'manual_action' THEN 'manual'
        WHEN 'abnormal_event' THEN 'abnormal' WHEN 'session' THEN
        CASE WHEN {_EVENT} IN ('opened', 'reopened') THEN 'entry' ELSE 'exit' END END AS kind,
    CASE r.kind WHEN 'transaction' THEN {_t("r", "transaction_kind", 32)}
        WHEN 'manual_action' THEN {_t("r", "action", 32)}
        WHEN 'abnormal_event' THEN {_t("r", "event", 32)}
        ELSE CASE {_EVENT} WHEN 'opened' THEN {_t("r", "session_kind", 32)}
            WHEN 'closed' THEN {_t("o", "session_kind", 32)} ELSE {_EVENT} END END AS outcome,
    coalesce(r.lane, {_t("r", "station", 64)}) AS lane,
    CASE WHEN r.kind = 'transaction' THEN {_t("r", "method", 16)} ELSE '' END AS method,
    CASE WHEN r.kind IN ('transaction', 'manual_action') THEN {_t("r", "operator", 64)} ELSE '' END AS operator,
    CASE WHEN {_CLOSING} THEN {_t("o", "vehicle_class", 32)} ELSE {_t("r", "vehicle_class", 32)} END
        AS vehicle_class,
    CASE WHEN r.kind = 'abnormal_event' THEN {_t("r", "code", 40)}
        WHEN {_CLOSING} THEN {_t("o", "category", 40)} ELSE {_t("r", "category", 40)} END AS category,
    {_t("r", "currency", 3)} AS currency,
    CASE WHEN r.kind <> 'transaction' THEN 0 WHEN {_t("r", "transaction_kind", 32)} = 'reversal'
        THEN -({_i("r", "amount")}) ELSE {_i("r", "amount")} END AS amount,
    CASE WHEN r.kind = 'transaction' THEN {_i("r", "waived")} + {_i("r", "due")} ELSE 0 END AS due
FROM {{source}} r{{fresh}}
LEFT JOIN unnest(%(car_parks)s::text[], %(zones)s::text[]) AS z(car_park, zone) ON z.car_park = r.car_park
LEFT JOIN LATERAL (SELECT o.payload FROM edge_records o WHERE {_CLOSING} AND o.id = r.payload->>'session'
    AND o.kind = 'session' AND o.car_park = r.car_park) o ON true
WHERE (r.kind IN ('transaction', 'manual_action', 'abnormal_event')
    OR (r.kind = 'session' AND {_EVENT} IN ('opened', 'reopened', 'closed', 'voided')))
"""  # noqa: S608 (this module's constants, never input)


def _upsert(table: str, key: Sequence[str], sums: Sequence[str]) -> str:
    keys = ", ".join(key)
    updates = ", ".join(f"{c} = {table}.{c} + EXCLUDED.{c}" for c in sums)
    return f"ON CONFLICT ({keys}) DO UPDATE SET {updates}"


_ADD_FACTS = f"""
WITH facts AS ({_FACTS}),
daily AS (
    INSERT INTO report_daily ({", ".join(_DAILY_KEY)}, count, amount_minor, due_minor)
    SELECT car_park, local_at::date, kind, outcome, lane, method, operator, vehicle_class, category, currency,
        count(*), sum(amount), sum(due)
    FROM facts GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 ORDER BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10
    {_upsert("report_daily", _DAILY_KEY, ("count", "amount_minor", "due_minor"))}
)
INSERT INTO report_hourly ({", ".join(_HOURLY_KEY)}, count, amount_minor)
SELECT car_park, local_at::date, extract(hour FROM local_at)::smallint, kind, vehicle_class, currency, count(*),
    sum(amount)
FROM facts WHERE kind IN ('entry', 'exit', 'transaction') GROUP BY 1, 2, 3, 4, 5, 6 ORDER BY 1, 2, 3, 4, 5, 6
{_upsert("report_hourly", _HOURLY_KEY, ("count", "amount_minor"))}
"""  # noqa: S608
# The ids just stored join as a set (hashed), not ``id = ANY(...)``, which compares each row with every id.
ADD_INCOMING = _ADD_FACTS.replace("{source}", "incoming_records").replace(
    "{fresh}", " JOIN unnest(%(ids)s::text[]) AS fresh(id) ON fresh.id = r.id"
)
ADD_STORED = _ADD_FACTS.replace("{source}", "edge_records").replace(
    "{fresh}", " JOIN unnest(%(ids)s::text[]) AS fresh(id) ON fresh.id = r.id"
)
ADD_ALL = _ADD_FACTS.replace("{source}", "edge_records").replace("{fresh}", "")


def zones(session_or_cursor: Any) -> dict[str, str]:
    """Each car park's zone name, checked (a name that is not a zone counts as :data:`DEFAULT_ZONE`)."""
    if isinstance(session_or_cursor, Session):
        rows = list(session_or_cursor.execute(select(CarPark.id, CarPark.timezone)))
    else:
        session_or_cursor.execute("SELECT id, timezone FROM car_parks")
        rows = list(session_or_cursor.fetchall())
    found = {}
    for car_park, zone in rows:
        try:
            ZoneInfo(zone)
            found[str(car_park)] = str(zone)
        except (ZoneInfoNotFoundError, ValueError):
            _LOGGER.warning("car park %s: %r is not a time zone; its reports use %s", car_park, zone, DEFAULT_ZONE)
            found[str(car_park)] = DEFAULT_ZONE
    return found


def _zone_params(cursor: Any) -> dict[str, Any]:
    found = zones(cursor)
    return {"car_parks": list(found), "zones": list(found.values())}


def add_incoming(cursor: Any, ids: Iterable[str]) -> None:
    """PostgreSQL, inside the ingest transaction: count the records just moved from ``incoming_records``."""
    cursor.execute(ADD_INCOMING, {**_zone_params(cursor), "ids": list(ids)})


def add_stored(cursor: Any, ids: Iterable[str]) -> None:
    """PostgreSQL, inside the ingest transaction: count records stored in ``edge_records`` by this transaction."""
    cursor.execute(ADD_STORED, {**_zone_params(cursor), "ids": list(ids)})


# --------------------------------------------------------------------------------------------------- Python


@dataclass(frozen=True, slots=True)
class Fact:
    car_park: str
    local_at: datetime
    kind: str
    outcome: str
    lane: str
    method: str
    operator: str
    vehicle_class: str
    category: str
    currency: str
    amount: int
    due: int


def _text(payload: Any, key: str, length: int) -> str:
    value = payload.get(key) if isinstance(payload, dict) else None
    return value[:length] if isinstance(value, str) else ""


def _int(payload: Any, key: str) -> int:
    value = payload.get(key) if isinstance(payload, dict) else None
    valid = isinstance(value, int) and not isinstance(value, bool) and abs(value) < 10**18
    return int(value) if valid else 0  # type: ignore[arg-type]


def closing_session(record: dict[str, Any]) -> str | None:
    """The session id a ``closed`` or ``voided`` session record ends (its opening record's id), else None."""
    payload = record["payload"]
    if record["kind"] != "session" or not isinstance(payload, dict) or payload.get("event") not in _CLOSING_EVENTS:
        return None
    session = payload.get("session")
    return session if isinstance(session, str) else None


def fact_of(record: dict[str, Any], zone: ZoneInfo, opening: dict[str, Any] | None) -> Fact | None:
    """The fact one record counts as (``opening``: the payload of the session a closing record ends), or None."""
    payload, kind = record["payload"], record["kind"]
    event = payload.get("event") if isinstance(payload, dict) else None
    subject: Any = payload
    if kind in _KINDS:
        counted = _KINDS[kind]
        outcome = _text(payload, {"transaction": "transaction_kind", "manual_action": "action"}.get(kind, "event"), 32)
    elif kind == "session" and event in _SESSION_EVENTS:
        counted = "entry" if event in ("opened", "reopened") else "exit"
        if event in _CLOSING_EVENTS:
            subject = opening or {}
        outcome = _text(subject, "session_kind", 32) if event in ("opened", "closed") else str(event)
    else:
        return None
    amount = due = 0
    if kind == "transaction":
        amount = -_int(payload, "amount") if outcome == "reversal" else _int(payload, "amount")
        due = _int(payload, "waived") + _int(payload, "due")
    return Fact(
        car_park=record["car_park"], local_at=record["at"].astimezone(zone).replace(tzinfo=None), kind=counted,
        outcome=outcome, lane=record["lane"] if record["lane"] is not None else _text(payload, "station", 64),
        method=_text(payload, "method", 16) if kind == "transaction" else "",
        operator=_text(payload, "operator", 64) if kind in ("transaction", "manual_action") else "",
        vehicle_class=_text(subject, "vehicle_class", 32),
        category=_text(payload, "code", 40) if kind == "abnormal_event" else _text(subject, "category", 40),
        currency=_text(payload, "currency", 3), amount=amount, due=due,
    )  # fmt: skip


def add_records(session: Session, records: Sequence[dict[str, Any]]) -> None:
    """Count stored records (dicts with the ``edge_records`` columns) into the rollups, in Python (SQLite's path;
    it gives PostgreSQL the same rows as :data:`ADD_INCOMING`)."""
    known = zones(session)
    wanted = {s for r in records if (s := closing_session(r)) is not None}
    openings: dict[tuple[str, str], Any] = {}
    if wanted:
        for rid, car_park, payload in session.execute(
            select(EdgeRecord.id, EdgeRecord.car_park, EdgeRecord.payload)
            .where(EdgeRecord.id.in_(sorted(wanted)), EdgeRecord.kind == "session")
        ):  # fmt: skip
            openings[(rid, car_park)] = payload
    facts = []
    for record in records:
        zone = ZoneInfo(known.get(record["car_park"], DEFAULT_ZONE))
        session_id = closing_session(record)
        opening = openings.get((session_id, record["car_park"])) if session_id else None
        if (fact := fact_of(record, zone, opening)) is not None:
            facts.append(fact)
    _add_facts(session, facts)


def _add_facts(session: Session, facts: Iterable[Fact]) -> None:
    daily: dict[tuple[Any, ...], list[int]] = defaultdict(lambda: [0, 0, 0])
    hourly: dict[tuple[Any, ...], list[int]] = defaultdict(lambda: [0, 0])
    for f in facts:
        day = f.local_at.date()
        sums = daily[(f.car_park, day, f.kind, f.outcome, f.lane, f.method, f.operator, f.vehicle_class, f.category,
                      f.currency)]  # fmt: skip
        sums[0], sums[1], sums[2] = sums[0] + 1, sums[1] + f.amount, sums[2] + f.due
        if f.kind in HOURLY_KINDS:
            hour = hourly[(f.car_park, day, f.local_at.hour, f.kind, f.vehicle_class, f.currency)]
            hour[0], hour[1] = hour[0] + 1, hour[1] + f.amount
    for model, key, rows, sums_names in (
        (ReportDaily, _DAILY_KEY, daily, ("count", "amount_minor", "due_minor")),
        (ReportHourly, _HOURLY_KEY, hourly, ("count", "amount_minor")),
    ):
        if not rows:
            continue
        values = [dict(zip(key, k, strict=True)) | dict(zip(sums_names, v, strict=True)) for k, v in rows.items()]
        dialect = session.get_bind().dialect.name
        statement = (postgresql_insert if dialect == "postgresql" else sqlite_insert)(model)
        table = model.__table__
        statement = statement.on_conflict_do_update(
            index_elements=list(key),
            set_={c: table.c[c] + statement.excluded[c] for c in sums_names},
        )
        session.execute(statement, values)


def rebuild(session: Session, chunk: int = 5000) -> int:
    """Empty the rollups and count every stored record again; answers how many records were read (SQLite) or
    counted (PostgreSQL). The caller commits."""
    session.execute(delete(ReportDaily))
    session.execute(delete(ReportHourly))
    if session.get_bind().dialect.name == "postgresql":
        cursor = session.connection().connection.driver_connection.cursor()  # type: ignore[union-attr]
        cursor.execute(ADD_ALL, _zone_params(cursor))
        cursor.execute("SELECT coalesce(sum(count), 0) FROM report_daily")
        return int(cursor.fetchone()[0])
    read, last = 0, ""
    columns = [EdgeRecord.id, EdgeRecord.kind, EdgeRecord.car_park, EdgeRecord.lane, EdgeRecord.at,
               EdgeRecord.payload]  # fmt: skip
    while True:
        rows = session.execute(select(*columns).where(EdgeRecord.id > last).order_by(EdgeRecord.id).limit(chunk))
        batch = [dict(row._mapping) for row in rows]
        if not batch:
            return read
        add_records(session, batch)
        read, last = read + len(batch), batch[-1]["id"]
