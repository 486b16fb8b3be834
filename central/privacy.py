"""Retention at central: purge personal data from the edges' records older than the retention, check each edge's
stored chain (purged records by their link, the rest recomputed in full), and export one plate's records for a
data-subject request. Purges and exports are written to the audit log.

What a purge removes (see :mod:`parking.privacy`): plates, card numbers, holders' names and rooms, and picture
references in the payloads of ``edge_records``, and their copies in the projections (``money_records.plate/card``,
``edge_transactions.plate``, the plates of old exit quotes and payment orders); the evidence pictures central keeps
(``edge_images_dir``). It keeps amounts, times, lanes, operators, reasons and session ids, so reconciliation of a
purged day gives the same figures. It never touches the registered data of pass holders and access cards
(``holders``, ``monthly_passes``, ``access_cards``, ``vehicle_lists``): that is the contract with the holder, kept
while it runs and removed with the holder, not by age.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import shutil
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from central.models import (
    AuditEntry,
    EdgeRecord,
    EdgeTransaction,
    ExitQuote,
    MoneyRecord,
    PaymentOrder,
    QuarantinedRecord,
    User,
)
from parking.plates import normalise_plate
from parking.privacy import PURGED, PurgeCutoffs, Retention, purge_marker, purge_payload, purged_problem
from parking.wire import GENESIS_HASH, record_hash

_LOGGER = logging.getLogger(__name__)
PURGE_ACTION = "retention_purge"
LISTED_ACTION = "retention_purge_records"  # one per chunk: the (edge, seq) of every record a purge rewrote
CHUNK = 500


@dataclass(slots=True)
class CentralPurge:
    audit_id: int
    cutoffs: PurgeCutoffs
    records: int = 0
    fields: int = 0
    files: int = 0
    bytes: int = 0
    quotes: int = 0  # exit quotes and payment orders whose plate went

    def summary(self) -> dict[str, Any]:
        return {**self.cutoffs.to_payload(), "records": self.records, "fields": self.fields, "files": self.files,
                "bytes": self.bytes, "quotes": self.quotes}  # fmt: skip


def _purge_images(folder: Path, before: datetime) -> tuple[int, int]:
    """Delete the edges' day folders (``<edge>/<yyyy-mm-dd>``) whose whole day, in any zone, ended before
    ``before`` (a day of margin: the folder's day is the car park's)."""
    files = size = 0
    if not folder.is_dir():
        return 0, 0
    for day_folder in sorted(p for edge in folder.iterdir() if edge.is_dir() for p in edge.iterdir()):
        try:
            day = date.fromisoformat(day_folder.name)
        except ValueError:
            continue
        if datetime.combine(day + timedelta(days=2), time(), UTC) > before or not day_folder.is_dir():
            continue
        for picture in day_folder.iterdir():
            if picture.is_file():
                size += picture.stat().st_size
                files += 1
        shutil.rmtree(day_folder, ignore_errors=True)
    return files, size


def purge(session: Session, retention: Retention, *, now: datetime, user: User | None, images_dir: Path | None,
          by: str = "") -> CentralPurge:  # fmt: skip
    """Purge what is older than ``retention`` at ``now``, audited; commits in chunks (the audit entry first)."""
    cutoffs = retention.cutoffs(now)
    entry = AuditEntry(user_id=user.id if user else None, username=user.username if user else (by or "system"),
                       action=PURGE_ACTION, entity="edge_records", entity_id="", before=None,
                       after={**cutoffs.to_payload(), "images_days": retention.images_days,
                              "events_days": retention.events_days, "state": "started"})  # fmt: skip
    session.add(entry)
    session.flush()
    entry.entity_id = str(entry.id)
    session.commit()
    report = CentralPurge(entry.id, cutoffs)
    ref = f"audit:{entry.id}"
    last = ""
    due = EdgeRecord.at < cutoffs.images_before
    if session.get_bind().dialect.name == "postgresql":  # skip what an earlier purge finished, in the index scan
        due = or_(
            and_(due, EdgeRecord.payload[PURGED].is_(None)),
            and_(EdgeRecord.at < cutoffs.events_before, EdgeRecord.payload[(PURGED, "events")].is_(None)),
        )
    while True:
        rows = session.execute(
            select(EdgeRecord.id, EdgeRecord.at, EdgeRecord.payload, EdgeRecord.edge_id, EdgeRecord.seq)
            .where(EdgeRecord.id > last, due).order_by(EdgeRecord.id).limit(CHUNK)
        ).all()  # fmt: skip
        emptied: list[str] = []
        changed: list[dict[str, Any]] = []
        listed: dict[str, list[int]] = {}
        for record_id, at, payload, edge_id, seq in rows:
            last = record_id
            data = payload if isinstance(payload, dict) else {}
            marker = purge_marker(data) or {}
            events = at < cutoffs.events_before
            if marker and (marker.get("events") or not events):
                continue
            purged = purge_payload(data, images=True, events=events, at=now, by=ref)
            if purged is None:
                continue
            new_payload, removed = purged
            if events:
                new_payload[PURGED]["events"] = True
                emptied.append(record_id)
            changed.append({"id": record_id, "payload": new_payload})
            listed.setdefault(edge_id, []).append(seq)
            report.records += 1
            report.fields += len(removed)
        if changed:  # one executemany by primary key, and the seqs it rewrote in the audit log, in one transaction
            session.execute(update(EdgeRecord), changed)
            session.add(AuditEntry(user_id=entry.user_id, username=entry.username, action=LISTED_ACTION,
                                   entity="edge_records", entity_id=str(entry.id), before=None,
                                   after={"purge": ref, "records": listed}))  # fmt: skip
        if emptied:
            session.execute(update(MoneyRecord).where(MoneyRecord.record_id.in_(emptied)).values(plate=None, card=None))
            session.execute(update(EdgeTransaction).where(EdgeTransaction.record_id.in_(emptied)).values(plate=None))
        session.commit()
        if len(rows) < CHUNK:
            break
    for model, at_column in ((ExitQuote, ExitQuote.quoted_at), (PaymentOrder, PaymentOrder.created_at)):
        result = session.execute(update(model).where(at_column < cutoffs.events_before, model.plate != "")
                                 .values(plate=""))  # fmt: skip
        report.quotes += int(getattr(result, "rowcount", 0) or 0)
    if images_dir is not None:
        report.files, report.bytes = _purge_images(images_dir, cutoffs.images_before)
    audit = session.get(AuditEntry, entry.id)
    assert audit is not None
    audit.after = {**(audit.after or {}), **report.summary(), "state": "done"}
    session.commit()
    _LOGGER.info("retention purge (audit %d): %d records (%d fields), %d pictures", entry.id, report.records,
                 report.fields, report.files)  # fmt: skip
    return report


# ------------------------------------------------------------------------------------------------ chain check


@dataclass(slots=True)
class StoredChain:
    """An edge's chain as central holds it: ``problems`` lists (seq, what) for every place it does not hold."""

    edge_id: str
    checked: int = 0
    purged: int = 0
    problems: list[tuple[int, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _purges(session: Session, edge_id: str) -> tuple[dict[str, PurgeCutoffs], set[tuple[str, int]]]:
    """The audited purges' cutoffs by reference, and the (purge, seq) of every record of this edge they rewrote."""
    found: dict[str, PurgeCutoffs] = {}
    listed: set[tuple[str, int]] = set()
    for entry_id, action, after in session.execute(
        select(AuditEntry.id, AuditEntry.action, AuditEntry.after)
        .where(AuditEntry.action.in_((PURGE_ACTION, LISTED_ACTION)))
    ):  # fmt: skip
        if not isinstance(after, dict):
            continue
        if action == PURGE_ACTION and (cutoffs := PurgeCutoffs.from_payload(after)):
            found[f"audit:{entry_id}"] = cutoffs
        elif action == LISTED_ACTION and isinstance(records := after.get("records"), dict):
            seqs = records.get(edge_id)
            listed.update((str(after.get("purge")), seq) for seq in seqs or () if isinstance(seq, int))
    return found, listed


def verify_stored_chain(session: Session, edge_id: str, *, retention: Retention | None = None,
                        now: datetime | None = None) -> StoredChain:  # fmt: skip
    """Walk the edge's stored records by seq: each links to the one before (a quarantined record stands in for a
    seq it holds); an unpurged record's hash is recomputed from what is stored; a purged one must carry a marker that
    an audited purge covers (:func:`parking.privacy.purged_problem`)."""
    report = StoredChain(edge_id)
    purges, listed = _purges(session, edge_id)
    held = {seq: (prev, digest) for seq, prev, digest in session.execute(
        select(QuarantinedRecord.seq, QuarantinedRecord.prev_hash, QuarantinedRecord.hash)
        .where(QuarantinedRecord.edge_id == edge_id, QuarantinedRecord.seq.is_not(None),
               QuarantinedRecord.hash.is_not(None)))}  # fmt: skip
    prev, expected, after = GENESIS_HASH, 1, 0
    while True:
        batch = list(session.scalars(select(EdgeRecord).where(EdgeRecord.edge_id == edge_id, EdgeRecord.seq > after)
                                     .order_by(EdgeRecord.seq).limit(2000)))  # fmt: skip
        if not batch:
            return report
        for record in batch:
            while expected < record.seq:  # a seq central has no record for: quarantined, or never received
                if expected in held:
                    held_prev, held_hash = held[expected]
                    if held_prev != prev:
                        report.problems.append((expected, "prev_hash is not the hash before"))
                    prev = held_hash or prev
                else:
                    report.problems.append((expected, "not received"))
                    prev = record.prev_hash
                expected += 1
            if record.seq == expected - 1:
                report.problems.append((record.seq, "another record holds this seq"))
                continue
            if record.prev_hash != prev:
                report.problems.append((record.seq, "prev_hash is not the hash before"))
            payload = record.payload if isinstance(record.payload, dict) else {}
            if purge_marker(payload) is not None:
                report.purged += 1
                if problem := purged_problem(payload, record.at, purges, retention=retention, now=now):
                    report.problems.append((record.seq, f"purge marker: {problem}"))
                elif (str((purge_marker(payload) or {}).get("by")), record.seq) not in listed:
                    report.problems.append((record.seq, "purge marker: the purge it names did not list it"))
            elif record.hash != record_hash(id=record.id, seq=record.seq, kind=record.kind, car_park=record.car_park,
                                            lane=record.lane, at=record.at, payload=payload,
                                            prev_hash=record.prev_hash):  # fmt: skip
                report.problems.append((record.seq, "hash mismatch: the stored record does not match its hash"))
            prev, expected, after = record.hash, record.seq + 1, record.seq
            report.checked += 1


# ------------------------------------------------------------------------------------------------------ export


PLATE_MAX = 16  # the plate columns' width


def requested_plate(plate: str) -> str | None:
    """The plate a data-subject request names, normalised as the records store it; ``None`` when it is not a plate
    once normalised (nothing left, or wider than :data:`PLATE_MAX`). The API and the office check it the same way."""
    wanted = normalise_plate(plate)
    return wanted if wanted and len(wanted) <= PLATE_MAX else None


@dataclass(slots=True)
class PlateRecords:
    plate: str
    records: list[EdgeRecord]
    transactions: list[EdgeTransaction]
    images: list[dict[str, str]]


def plate_records(session: Session, plate: str) -> PlateRecords:
    """Every stored record that names the plate (normalised; in its payload or its identity), every record of the
    sessions they belong to, their transactions and the pictures they name."""
    wanted = normalise_plate(plate)
    payload = EdgeRecord.payload
    named = session.execute(
        select(EdgeRecord.id, payload["session"].as_string()).where(
            EdgeRecord.kind != "privacy",
            or_(payload["plate"].as_string() == wanted, payload["identity"]["plate"].as_string() == wanted),
        )
    ).all()
    ids = {record_id for record_id, _session in named}
    sessions = sorted({s for _id, s in named if s})
    ids |= set(session.scalars(select(MoneyRecord.record_id).where(MoneyRecord.plate == wanted)))
    if sessions:
        ids |= set(
            session.scalars(
                select(EdgeRecord.id).where(
                    or_(payload["session"].as_string().in_(sessions), payload["for_record"].as_string().in_(sessions))
                )
            )
        )
    records = list(session.scalars(select(EdgeRecord).where(EdgeRecord.id.in_(sorted(ids)))
                                   .order_by(EdgeRecord.edge_id, EdgeRecord.seq))) if ids else []  # fmt: skip
    transactions = list(session.scalars(select(EdgeTransaction).where(EdgeTransaction.record_id.in_(sorted(ids)))
                                        .order_by(EdgeTransaction.at))) if ids else []  # fmt: skip
    images: list[dict[str, str]] = []
    for record in records:
        data = record.payload if isinstance(record.payload, dict) else {}
        for key in ("image", "evidence"):
            name = data.get(key)
            if isinstance(name, str) and name:
                images.append({"edge_id": record.edge_id, "record_id": record.id, "name": name})
    return PlateRecords(wanted, records, transactions, images)


PLATE_COLUMNS = ("edge_id", "seq", "id", "kind", "at", "lane", "event", "session", "amount", "currency", "image",
                 "payload")  # fmt: skip


def plate_rows(found: PlateRecords) -> list[list[Any]]:
    """One row per record under :data:`PLATE_COLUMNS` (the CSV export's and the office's XLSX sheet's)."""
    amounts = {t.record_id: (t.amount_minor, t.currency) for t in found.transactions}
    rows: list[list[Any]] = []
    for r in found.records:
        p = r.payload if isinstance(r.payload, dict) else {}
        amount, currency = amounts.get(r.id, (None, ""))
        rows.append(
            [
                r.edge_id,
                r.seq,
                r.id,
                r.kind,
                r.at.isoformat(),
                r.lane or "",
                p.get("event", ""),
                p.get("session", ""),
                "" if amount is None else amount,
                currency,
                p.get("image") or p.get("evidence") or "",
                json.dumps(p, ensure_ascii=False, sort_keys=True),
            ]
        )
    return rows


def plates_csv(found: PlateRecords) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(PLATE_COLUMNS)
    writer.writerows(plate_rows(found))
    return out.getvalue()


TRANSACTION_COLUMNS = ("record_id", "edge_id", "car_park", "lane", "at", "transaction_kind", "amount_minor",
                       "currency", "session_id", "plate")  # fmt: skip
IMAGE_COLUMNS = ("edge_id", "record_id", "name")


def _xlsx_cell(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()  # as the CSV and the JSON give it: exact, in UTC
    if isinstance(value, str):
        return ILLEGAL_CHARACTERS_RE.sub("\ufffd", value)  # control characters a sheet cannot hold
    return value


def plates_xlsx(found: PlateRecords) -> bytes:
    """The export as a workbook: the records (the CSV's columns and rows), the transactions, the pictures."""
    book = Workbook()
    sheets = (
        ("records", PLATE_COLUMNS, plate_rows(found)),
        (
            "transactions",
            TRANSACTION_COLUMNS,
            [[getattr(t, c) for c in TRANSACTION_COLUMNS] for t in found.transactions],
        ),
        ("images", IMAGE_COLUMNS, [[i[c] for c in IMAGE_COLUMNS] for i in found.images]),
    )
    for number, (title, columns, rows) in enumerate(sheets):
        sheet = book.active if number == 0 else book.create_sheet()
        assert sheet is not None
        sheet.title = title
        sheet.append(list(columns))
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        for row in rows:
            sheet.append([_xlsx_cell(v) for v in row])
        sheet.freeze_panes = "A2"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
