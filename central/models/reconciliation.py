"""Reconciliation's tables: a rich projection of the money records, tariff versions by content hash, the
supervisor's review of each shift, and the custody of each cash bag."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from central.core.db import Base, JsonDocument, UTCDateTime, utcnow


class MoneyRecord(Base):
    """One journal record as reconciliation reads it: who, where, which shift, what was charged and why.

    Built from ``edge_records`` at ingest (:mod:`central.reconciliation.projection`) and rebuilt from it by
    ``parkgate central rebuild-projections``; a field the payload lacks, or holds with the wrong type, is empty.
    ``detail`` keeps what only some records have (fee breakdown lines, coupons, the shift report, a tariff's text).
    """

    __tablename__ = "money_records"
    __table_args__ = (
        Index("ix_money_records_car_park_at", "car_park", "at"),
        Index("ix_money_records_edge_seq", "edge_id", "seq"),
        Index("ix_money_records_shift", "shift"),
        Index("ix_money_records_session", "session_id"),
    )

    record_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    edge_id: Mapped[str] = mapped_column(String(64))
    seq: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(32))
    event: Mapped[str] = mapped_column(String(32), default="")
    car_park: Mapped[str] = mapped_column(String(64))
    lane: Mapped[str | None] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    hash_ok: Mapped[bool] = mapped_column(Boolean, default=True)
    booth: Mapped[str | None] = mapped_column(String(64))
    shift: Mapped[str | None] = mapped_column(String(64))
    operator: Mapped[str | None] = mapped_column(String(64))
    method: Mapped[str | None] = mapped_column(String(16))
    currency: Mapped[str] = mapped_column(String(3), default="")
    amount: Mapped[int | None] = mapped_column(BigInteger)  # charged (payment), waived (waiver), declared (drop)
    tendered: Mapped[int | None] = mapped_column(BigInteger)
    change: Mapped[int | None] = mapped_column(BigInteger)
    refunded: Mapped[int | None] = mapped_column(BigInteger)
    quoted: Mapped[int | None] = mapped_column(BigInteger)  # the fee the edge's quote said was due
    tariff_id: Mapped[str | None] = mapped_column(String(64))
    tariff_hash: Mapped[str | None] = mapped_column(String(64))
    quoted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    entry_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    exit_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    vehicle_class: Mapped[str | None] = mapped_column(String(32))
    lost_card: Mapped[bool] = mapped_column(Boolean, default=False)
    paid_before: Mapped[int | None] = mapped_column(BigInteger)  # paid ahead of the exit (pay station)
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    category: Mapped[str | None] = mapped_column(String(40))  # waiver category (police, ambulance...)
    list_kind: Mapped[str | None] = mapped_column(String(16))  # free, special
    reason: Mapped[str | None] = mapped_column(Text)  # waiver, manual-open or reversal reason
    reverses: Mapped[str | None] = mapped_column(String(64))
    for_record: Mapped[str | None] = mapped_column(String(64))  # a barrier opening's justifying record
    plate: Mapped[str | None] = mapped_column(String(16))
    card: Mapped[str | None] = mapped_column(String(64))
    session_id: Mapped[str | None] = mapped_column(String(64))
    session_kind: Mapped[str | None] = mapped_column(String(16))
    bag: Mapped[str | None] = mapped_column(String(32))
    detail: Mapped[dict[str, Any]] = mapped_column(JsonDocument, default=dict)


class TariffVersion(Base):
    """A tariff's text by its SHA-256: sent by an edge (``tariff_version`` record) or published by central."""

    __tablename__ = "tariff_versions"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    tariff_id: Mapped[str] = mapped_column(String(64), default="")
    content: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(64))  # "published", or the edge id that sent it
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ShiftReview(Base):
    """The supervisor's decision on one shift's reconciliation. Records received after ``decided_at`` are late:
    they send the shift back to review until it is decided again."""

    __tablename__ = "shift_reviews"

    shift: Mapped[str] = mapped_column(String(64), primary_key=True)
    car_park: Mapped[str] = mapped_column(String(64), index=True)
    state: Mapped[str] = mapped_column(String(16))  # flagged, signed_off
    note: Mapped[str] = mapped_column(Text, default="")
    decided_by: Mapped[str] = mapped_column(String(64))
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    first_decided_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    exceptions: Mapped[int] = mapped_column(Integer, default=0)


class CashBag(Base):
    """A sealed cash bag's custody after its drop at the booth: picked up, counted at the office, deposited."""

    __tablename__ = "cash_bags"
    __table_args__ = (UniqueConstraint("car_park", "bag", name="uq_cash_bags_car_park_bag"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    car_park: Mapped[str] = mapped_column(String(64), index=True)
    bag: Mapped[str] = mapped_column(String(32))
    drop_record: Mapped[str] = mapped_column(String(64))
    shift: Mapped[str | None] = mapped_column(String(64))
    currency: Mapped[str] = mapped_column(String(3), default="")
    declared: Mapped[int] = mapped_column(BigInteger)
    dropped_at: Mapped[datetime] = mapped_column(UTCDateTime)
    picked_up_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    picked_up_by: Mapped[str | None] = mapped_column(String(64))
    witnessed_by: Mapped[str | None] = mapped_column(String(64))
    counted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    counted_by: Mapped[str | None] = mapped_column(String(64))
    counted: Mapped[int | None] = mapped_column(BigInteger)
    deposited_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    deposited_by: Mapped[str | None] = mapped_column(String(64))
    deposit_slip: Mapped[str | None] = mapped_column(String(64))  # the bank deposit slip's reference (银行进账单)
