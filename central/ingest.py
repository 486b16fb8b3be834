"""Storing an edge's journal records: once per id, with each record's hash and the edge's chain verified.

A record that fails a check is stored all the same (it is evidence) and the break is written to ``chain_breaks``
for the supervisor; likewise a shift report that does not validate is stored and flagged in ``shift_reports``.
A record outside the wire bounds, or one the database refuses, is kept as received in ``quarantined_records``
(:mod:`central.quarantine`) and keeps its place in the chain when it states one: nothing an edge sends makes the
batch fail, so one bad record never stops the stream behind it. Batches of one edge are checked one at a time (its
``edges`` row is locked), so two retries of the same batch cannot both store it.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import psycopg
from sqlalchemy import BigInteger, ColumnElement, String, any_, bindparam, insert, select, union_all
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from central.core.db import utcnow
from central.models import ChainBreak, Edge, EdgeRecord, EdgeShiftReport, EdgeTransaction, QuarantinedRecord
from central.quarantine import Quarantined, quarantine, read_record
from central.reconciliation.projection import project_money_records
from central.reports import rollups
from central.reports.device_faults import project_device_faults
from central.shift_reports import shift_report_row
from central.transactions import STORE_INCOMING, transaction_row
from parking.wire import (
    GENESIS_HASH,
    SEQ_MAX,
    ChainStatus,
    IngestAck,
    IngestEnvelope,
    JournalRecord,
    RecordKind,
    Rejection,
    verify_record,
)

_LOGGER = logging.getLogger(__name__)
# What storing a batch may raise when a value passed the wire bounds and the database still refuses it.
_STORE_ERRORS = (SQLAlchemyError, psycopg.Error, ValueError, TypeError, OverflowError)


@dataclass(slots=True)
class IngestOutcome:
    ack: IngestAck
    breaks: list[ChainBreak] = field(default_factory=list)
    invalid_reports: list[str] = field(default_factory=list)  # shift_report records stored but flagged
    quarantined: list[Quarantined] = field(default_factory=list)  # kept as received by this request
    security_alerts: int = 0  # security_alert records stored (a booth's sign-in flood, ...)


@dataclass(frozen=True, slots=True)
class Link:
    """One place in an edge's chain: a stored record or a quarantined one that states its seq and hashes.
    ``verified`` is whether its hash matches its content (``None``: it could not be recomputed)."""

    seq: int
    record_id: str
    prev_hash: str
    hash: str
    verified: bool | None


_COLUMNS = ("id", "edge_id", "seq", "kind", "car_park", "lane", "at", "payload", "prev_hash", "hash", "hash_ok",
            "received_at")  # fmt: skip
_COPY_INCOMING = f"COPY incoming_records ({', '.join(_COLUMNS)}) FROM STDIN"
_STORE_INCOMING = STORE_INCOMING.format(columns=", ".join(_COLUMNS))  # this module's constants, never input


def _store(session: Session, rows: list[dict[str, Any]], count: bool) -> set[str]:
    """Insert the rows whose id is new, and count them into the rollups when ``count``; answers the ids inserted.

    On PostgreSQL the rows are copied into a temporary table and moved with one ``INSERT ... SELECT ... ON CONFLICT
    DO NOTHING`` that projects them too (:data:`central.transactions.STORE_INCOMING`): a 500-row multi-value
    ``INSERT`` spends more time being parsed than being stored. The temporary table is emptied at each commit
    (``ON COMMIT DELETE ROWS``) and before each use, for when the records are stored one by one.
    """
    if session.get_bind().dialect.name != "postgresql":
        statement = sqlite_insert(EdgeRecord).on_conflict_do_nothing(index_elements=["id"]).returning(EdgeRecord.id)
        stored = set(session.scalars(statement, rows))
        if projected := [transaction_row(r) for r in rows if r["id"] in stored and r["kind"] == "transaction"]:
            session.execute(insert(EdgeTransaction), projected)
        if count:
            rollups.add_records(session, [r for r in rows if r["id"] in stored])
        return stored
    cursor = session.connection().connection.driver_connection.cursor()  # type: ignore[union-attr]
    cursor.execute(
        "CREATE TEMPORARY TABLE IF NOT EXISTS incoming_records (LIKE edge_records INCLUDING DEFAULTS) "
        "ON COMMIT DELETE ROWS"
    )
    cursor.execute("DELETE FROM incoming_records")
    with cursor.copy(_COPY_INCOMING) as copy:
        for row in rows:
            copy.write_row(
                [json.dumps(row["payload"], ensure_ascii=False) if c == "payload" else row[c] for c in _COLUMNS]
            )
    cursor.execute(_STORE_INCOMING)
    inserted = {str(row[0]) for row in cursor.fetchall()}
    if inserted and count:
        rollups.add_incoming(cursor, inserted)
    return inserted


def _in(session: Session, column: Any, values: Sequence[Any]) -> ColumnElement[bool]:
    """``column IN (...)``, as one array parameter on PostgreSQL (a long IN list costs more to parse than to run)."""
    if session.get_bind().dialect.name == "postgresql":
        item_type = BigInteger() if column.key == "seq" else String()
        return cast(ColumnElement[bool], column == any_(bindparam(None, list(values), type_=ARRAY(item_type))))
    return cast(ColumnElement[bool], column.in_(list(values)))


def _store_safely(
    session: Session, rows: list[dict[str, Any]], raws: dict[str, dict[str, Any]], count: bool
) -> tuple[set[str], list[dict[str, Any]], list[Quarantined]]:
    """Store and project the rows in one go (counting them into the rollups when ``count``); when the database
    refuses the batch, row by row, and each row it refuses is quarantined. Answers the ids inserted, their shift
    report rows and the quarantined."""
    try:
        with session.begin_nested():
            inserted = _store(session, rows, count)
            reports = _project_reports(session, rows, inserted)
        return inserted, reports, []
    except _STORE_ERRORS as err:
        _LOGGER.warning("ingest: the database refused a batch (%s); storing its records one by one", err)
    inserted, reports, refused = set(), [], []
    for row in rows:
        try:
            with session.begin_nested():
                one = _store(session, [row], count)
                reports += _project_reports(session, [row], one)
            inserted |= one
        except _STORE_ERRORS as err:
            refused.append(quarantine(raws[row["id"]], "not_storable", "record", f"{type(err).__name__}: {err}"))
    return inserted, reports, refused


def _project_reports(session: Session, rows: list[dict[str, Any]], inserted: set[str]) -> list[dict[str, Any]]:
    """Project the stored rows for reconciliation (``money_records``), the device faults and the shift reports;
    answers the latter."""
    project_money_records(session, [r for r in rows if r["id"] in inserted])
    project_device_faults(session, [r for r in rows if r["id"] in inserted and r["kind"] == RecordKind.DEVICE_FAULT])
    reports = [shift_report_row(r) for r in rows if r["id"] in inserted and r["kind"] == RecordKind.SHIFT_REPORT]
    if reports:
        session.execute(insert(EdgeShiftReport), reports)
    return reports


def _hold(session: Session, edge_id: str, held: list[Quarantined]) -> tuple[list[Quarantined], list[Quarantined]]:
    """Keep the quarantined records not held before; answers (new, held already)."""
    unique = list({q.digest: q for q in held}.values())
    if not unique:
        return [], []
    now = utcnow()
    rows = [
        {"edge_id": edge_id, "record_id": q.record_id, "seq": q.seq, "kind": q.kind, "prev_hash": q.prev_hash,
         "hash": q.hash, "hash_ok": q.hash_ok, "reason": q.reason, "field": q.field, "detail": q.detail,
         "raw": q.raw, "digest": q.digest, "received_at": now}
        for q in unique
    ]  # fmt: skip
    dialect_insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = (
        dialect_insert(QuarantinedRecord)
        .on_conflict_do_nothing(index_elements=["edge_id", "digest"])
        .returning(QuarantinedRecord.digest)
    )
    new_digests = set(session.scalars(statement, rows))
    fresh = [q for q in unique if q.digest in new_digests]
    firsts = {id(q) for q in fresh}
    return fresh, [q for q in held if id(q) not in firsts]  # held before, or twice in this batch


def ingest_batch(session: Session, edge_id: str, batch: IngestEnvelope) -> IngestOutcome:
    """Store the batch's new records, quarantine the ones outside the bounds, and check the chain; the caller
    commits. Never raises for anything a record holds.

    The records are counted into the rollups last, just before the caller commits: every edge of a car park adds
    to the same rollup rows, which stay locked until the commit, so counting first would make the edges' batches
    wait for each other through all the rest. Should the database refuse the batch's counts (a sum beyond a
    bigint), the batch is taken again from the start, counted as it is stored, record by record where refused.
    """
    edge = session.execute(select(Edge).where(Edge.id == edge_id).with_for_update()).scalar_one()
    try:
        with session.begin_nested():
            outcome, stored = _ingest(session, edge, batch, count=False)
            session.flush()
            _count(session, stored)
        return outcome
    except _STORE_ERRORS as err:
        _LOGGER.warning("ingest: the database refused the counts of a batch (%s); counting as it stores", err)
    return _ingest(session, edge, batch, count=True)[0]


def _count(session: Session, stored: list[dict[str, Any]]) -> None:
    """Count the stored rows into the rollups."""
    if not stored:
        return
    if session.get_bind().dialect.name != "postgresql":
        rollups.add_records(session, stored)
        return
    cursor = session.connection().connection.driver_connection.cursor()  # type: ignore[union-attr]
    rollups.add_stored(cursor, [r["id"] for r in stored])


def _ingest(
    session: Session, edge: Edge, batch: IngestEnvelope, count: bool
) -> tuple[IngestOutcome, list[dict[str, Any]]]:
    """:func:`ingest_batch` but the rollups, unless ``count``; answers the outcome and the rows stored."""
    rejected: list[Rejection] = []
    duplicates: list[str] = []
    breaks: list[ChainBreak] = []
    candidates: list[JournalRecord] = []
    held: list[Quarantined] = []
    raws: dict[str, dict[str, Any]] = {}
    seen: dict[str, str] = {}
    readable: list[tuple[JournalRecord, dict[str, Any]]] = []
    for raw in batch.records:
        read = read_record(raw)
        if isinstance(read, Quarantined):
            held.append(read)
        else:
            readable.append((read, raw))
    for record, raw in sorted(readable, key=lambda pair: pair[0].seq):
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
            raws[record.id] = raw

    # The edge's links the chain check needs, read before the batch is stored (its row is locked, so nothing else
    # stores records of this edge meanwhile): after, this would read back the batch's own records only to drop them.
    known = _around([r.seq for r in candidates] + [q.seq for q in held if q.seq is not None])
    before, before_held = _stored_links(session, edge.id, known)
    hash_ok = {record.id: verify_record(record) for record in candidates}
    now = utcnow()
    rows = [
        {"id": r.id, "edge_id": edge.id, "seq": r.seq, "kind": r.kind.value, "car_park": r.car_park, "lane": r.lane,
         "at": r.at, "payload": r.payload, "prev_hash": r.prev_hash, "hash": r.hash, "hash_ok": hash_ok[r.id],
         "received_at": now}
        for r in candidates
    ]  # fmt: skip
    inserted, reports, refused = _store_safely(session, rows, raws, count) if rows else (set(), [], [])
    refused_ids = {q.record_id for q in refused}
    held.extend(refused)
    new = [r for r in candidates if r.id in inserted]
    if missed := [r for r in candidates if r.id not in inserted and r.id not in refused_ids]:
        # A record of this edge read before storing is the one holding its id (ids are unique, nothing is deleted);
        # the others (another edge's, another seq's) are looked up.
        stored = {link.record_id: link.hash for link in before}
        if unknown := [r.id for r in missed if r.id not in stored]:
            stored.update(
                session.execute(
                    select(EdgeRecord.id, EdgeRecord.hash).where(_in(session, EdgeRecord.id, unknown))
                ).tuples()
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
    new_held, held_before = _hold(session, edge.id, held)
    for q in new_held[:20]:
        _LOGGER.warning("edge %s: record %s quarantined: %s at %s", edge.id, q.label, q.reason, q.field)
    duplicates.extend(q.label for q in held_before)

    links = [Link(r.seq, r.id, r.prev_hash, r.hash, hash_ok[r.id]) for r in new]
    links += [link for link in map(_link, new_held) if link is not None]
    pre = _Read(set(known), before + before_held)
    gap = _check_chain(session, edge, links, breaks, pre)
    _advance_head(session, edge, links, pre)
    edge.last_ingest_at = utcnow()
    session.add_all(breaks)
    status = ChainStatus.BREAK if breaks else ChainStatus.GAP if gap else ChainStatus.OK
    detail = "; ".join(f"seq {b.seq}: {b.reason}" for b in breaks[:20])
    if not breaks and gap:
        detail = f"records before seq {min(gap)} have not arrived"
    ack = IngestAck(
        accepted=[r.id for r in new] + [q.record_id for q in new_held if q.record_id], duplicates=duplicates,
        rejected=rejected, chain=status, chain_detail=detail, last_seq=edge.chain_seq,
        quarantined=[Rejection(id=q.label, code=f"ingest.quarantined.{q.reason}", message=f"{q.field}: {q.detail}")
                     for q in new_held],
    )  # fmt: skip
    alerts = [r for r in new if r.kind is RecordKind.SECURITY_ALERT]
    for alert in alerts[:20]:
        _LOGGER.warning("edge %s reports a security alert: %s", edge.id, alert.payload)
    outcome = IngestOutcome(ack=ack, breaks=breaks, invalid_reports=[r["record_id"] for r in reports if not r["valid"]],
                            quarantined=new_held, security_alerts=len(alerts))  # fmt: skip
    return outcome, [r for r in rows if r["id"] in inserted]


def _link(q: Quarantined) -> Link | None:
    """The quarantined record's place in the chain, when it states one."""
    if q.seq is None or q.prev_hash is None or q.hash is None:
        return None
    return Link(q.seq, q.record_id or "", q.prev_hash, q.hash, q.hash_ok)


@dataclass(frozen=True, slots=True)
class _Read:
    """The edge's stored and quarantined links at ``seqs``, read before the batch was stored."""

    seqs: set[int]
    links: list[Link]


def _around(seqs: Sequence[int]) -> list[int]:
    """The seqs a chain check of links at ``seqs`` looks at (each, its predecessor and its successor), sorted."""
    wanted = {seq + step for seq in seqs for step in (-1, 0, 1)}
    return sorted(seq for seq in wanted if 1 <= seq <= SEQ_MAX)  # none beyond a bigint: no record can be there


def _check_chain(session: Session, edge: Edge, new: list[Link], breaks: list[ChainBreak], read: _Read) -> list[int]:
    """Append the breaks the new links make; answers the seqs whose predecessor has not arrived (gaps).

    A quarantined record that states its seq and hashes is a link like any other: its predecessor must match its
    ``prev_hash`` and its successor's ``prev_hash`` its ``hash``. When its hash could not be recomputed it is flagged
    ``unverified`` (the chain goes on from the hash it states, and the supervisor sees where it was not proven).

    The links the check compares with are those of ``read`` (read before the batch was stored) and, at a seq it
    did not read, those stored now but the new ones: the same links either way, as the new links are left out.
    """
    if not new:
        return []
    new_keys = {(link.seq, link.record_id, link.hash) for link in new}
    in_batch: dict[int, list[Link]] = defaultdict(list)
    for link in new:
        in_batch[link.seq].append(link)
    links = read.links
    if missing := [seq for seq in _around([link.seq for link in new]) if seq not in read.seqs]:
        records, held = _stored_links(session, edge.id, missing)
        links = links + records + held
    earlier: dict[int, list[Link]] = defaultdict(list)
    for link in links:
        if (link.seq, link.record_id, link.hash) not in new_keys:
            earlier[link.seq].append(link)

    def flag(link: Link, reason: str, detail: str) -> None:
        breaks.append(ChainBreak(edge_id=edge.id, seq=link.seq, record_id=link.record_id, reason=reason,
                                 detail=detail))  # fmt: skip

    gaps: list[int] = []
    for link in new:
        if link.verified is False:
            flag(link, "hash_mismatch", "the record's hash does not match its content (altered)")
        elif link.verified is None:
            flag(link, "unverified", "a quarantined record whose hash cannot be recomputed: the chain goes on "
                                     "from the hash it states")  # fmt: skip
        if earlier[link.seq] or len(in_batch[link.seq]) > 1:
            flag(link, "fork", "another record already holds this seq")
        if link.seq == 1:
            predecessors = [GENESIS_HASH]
        else:
            predecessors = [p.hash for p in in_batch.get(link.seq - 1, [])] + [p.hash for p in earlier[link.seq - 1]]
        if not predecessors:
            gaps.append(link.seq)
        elif link.prev_hash not in predecessors:
            flag(link, "prev_mismatch", "prev_hash does not match the record before (deleted or reordered)")
        for successor in earlier[link.seq + 1]:
            if successor.prev_hash != link.hash:
                breaks.append(ChainBreak(edge_id=edge.id, seq=successor.seq, record_id=successor.record_id,
                                         reason="prev_mismatch",
                                         detail="prev_hash does not match the record that arrived later"))  # fmt: skip
    return gaps


def _stored_links(session: Session, edge_id: str, seqs: list[int]) -> tuple[list[Link], list[Link]]:
    """The stored links of the edge at ``seqs`` (sorted), and its quarantined ones. The seqs are bounded by their
    range as well, so the ``(edge_id, seq)`` index is scanned over the batch's range only, never over all the edge's
    records (an array alone is a filter the planner may apply to every record of the edge)."""
    if not seqs:
        return [], []
    records = session.execute(
        select(EdgeRecord.seq, EdgeRecord.id, EdgeRecord.prev_hash, EdgeRecord.hash, EdgeRecord.hash_ok)
        .where(EdgeRecord.edge_id == edge_id, EdgeRecord.seq.between(seqs[0], seqs[-1]),
               _in(session, EdgeRecord.seq, seqs))
    )  # fmt: skip
    links = [Link(seq, rid, prev, digest, ok) for seq, rid, prev, digest, ok in records]
    held = session.execute(
        select(QuarantinedRecord.seq, QuarantinedRecord.record_id, QuarantinedRecord.prev_hash, QuarantinedRecord.hash,
               QuarantinedRecord.hash_ok)
        .where(QuarantinedRecord.edge_id == edge_id, QuarantinedRecord.seq.between(seqs[0], seqs[-1]),
               _in(session, QuarantinedRecord.seq, seqs),
               QuarantinedRecord.prev_hash.is_not(None), QuarantinedRecord.hash.is_not(None))
    )  # fmt: skip
    return links, [Link(seq or 0, rid or "", prev or "", digest or "", ok) for seq, rid, prev, digest, ok in held]


def _advance_head(session: Session, edge: Edge, new: list[Link], read: _Read) -> None:
    """Move the edge's contiguous head (``chain_seq``) as far as the stored and quarantined seqs allow.

    When the new links are the seqs right after the head, one each, and nothing else was stored at them or at the
    seq after them (all of which ``read`` read), the head moves to the last of them without reading them back.
    """
    head, seqs = edge.chain_seq, sorted(link.seq for link in new)
    after = range(head + 1, head + len(seqs) + 2)
    if (
        seqs
        and seqs == list(range(head + 1, head + len(seqs) + 1))
        and read.seqs.issuperset(after)
        and not any(link.seq in after for link in read.links)
    ):
        edge.chain_seq = seqs[-1]
        edge.chain_hash = next(link.hash for link in new if link.seq == seqs[-1])
        return
    while True:
        stored = select(EdgeRecord.seq.label("seq"), EdgeRecord.hash.label("hash")).where(
            EdgeRecord.edge_id == edge.id, EdgeRecord.seq > edge.chain_seq
        )
        held = select(QuarantinedRecord.seq.label("seq"), QuarantinedRecord.hash.label("hash")).where(
            QuarantinedRecord.edge_id == edge.id, QuarantinedRecord.seq > edge.chain_seq,
            QuarantinedRecord.prev_hash.is_not(None), QuarantinedRecord.hash.is_not(None),
        )  # fmt: skip
        both = union_all(stored, held).subquery()
        rows = session.execute(select(both.c.seq, both.c.hash).order_by(both.c.seq).limit(5000)).all()
        moved = False
        for seq, digest in rows:
            if seq != edge.chain_seq + 1:
                break
            edge.chain_seq = seq
            edge.chain_hash = digest
            moved = True
        if not moved or len(rows) < 5000:
            return
