"""Records ingested from the edges' journals (the source of truth) and the hash-chain breaks found in them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from central.core.db import Base, JsonDocument, UTCDateTime, utcnow


class EdgeRecord(Base):
    __tablename__ = "edge_records"
    __table_args__ = (Index("ix_edge_records_edge_seq", "edge_id", "seq"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    edge_id: Mapped[str] = mapped_column(String(64))
    seq: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(32))
    car_park: Mapped[str] = mapped_column(String(64))
    lane: Mapped[str | None] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JsonDocument)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    hash_ok: Mapped[bool] = mapped_column(default=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ChainBreak(Base):
    """A place where an edge's chain does not hold: a record altered, deleted, reordered, or an id reused."""

    __tablename__ = "chain_breaks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    edge_id: Mapped[str] = mapped_column(String(64), index=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    record_id: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(String(32))  # hash_mismatch, prev_mismatch, fork, id_conflict
    detail: Mapped[str] = mapped_column(Text, default="")
    detected_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    acknowledged_by: Mapped[int | None] = mapped_column(Integer)


class EdgeTransaction(Base):
    """A typed view of each ``transaction`` record (payments, waivers, reversals) for billing and reconciliation.

    Built from ``edge_records`` at ingest and always rebuildable from it; a payload field that is missing or not of
    the expected type is left empty here, never refused (the record itself is kept as sent).
    """

    __tablename__ = "edge_transactions"
    __table_args__ = (Index("ix_edge_transactions_car_park_at", "car_park", "at"),)

    record_id: Mapped[str] = mapped_column(ForeignKey("edge_records.id", ondelete="CASCADE"), primary_key=True)
    edge_id: Mapped[str] = mapped_column(String(64))
    car_park: Mapped[str] = mapped_column(String(64))
    lane: Mapped[str | None] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    transaction_kind: Mapped[str] = mapped_column(String(32), default="")
    amount_minor: Mapped[int | None] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3), default="")
    session_id: Mapped[str | None] = mapped_column(String(64))
    plate: Mapped[str | None] = mapped_column(String(16))


class EdgeShiftReport(Base):
    """A typed view of each ``shift_report`` record (a booth shift's closing figures) for reconciliation.

    Built from ``edge_records`` at ingest with :func:`parking.shift_report.check_shift_report`. A report that does
    not validate is kept all the same (the record is stored as sent) and flagged here: ``valid`` false, ``problem``
    saying why, the figures empty.
    """

    __tablename__ = "shift_reports"
    __table_args__ = (Index("ix_shift_reports_car_park_at", "car_park", "at"),)

    record_id: Mapped[str] = mapped_column(ForeignKey("edge_records.id", ondelete="CASCADE"), primary_key=True)
    edge_id: Mapped[str] = mapped_column(String(64))
    car_park: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    shift: Mapped[str | None] = mapped_column(String(64))
    booth: Mapped[str | None] = mapped_column(String(64))
    revision: Mapped[int | None] = mapped_column(Integer)
    operator: Mapped[str | None] = mapped_column(String(64))
    currency: Mapped[str] = mapped_column(String(3), default="")
    takings: Mapped[int | None] = mapped_column(BigInteger)
    cash_expected: Mapped[int | None] = mapped_column(BigInteger)
    cash_counted: Mapped[int | None] = mapped_column(BigInteger)
    cash_difference: Mapped[int | None] = mapped_column(BigInteger)
    cards_difference: Mapped[int | None] = mapped_column(BigInteger)
    unexplained_cycles: Mapped[int | None] = mapped_column(BigInteger)
    # free/special -> category -> count: listed vehicles the lanes let through (None: a report from before the field)
    free_passes: Mapped[dict[str, dict[str, int]] | None] = mapped_column(JsonDocument)
    valid: Mapped[bool] = mapped_column(Boolean, default=True)
    problem: Mapped[str] = mapped_column(Text, default="")


class QuarantinedRecord(Base):
    """A journal record central could not store or project as it is (outside the wire bounds, or text PostgreSQL
    cannot hold), kept exactly as received and flagged so the stream behind it goes on.

    ``raw`` is the record's JSON with every non-ASCII character escaped, so U+0000 and lone surrogates survive as
    ``\\u0000`` escapes and nothing is lost. ``seq``, ``prev_hash`` and ``hash`` are filled when the record states
    them well enough to take its place in the edge's chain; ``hash_ok`` is ``None`` when the hash could not be
    recomputed (say a time that does not convert to UTC).
    """

    __tablename__ = "quarantined_records"
    __table_args__ = (
        Index("ix_quarantined_records_edge_seq", "edge_id", "seq"),
        Index("ux_quarantined_records_edge_digest", "edge_id", "digest", unique=True),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    edge_id: Mapped[str] = mapped_column(String(64))
    record_id: Mapped[str | None] = mapped_column(String(64))
    seq: Mapped[int | None] = mapped_column(BigInteger)
    kind: Mapped[str | None] = mapped_column(String(32))
    prev_hash: Mapped[str | None] = mapped_column(String(64))
    hash: Mapped[str | None] = mapped_column(String(64))
    hash_ok: Mapped[bool | None] = mapped_column(Boolean)
    reason: Mapped[str] = mapped_column(String(32))  # text_not_storable, out_of_range, too_long, too_deep, ...
    field: Mapped[str] = mapped_column(String(200))  # e.g. payload.reason, seq, at
    detail: Mapped[str] = mapped_column(Text, default="")
    raw: Mapped[str] = mapped_column(Text)
    digest: Mapped[str] = mapped_column(String(64))  # SHA-256 of raw: a resent record is quarantined once
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
