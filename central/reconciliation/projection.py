"""Projecting every stored journal record into ``money_records``, the typed rows reconciliation reads.

A payload is read defensively: a field missing, of the wrong type or out of range becomes empty, never an error, and
the record itself stays in ``edge_records`` exactly as the edge sent it, so a projection bug is repaired by
:func:`rebuild_projections`. A ``tariff_version`` record's text is archived by its SHA-256 when the text hashes to it.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from central.core.db import utcnow
from central.models import EdgeRecord, MoneyRecord, TariffVersion

_LOGGER = logging.getLogger(__name__)
_BIG = 10**15  # minor units: far beyond any fee, well inside BIGINT
_TARIFF_TEXT_MAX = 200_000


def _text(p: Mapping[str, Any], key: str, length: int) -> str | None:
    value = p.get(key)
    return value[:length] if isinstance(value, str) else None


def _int(p: Mapping[str, Any], key: str) -> int | None:
    value = p.get(key)
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) < _BIG:
        return value
    return None


def _time(p: Mapping[str, Any], key: str) -> datetime | None:
    value = p.get(key)
    if not isinstance(value, str) or len(value) > 40:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.astimezone(UTC) if moment.tzinfo is not None else None


def _list(p: Mapping[str, Any], key: str) -> list[Any]:
    value = p.get(key)
    return value[:200] if isinstance(value, list) else []


def _transaction(p: Mapping[str, Any], row: dict[str, Any]) -> None:
    kind = _text(p, "transaction_kind", 32) or ""
    flags = [f for f in _list(p, "flags") if isinstance(f, str)]
    row.update(
        event=kind, method=_text(p, "method", 16), amount=_int(p, "amount"), tendered=_int(p, "tendered"),
        change=_int(p, "change"), refunded=_int(p, "refunded_cash"), tariff_id=_text(p, "tariff_id", 64),
        tariff_hash=_text(p, "tariff_hash", 64), quoted_at=_time(p, "quoted_at"), entry_at=_time(p, "entry_at"),
        exit_at=_time(p, "exit_at"), vehicle_class=_text(p, "vehicle_class", 32),
        lost_card=p.get("lost_card") is True or "lost_card" in flags, category=_text(p, "category", 40),
        list_kind=_text(p, "list_kind", 16), reason=_text(p, "reason", 2000), reverses=_text(p, "reverses", 64),
        plate=_text(p, "plate", 16), session_id=_text(p, "session", 64),
    )  # fmt: skip
    identity = p.get("identity")
    listed = identity.get("identity") if isinstance(identity, dict) else None
    if kind == "waiver" and row["list_kind"] is None and listed in ("free", "special"):
        row["list_kind"] = listed  # a listed vehicle the lane let through by itself
    if kind == "payment":
        row["quoted"] = row["amount"]  # the lane releases a payment only for the amount its quote said was due
    elif kind in ("waiver", "manual_open"):
        row["quoted"] = _int(p, "due") if "due" in p else _int(p, "waived")
        if "waived" in p:  # the booth's waiver: what was due and not charged
            row["amount"] = 0
    else:
        row["quoted"] = row["amount"]
    row["detail"] = {
        "lines": _list(p, "lines"), "flags": flags, "coupons": _list(p, "coupons"),
        "receipt_no": _text(p, "receipt_no", 64), "reference": _text(p, "reference", 64), "note": _text(p, "note", 500),
    }  # fmt: skip
    if station := _text(p, "station", 64):  # a pay station's (or a provider's) payment ahead of the exit
        row["detail"] |= {"station": station, "terminal_reference": _text(p, "terminal_reference", 64)}


def _session(p: Mapping[str, Any], row: dict[str, Any]) -> None:
    identity = p.get("identity")
    presented = isinstance(identity, dict) and bool(identity.get("card"))
    row.update(
        event=_text(p, "event", 32) or "", session_id=_text(p, "session", 64),
        session_kind=_text(p, "session_kind", 16),
        vehicle_class=_text(p, "vehicle_class", 32), plate=_text(p, "plate", 16), card=_text(p, "card", 64),
        entry_at=_time(p, "entry_at"), exit_at=_time(p, "exit_at"), tariff_id=_text(p, "tariff_id", 64),
        tariff_hash=_text(p, "tariff_hash", 64), for_record=_text(p, "transaction", 64),
        paid_before=_int(p, "paid"), paid_at=_time(p, "paid_at"), reason=_text(p, "reason", 2000),
        detail={"presented_card": presented, "flags": _list(p, "flags")},
    )  # fmt: skip


def _shift(p: Mapping[str, Any], row: dict[str, Any]) -> None:
    event = _text(p, "event", 32) or ""
    amount = {"opened": "float_amount", "cash_drop": "amount", "handover": "float_left"}.get(event)
    row.update(event=event, amount=_int(p, amount) if amount else None, bag=_text(p, "bag", 32),
               reason=_text(p, "reason", 2000) or _text(p, "note", 2000))  # fmt: skip
    row["detail"] = {k: p[k] for k in ("cards_stock", "cards_on_hand", "witness", "requested_by", "revision", "card")
                     if isinstance(p.get(k), (int, str)) and not isinstance(p.get(k), bool)}  # fmt: skip
    lanes = _list(p, "lanes")
    if event == "opened" and lanes and all(isinstance(lane, str) for lane in lanes):
        row["detail"]["lanes"] = [lane[:64] for lane in lanes]  # the lanes the booth staffs (absent: every lane)


def money_row(record: Mapping[str, Any]) -> dict[str, Any]:
    """The ``money_records`` row of one stored journal record (a dict with the ``edge_records`` columns)."""
    p = record["payload"] if isinstance(record["payload"], dict) else {}
    kind = str(record["kind"])
    row: dict[str, Any] = {
        "record_id": record["id"], "edge_id": record["edge_id"], "seq": record["seq"], "kind": kind, "event": "",
        "car_park": record["car_park"], "lane": record["lane"], "at": record["at"],
        "received_at": record.get("received_at") or utcnow(), "hash_ok": bool(record.get("hash_ok", True)),
        "booth": _text(p, "booth", 64), "shift": _text(p, "shift", 64), "operator": _text(p, "operator", 64),
        "method": None, "currency": _text(p, "currency", 3) or "", "amount": None, "tendered": None, "change": None,
        "refunded": None, "quoted": None, "tariff_id": None, "tariff_hash": None, "quoted_at": None, "entry_at": None,
        "exit_at": None, "vehicle_class": _text(p, "vehicle_class", 32), "lost_card": False, "paid_before": None,
        "paid_at": None, "category": _text(p, "category", 40), "list_kind": None, "reason": _text(p, "reason", 2000),
        "reverses": None, "for_record": _text(p, "for_record", 64), "plate": _text(p, "plate", 16), "card": None,
        "session_id": _text(p, "session", 64), "session_kind": None, "bag": None, "detail": {},
    }  # fmt: skip
    if kind == "transaction":
        _transaction(p, row)
    elif kind == "session":
        _session(p, row)
    elif kind == "shift":
        _shift(p, row)
    elif kind == "shift_report":
        report = p.get("report")
        row.update(event="report", detail={"report": report if isinstance(report, dict) else None})
        if isinstance(report, dict):
            row["operator"] = _text(report, "closed_by", 64) or row["operator"]
    elif kind == "manual_action":
        row["event"] = _text(p, "action", 32) or ""
    elif kind == "barrier_command":
        row["event"] = _text(p, "command", 32) or ""
    elif kind == "abnormal_event":
        row["event"] = _text(p, "event", 32) or ""
    elif kind == "tariff_version":
        row.update(event="tariff_version", tariff_id=_text(p, "tariff_id", 64), tariff_hash=_text(p, "sha256", 64))
    return row


def tariff_version_of(record: Mapping[str, Any]) -> TariffVersion | None:
    """The archived tariff text a ``tariff_version`` record carries, if its text hashes to the hash it names."""
    p = record["payload"] if isinstance(record["payload"], dict) else {}
    content, digest = p.get("content"), p.get("sha256")
    if not isinstance(content, str) or not isinstance(digest, str) or len(content) > _TARIFF_TEXT_MAX:
        return None
    if hashlib.sha256(content.encode("utf-8")).hexdigest() != digest:
        _LOGGER.warning("record %s: the tariff text does not hash to %s: not archived", record["id"], digest[:64])
        return None
    return TariffVersion(sha256=digest, tariff_id=_text(p, "tariff_id", 64) or "", content=content,
                         source=str(record["edge_id"])[:64])  # fmt: skip


def archive_tariff(session: Session, version: TariffVersion) -> None:
    """Keep a tariff text by its hash (the first one kept wins: the same hash is the same text)."""
    if session.get(TariffVersion, version.sha256) is None:
        session.add(version)
        session.flush()


def project_money_records(session: Session, records: Iterable[Mapping[str, Any]]) -> int:
    """Project newly stored records (ingest calls this in its transaction); answers how many rows were written."""
    rows = []
    for record in records:
        rows.append(money_row(record))
        if record["kind"] == "tariff_version" and (version := tariff_version_of(record)) is not None:
            archive_tariff(session, version)
    if rows and session.get_bind().dialect.name == "postgresql":
        _copy_rows(session, rows)
    elif rows:
        session.execute(insert(MoneyRecord), rows)
    return len(rows)


_COLUMNS = tuple(column.name for column in MoneyRecord.__table__.columns)
_COPY = f"COPY money_records ({', '.join(_COLUMNS)}) FROM STDIN"


def _copy_rows(session: Session, rows: list[dict[str, Any]]) -> None:
    """PostgreSQL: the rows in one ``COPY`` (an ``INSERT`` per row costs more in binding than in storing); a row the
    table refuses (a duplicate id) fails the whole ``COPY``, as it fails the ``INSERT``."""
    cursor = session.connection().connection.driver_connection.cursor()  # type: ignore[union-attr]
    with cursor.copy(_COPY) as copy:
        for row in rows:
            copy.write_row([json.dumps(row[c], ensure_ascii=False) if c == "detail" else row[c] for c in _COLUMNS])


def rebuild_projections(session: Session, batch: int = 5000) -> int:
    """Throw ``money_records`` away and project every stored record again (the caller commits)."""
    session.execute(delete(MoneyRecord))
    columns = (
        EdgeRecord.id,
        EdgeRecord.edge_id,
        EdgeRecord.seq,
        EdgeRecord.kind,
        EdgeRecord.car_park,
        EdgeRecord.lane,
        EdgeRecord.at,
        EdgeRecord.payload,
        EdgeRecord.hash_ok,
        EdgeRecord.received_at,
    )
    done, after = 0, ""
    while True:
        rows = session.execute(
            select(*columns).where(EdgeRecord.id > after).order_by(EdgeRecord.id).limit(batch)
        ).mappings().all()  # fmt: skip
        if not rows:
            return done
        done += project_money_records(session, [dict(r) for r in rows])
        after = rows[-1]["id"]
