"""Storing an edge's journal records: once per id, with each record's hash and the edge's chain verified.

A record that fails a check is stored all the same (it is evidence) and the break is written to ``chain_breaks``
for the supervisor; likewise a shift report that does not validate is stored and flagged in ``shift_reports``.
Batches of one edge are checked one at a time (its ``edges`` row is locked), so two retries of the same batch
cannot both store it.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import BigInteger, ColumnElement, String, any_, bindparam, insert, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from central.core.db import utcnow
from central.models import ChainBreak, Edge, EdgeRecord, EdgeShiftReport, EdgeTransaction
from central.reports import rollups
from central.shift_reports import shift_report_row
from central.transactions import PROJECT_INCOMING, transaction_row
from parking.wire import (
    GENESIS_HASH,
    ChainStatus,
    IngestAck,
    IngestBatch,
    JournalRecord,
    RecordKind,
    Rejection,
    verify_record,
)


@dataclass(slots=True)
class IngestOutcome:
    ack: IngestAck
    breaks: list[ChainBreak] = field(default_factory=list)
    invalid_reports: list[str] = field(default_factory=list)  # shift_report records stored but flagged


_COLUMNS = ("id", "edge_id", "seq", "kind", "car_park", "lane", "at", "payload", "prev_hash", "hash", "hash_ok",
            "received_at")  # fmt: skip
_COPY_INCOMING = f"COPY incoming_records ({', '.join(_COLUMNS)}) FROM STDIN"
_MOVE_INCOMING = (
    f"INSERT INTO edge_records ({', '.join(_COLUMNS)}) SELECT {', '.join(_COLUMNS)} FROM incoming_records "  # noqa: S608
    "ON CONFLICT (id) DO NOTHING RETURNING id"
)  # the columns are this module's constants, never input


def _store(session: Session, rows: list[dict[str, Any]]) -> set[str]:
    """Insert the rows whose id is new; answers the ids inserted.

    On PostgreSQL the rows are copied into a temporary table and moved with one ``INSERT ... SELECT ... ON CONFLICT
    DO NOTHING``: a 500-row multi-value ``INSERT`` spends more time being parsed than being stored.
    """
    if session.get_bind().dialect.name != "postgresql":
        statement = sqlite_insert(EdgeRecord).on_conflict_do_nothing(index_elements=["id"]).returning(EdgeRecord.id)
        stored = set(session.scalars(statement, rows))
        if projected := [transaction_row(r) for r in rows if r["id"] in stored and r["kind"] == "transaction"]:
            session.execute(insert(EdgeTransaction), projected)
        rollups.add_records(session, [r for r in rows if r["id"] in stored])
        return stored
    cursor = session.connection().connection.driver_connection.cursor()  # type: ignore[union-attr]
    cursor.execute(
        "CREATE TEMPORARY TABLE IF NOT EXISTS incoming_records (LIKE edge_records INCLUDING DEFAULTS) "
        "ON COMMIT DELETE ROWS"
    )
    with cursor.copy(_COPY_INCOMING) as copy:
        for row in rows:
            copy.write_row(
                [json.dumps(row["payload"], ensure_ascii=False) if c == "payload" else row[c] for c in _COLUMNS]
            )
    cursor.execute(_MOVE_INCOMING)
    inserted = {str(row[0]) for row in cursor.fetchall()}
    if inserted:
        cursor.execute(PROJECT_INCOMING, (list(inserted),))
        rollups.add_incoming(cursor, inserted)
    cursor.execute("TRUNCATE incoming_records")
    return inserted


def _in(session: Session, column: Any, values: Sequence[Any]) -> ColumnElement[bool]:
    """``column IN (...)``, as one array parameter on PostgreSQL (a long IN list costs more to parse than to run)."""
    if session.get_bind().dialect.name == "postgresql":
        item_type = BigInteger() if column.key == "seq" else String()
        return cast(ColumnElement[bool], column == any_(bindparam(None, list(values), type_=ARRAY(item_type))))
    return cast(ColumnElement[bool], column.in_(list(values)))


def ingest_batch(session: Session, edge_id: str, batch: IngestBatch) -> IngestOutcome:
    """Store the batch's new records and check the chain; the caller commits."""
    edge = session.execute(select(Edge).where(Edge.id == edge_id).with_for_update()).scalar_one()
    rejected: list[Rejection] = []
    duplicates: list[str] = []
    breaks: list[ChainBreak] = []
    candidates: list[JournalRecord] = []
    seen: dict[str, str] = {}
    for record in sorted(batch.records, key=lambda r: r.seq):
        if record.car_park != edge.car_park_id:
            rejected.append(Rejection(id=record.id, code="ingest.wrong_car_park",
                                      message=f"edge {edge.id!r} serves car park {edge.car_park_id!r}"))  # fmt: skip
        elif record.id in seen:
            if seen[record.id] == record.hash:
                duplicates.append(record.id)
            else:
                rejected.append(Rejection(id=record.id, code="ingest.id_conflict",
                                          message="the batch holds two different records with this id"))  # fmt: skip
        else:
            seen[record.id] = record.hash
            candidates.append(record)

    hash_ok = {record.id: verify_record(record) for record in candidates}
    now = utcnow()
    rows = [
        {"id": r.id, "edge_id": edge.id, "seq": r.seq, "kind": r.kind.value, "car_park": r.car_park, "lane": r.lane,
         "at": r.at, "payload": r.payload, "prev_hash": r.prev_hash, "hash": r.hash, "hash_ok": hash_ok[r.id],
         "received_at": now}
        for r in candidates
    ]  # fmt: skip
    inserted = _store(session, rows) if rows else set()
    new = [r for r in candidates if r.id in inserted]
    reports = [shift_report_row(r) for r in rows if r["id"] in inserted and r["kind"] == RecordKind.SHIFT_REPORT]
    if reports:
        session.execute(insert(EdgeShiftReport), reports)
    if missed := [r for r in candidates if r.id not in inserted]:
        stored = dict(
            session.execute(
                select(EdgeRecord.id, EdgeRecord.hash).where(_in(session, EdgeRecord.id, [r.id for r in missed]))
            ).all()
        )
        for record in missed:
            if stored.get(record.id) == record.hash:
                duplicates.append(record.id)
            else:
                rejected.append(Rejection(id=record.id, code="ingest.id_conflict",
                                          message="central holds a different record with this id"))  # fmt: skip
                breaks.append(ChainBreak(
                    edge_id=edge.id, seq=record.seq, record_id=record.id, reason="id_conflict",
                    detail="a record with this id and other content was stored before",
                ))  # fmt: skip

    gap = _check_chain(session, edge, new, hash_ok, breaks)
    _advance_head(session, edge)
    edge.last_ingest_at = utcnow()
    session.add_all(breaks)
    status = ChainStatus.BREAK if breaks else ChainStatus.GAP if gap else ChainStatus.OK
    detail = "; ".join(f"seq {b.seq}: {b.reason}" for b in breaks[:20])
    if not breaks and gap:
        detail = f"records before seq {min(gap)} have not arrived"
    ack = IngestAck(accepted=[r.id for r in new], duplicates=duplicates, rejected=rejected, chain=status,
                    chain_detail=detail, last_seq=edge.chain_seq)  # fmt: skip
    return IngestOutcome(ack=ack, breaks=breaks, invalid_reports=[r["record_id"] for r in reports if not r["valid"]])


def _check_chain(
    session: Session, edge: Edge, new: list[JournalRecord], hash_ok: dict[str, bool], breaks: list[ChainBreak]
) -> list[int]:
    """Append the breaks the new records make; answers the seqs whose predecessor has not arrived (gaps)."""
    if not new:
        return []
    new_ids = {r.id for r in new}
    in_batch: dict[int, list[JournalRecord]] = defaultdict(list)
    for record in new:
        in_batch[record.seq].append(record)
    wanted = {r.seq - 1 for r in new} | {r.seq + 1 for r in new} | {r.seq for r in new}
    wanted.discard(0)
    earlier: dict[int, list[tuple[str, str, str]]] = defaultdict(list)
    rows = session.execute(
        select(EdgeRecord.seq, EdgeRecord.id, EdgeRecord.hash, EdgeRecord.prev_hash)
        .where(EdgeRecord.edge_id == edge.id, _in(session, EdgeRecord.seq, sorted(wanted)))
    )  # fmt: skip
    for seq, record_id, digest, prev in rows:
        if record_id not in new_ids:
            earlier[seq].append((record_id, digest, prev))

    def flag(record: JournalRecord, reason: str, detail: str) -> None:
        breaks.append(ChainBreak(edge_id=edge.id, seq=record.seq, record_id=record.id, reason=reason, detail=detail))

    gaps: list[int] = []
    for record in new:
        if not hash_ok[record.id]:
            flag(record, "hash_mismatch", "the record's hash does not match its content (altered)")
        if earlier[record.seq] or len(in_batch[record.seq]) > 1:
            flag(record, "fork", "another record already holds this seq")
        if record.seq == 1:
            predecessors = [GENESIS_HASH]
        else:
            predecessors = [r.hash for r in in_batch.get(record.seq - 1, [])] + [
                h for _, h, _ in earlier[record.seq - 1]
            ]
        if not predecessors:
            gaps.append(record.seq)
        elif record.prev_hash not in predecessors:
            flag(record, "prev_mismatch", "prev_hash does not match the record before (deleted or reordered)")
        for successor_id, _digest, successor_prev in earlier[record.seq + 1]:
            if successor_prev != record.hash:
                breaks.append(ChainBreak(edge_id=edge.id, seq=record.seq + 1, record_id=successor_id,
                                         reason="prev_mismatch",
                                         detail="prev_hash does not match the record that arrived later"))  # fmt: skip
    return gaps


def _advance_head(session: Session, edge: Edge) -> None:
    """Move the edge's contiguous head (``chain_seq``) as far as the stored seqs allow."""
    while True:
        rows = session.execute(
            select(EdgeRecord.seq, EdgeRecord.hash)
            .where(EdgeRecord.edge_id == edge.id, EdgeRecord.seq > edge.chain_seq)
            .order_by(EdgeRecord.seq).limit(5000)
        ).all()  # fmt: skip
        moved = False
        for seq, digest in rows:
            if seq != edge.chain_seq + 1:
                break
            edge.chain_seq = seq
            edge.chain_hash = digest
            moved = True
        if not moved or len(rows) < 5000:
            return
