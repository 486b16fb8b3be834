"""Retention at the edge: purge personal data from old journal records and evidence pictures, and export one plate's
records for a data-subject request. Both are journaled (kind ``privacy``): who, what, when and how many.

A purge journals a ``purge`` record first (who ran it, the cutoffs, the retention), then rewrites the payloads of the
records it covers in small transactions (a lane's commit never waits long for one), each with a ``purged_records``
record listing the seqs it rewrote, and ends with a ``purged`` record of the counts. Every purged payload names the
``purge`` record in its marker, and its seq is listed under that purge, so the chain check can tell a purge from an
edit (see :mod:`parking.privacy`). The records' hashes are never touched.

Not purged: records central has not acknowledged yet (``require_sent``, when the site has a central: central must
get the record as it was hashed), records of a session still open (the vehicle is inside: its entry picture and
plate are needed at the exit), and the pictures those sessions name.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import shutil
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from edge.lanes.actions import Draft
from edge.store.journal import Journal, JournalTransaction
from parking.ids import id_time_ms, new_id
from parking.plates import normalise_plate
from parking.privacy import PURGED, Retention, purge_payload, utc_text
from parking.wire import RecordKind

_LOGGER = logging.getLogger(__name__)
CHUNK = 500  # records rewritten per transaction
SNAPSHOTS = "snapshots"  # the lanes' snapshot pictures (edge/lanes/lane.py names them), by UUIDv7
AUDIT_EVENTS = ("purge", "purged_records", "purged")  # the purge's own records: no personal data in them


@dataclass(slots=True)
class PurgeReport:
    """What one purge did."""

    purge_id: str
    by: str
    images_before: datetime
    events_before: datetime
    records: int = 0  # records whose payload lost fields
    fields: int = 0  # fields removed, over all records
    files: int = 0  # picture files deleted
    bytes: int = 0
    kept_unsent: int = 0  # old records kept whole because central has not acknowledged them
    kept_open: int = 0  # old records kept whole because their session is still open

    def summary(self) -> dict[str, Any]:
        return {"purge": self.purge_id, "by": self.by, "images_before": utc_text(self.images_before),
                "events_before": utc_text(self.events_before), "records": self.records, "fields": self.fields,
                "files": self.files, "bytes": self.bytes, "kept_unsent": self.kept_unsent,
                "kept_open": self.kept_open}  # fmt: skip


def _open_sessions(journal: Journal) -> tuple[set[str], set[str]]:
    """The open sessions' ids and the pictures their records name."""
    ids = {session.id for session in journal.open_sessions()}
    images: set[str] = set()
    if ids:
        for image, evidence in journal.rows(
            "SELECT json_extract(payload, '$.image'), json_extract(payload, '$.evidence') FROM records "
            "WHERE json_extract(payload, '$.session') IN (SELECT value FROM json_each(?))",
            (json.dumps(sorted(ids)),),
        ):
            images.update(str(name) for name in (image, evidence) if isinstance(name, str))
    return ids, images


def _scrub_domain_rows(
    tx: JournalTransaction, kind: str, record_id: str, payload: dict[str, Any], events: bool
) -> None:
    """The domain tables' copies of the purged fields go with the record's (plates and cards only with ``events``)."""
    text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    db = tx.db
    if kind == "session":
        session_id = payload.get("session")
        if isinstance(session_id, str):  # by its primary key; the row's data is the payload of its opening record
            db.execute(
                "UPDATE sessions SET plate = CASE WHEN ? THEN NULL ELSE plate END, card = CASE WHEN ? THEN NULL "
                "ELSE card END, data = CASE WHEN record_id = ? THEN ? ELSE data END WHERE id = ? AND status != 'open'",
                (events, events, record_id, text, session_id),
            )
    elif kind == "transaction":
        db.execute("UPDATE transactions SET payload = ? WHERE id = ?", (text, record_id))
    elif kind == "manual_action":
        evidence = payload.get("evidence")
        db.execute("UPDATE manual_actions SET payload = ?, evidence = ? WHERE id = ?", (text, evidence, record_id))
    elif kind == "abnormal_event":
        evidence = payload.get("evidence")
        db.execute("UPDATE abnormal_events SET payload = ?, evidence = ? WHERE id = ?", (text, evidence, record_id))


def _purge_records(journal: Journal, report: PurgeReport, *, upto_seq: int, require_sent: bool, now: datetime,
                   open_ids: set[str]) -> None:  # fmt: skip
    images_text, events_text = utc_text(report.images_before), utc_text(report.events_before)
    after = 0
    while True:
        with journal.transaction("purge records") as tx:
            listed: list[int] = []
            rows = tx.db.execute(
                "SELECT seq, id, kind, at, payload, sent FROM records WHERE seq > ? AND seq < ? AND ("
                " (at < ? AND json_extract(payload, '$._purged') IS NULL) OR"
                " (at < ? AND json_extract(payload, '$._purged.events') IS NULL)) ORDER BY seq LIMIT ?",
                (after, upto_seq, images_text, events_text, CHUNK),
            ).fetchall()
            for seq, record_id, kind, at_text, payload_text, sent in rows:
                after = seq
                payload = json.loads(payload_text)
                if kind == RecordKind.PRIVACY.value and payload.get("event") in AUDIT_EVENTS:
                    continue  # the audit of earlier purges holds no personal data
                session = payload.get("session")
                if isinstance(session, str) and session in open_ids:
                    report.kept_open += 1
                    continue
                if require_sent and sent == 0:
                    report.kept_unsent += 1
                    continue
                at = datetime.fromisoformat(at_text)
                events = at < report.events_before
                purged = purge_payload(payload, images=True, events=events, at=now, by=report.purge_id)
                if purged is None:
                    continue
                new_payload, removed = purged
                if events:
                    new_payload[PURGED]["events"] = True
                tx.db.execute("UPDATE records SET payload = ? WHERE seq = ?",
                              (json.dumps(new_payload, ensure_ascii=False, separators=(",", ":"), sort_keys=True),
                               seq))  # fmt: skip
                _scrub_domain_rows(tx, kind, record_id, new_payload, events)
                listed.append(seq)
                report.records += 1
                report.fields += len(removed)
            if listed:  # in the same transaction: the chain check knows every record this purge touched
                tx.append([Draft(new_id(), RecordKind.PRIVACY, None, now,
                                 {"event": "purged_records", "purge": report.purge_id, "seqs": listed})])  # fmt: skip
        if len(rows) < CHUNK:
            return


def _local_day(name: str) -> date | None:
    try:
        return date.fromisoformat(name)
    except ValueError:
        return None


def before_ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def _taken_ms(picture: Path) -> int:
    """When a snapshot was taken: the time in its UUIDv7 name, else the file's modification time."""
    try:
        return id_time_ms(picture.stem)
    except ValueError:
        return int(picture.stat().st_mtime * 1000)


def purge_images(folder: Path, before: datetime, zone: ZoneInfo, keep: set[str]) -> tuple[int, int]:
    """Delete the pictures taken before ``before``: the day folders (``yyyy-mm-dd``, the car park's day) that ended
    before it, and the lanes' snapshots (``snapshots/<UUIDv7>.jpg``) older than it, except the ones named in ``keep``;
    answers (files, bytes)."""
    files = size = 0
    if not folder.is_dir():
        return 0, 0
    snapshots = folder / SNAPSHOTS
    for picture in sorted(snapshots.iterdir()) if snapshots.is_dir() else ():
        if f"{SNAPSHOTS}/{picture.name}" not in keep and picture.is_file() and _taken_ms(picture) < before_ms(before):
            size += picture.stat().st_size
            picture.unlink()
            files += 1
    for day_folder in sorted(folder.iterdir()):
        day = _local_day(day_folder.name)
        if day is None or not day_folder.is_dir():
            continue
        if datetime.combine(day + timedelta(days=1), time(), zone) > before:
            continue
        kept = 0
        for picture in day_folder.iterdir():
            if f"{day_folder.name}/{picture.name}" in keep:
                kept += 1
                continue
            if picture.is_file():
                size += picture.stat().st_size
                picture.unlink()
                files += 1
        if not kept:
            shutil.rmtree(day_folder, ignore_errors=True)
    return files, size


def purge(
    journal: Journal,
    retention: Retention,
    *,
    by: str,
    now: datetime,
    require_sent: bool,
    image_dir: Path | None = None,
    zone: ZoneInfo | None = None,
) -> PurgeReport:
    """Purge what is older than ``retention`` at ``now``: journaled (``purge`` first, ``purged`` with the counts)."""
    cutoffs = retention.cutoffs(now)
    report = PurgeReport(new_id(), by, cutoffs.images_before, cutoffs.events_before)
    start = {"event": "purge", "by": by, **cutoffs.to_payload(),
             "retention": {"images_days": retention.images_days, "events_days": retention.events_days}}  # fmt: skip
    with journal.transaction("journal a purge") as tx:
        (opened,) = tx.append([Draft(report.purge_id, RecordKind.PRIVACY, None, now, start)])
    open_ids, open_images = _open_sessions(journal)
    _purge_records(journal, report, upto_seq=opened.seq, require_sent=require_sent, now=now, open_ids=open_ids)
    if image_dir is not None:
        report.files, report.bytes = purge_images(image_dir, cutoffs.images_before, zone or ZoneInfo("UTC"),
                                                  open_images)  # fmt: skip
    done = {"event": "purged", **report.summary()}
    journal.commit([Draft(new_id(), RecordKind.PRIVACY, None, now, done)])
    _LOGGER.info("retention purge %s by %s: %d records (%d fields), %d pictures (%d bytes)", report.purge_id, by,
                 report.records, report.fields, report.files, report.bytes)  # fmt: skip
    return report


# ------------------------------------------------------------------------------------------------------ export


@dataclass(slots=True)
class PlateExport:
    """One plate's records in the journal: those that name it and the records of its sessions."""

    plate: str
    records: list[dict[str, Any]] = field(default_factory=list)
    images: list[str] = field(default_factory=list)

    def as_json(self) -> str:
        return json.dumps({"plate": self.plate, "records": self.records, "images": self.images},
                          ensure_ascii=False, indent=2)  # fmt: skip

    def as_csv(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["seq", "id", "kind", "at", "lane", "event", "session", "image", "payload"])
        for r in self.records:
            p = r["payload"]
            writer.writerow([r["seq"], r["id"], r["kind"], r["at"], r["lane"] or "", p.get("event", ""),
                             p.get("session", ""), p.get("image") or p.get("evidence") or "",
                             json.dumps(p, ensure_ascii=False, sort_keys=True)])  # fmt: skip
        return out.getvalue()


def plate_records(journal: Journal, plate: str) -> PlateExport:
    """Every record that names ``plate`` (normalised; at the top of its payload or in its identity), and every
    record of the sessions those records belong to. The journal's own privacy records (earlier exports) are left
    out: they are the operator's audit, not the vehicle's movements."""
    wanted = normalise_plate(plate)
    named = journal.rows(
        "SELECT seq, json_extract(payload, '$.session') FROM records WHERE kind != 'privacy' AND "
        "(json_extract(payload, '$.plate') = ? OR json_extract(payload, '$.identity.plate') = ?)",
        (wanted, wanted),
    )
    seqs = {int(seq) for seq, _session in named}
    sessions = sorted({str(session) for _seq, session in named if session})
    if sessions:
        seqs |= {int(seq) for (seq,) in journal.rows(
            "SELECT seq FROM records WHERE json_extract(payload, '$.session') IN (SELECT value FROM json_each(?)) "
            "OR json_extract(payload, '$.for_record') IN (SELECT value FROM json_each(?))",
            (json.dumps(sessions), json.dumps(sessions)),
        )}  # fmt: skip
    export = PlateExport(wanted)
    rows = journal.rows(
        "SELECT seq, id, kind, lane, at, payload FROM records WHERE seq IN (SELECT value FROM json_each(?)) "
        "ORDER BY seq",
        (json.dumps(sorted(seqs)),),
    )
    images: list[str] = []
    for seq, record_id, kind, lane, at, payload_text in rows:
        payload = json.loads(payload_text)
        export.records.append({"seq": seq, "id": record_id, "kind": kind, "lane": lane, "at": at, "payload": payload})
        for key in ("image", "evidence"):
            if isinstance(payload.get(key), str) and payload[key] not in images:
                images.append(payload[key])
    export.images = images
    return export


def export_plate(journal: Journal, plate: str, *, by: str, reason: str, now: datetime) -> PlateExport:
    """The plate's records for a data-subject request, the request journaled (who, why, how many records)."""
    if not reason.strip():
        raise ValueError("reason: say why the plate's records are exported (the request it answers)")
    if not by.strip():
        raise ValueError("by: name who asked for the export")
    export = plate_records(journal, plate)
    journal.commit([Draft(new_id(), RecordKind.PRIVACY, None, now,
                          {"event": "exported", "plate": export.plate, "by": by, "reason": reason.strip(),
                           "records": len(export.records), "images": len(export.images)})])  # fmt: skip
    return export
