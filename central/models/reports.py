"""The report rollups: figures kept by ingest as journal records arrive, so a month's report reads a few thousand
rows instead of millions of records. Always rebuildable from ``edge_records`` (``parkgate central rebuild-rollups``).

``day`` and ``hour`` are local to the car park (its ``timezone``); ``kind`` says what was counted: ``transaction``
(``outcome`` its transaction kind), ``entry`` and ``exit`` (``outcome`` the session kind; ``reopened`` and
``voided`` for a back-out), ``manual`` (``outcome`` the action) and ``abnormal`` (``outcome`` the event, ``category``
an entry denial's code). Empty text where the record does not say.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, Index, SmallInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from central.core.db import Base, UTCDateTime
from central.models.journal import EdgeRecord


class ReportDaily(Base):
    __tablename__ = "report_daily"

    car_park: Mapped[str] = mapped_column(String(64), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    outcome: Mapped[str] = mapped_column(String(32), primary_key=True)
    lane: Mapped[str] = mapped_column(String(64), primary_key=True)
    method: Mapped[str] = mapped_column(String(16), primary_key=True)
    operator: Mapped[str] = mapped_column(String(64), primary_key=True)
    vehicle_class: Mapped[str] = mapped_column(String(32), primary_key=True)
    category: Mapped[str] = mapped_column(String(40), primary_key=True)
    currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    count: Mapped[int] = mapped_column(BigInteger, default=0)
    amount_minor: Mapped[int] = mapped_column(BigInteger, default=0)  # taken: payments less reversals
    due_minor: Mapped[int] = mapped_column(BigInteger, default=0)  # the fee waived or not charged


class ReportHourly(Base):
    """Per local hour: vehicles in and out by class (occupancy), and takings (``kind`` ``transaction``)."""

    __tablename__ = "report_hourly"

    car_park: Mapped[str] = mapped_column(String(64), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    hour: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    vehicle_class: Mapped[str] = mapped_column(String(32), primary_key=True)
    currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    count: Mapped[int] = mapped_column(BigInteger, default=0)
    amount_minor: Mapped[int] = mapped_column(BigInteger, default=0)


# The exception reports (manual actions, abnormal events) list records of a period: a partial index finds them
# without reading the period's transactions.
EXCEPTION_KINDS = ("manual_action", "abnormal_event")
_EXCEPTIONS_ONLY = EdgeRecord.kind.in_(EXCEPTION_KINDS)
Index("ix_edge_records_exceptions", EdgeRecord.car_park, EdgeRecord.at,
      postgresql_where=_EXCEPTIONS_ONLY, sqlite_where=_EXCEPTIONS_ONLY)  # fmt: skip


class DeviceFault(Base):
    """A device's fault as the edge journaled it (``device_fault`` records): ``fault_id`` is the id of the record
    that started it (offline or faulted), ``cleared_*`` come from the record that ended it (NULL: ongoing). Kept by
    ingest; ``started_at`` is NULL only while the start has not arrived (quarantined, say)."""

    __tablename__ = "device_faults"

    fault_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    edge_id: Mapped[str] = mapped_column(String(64))
    car_park: Mapped[str] = mapped_column(String(64))
    lane: Mapped[str] = mapped_column(String(64), default="")  # the lane, or the lanes a shared device serves
    device: Mapped[str] = mapped_column(String(64))
    device_kind: Mapped[str] = mapped_column(String(32), default="")
    health: Mapped[str] = mapped_column(String(16), default="")  # offline or fault
    reason: Mapped[str] = mapped_column(Text, default="")
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cleared_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cleared_id: Mapped[str | None] = mapped_column(String(64))
    cleared_reason: Mapped[str] = mapped_column(Text, default="")

    __table_args__ = (Index("ix_device_faults_car_park_started_at", "car_park", "started_at"),)
