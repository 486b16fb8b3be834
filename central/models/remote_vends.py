"""Remote vends: an operator at the office opens an unattended lane (the intercom case); central keeps the request
until the car park's edge has journaled the opening (a manual open with who, when, why and the evidence image)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from central.core.db import Base, UTCDateTime, utcnow


class RemoteVend(Base):
    __tablename__ = "remote_vends"
    __table_args__ = (Index("ix_remote_vends_park_pending", "car_park_id", "delivered_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    car_park_id: Mapped[str] = mapped_column(ForeignKey("car_parks.id", ondelete="RESTRICT"))
    lane_id: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text)
    evidence: Mapped[str | None] = mapped_column(String(500))  # an intercom camera image, when the operator has one
    requested_by: Mapped[str] = mapped_column(String(64))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    journal_record: Mapped[str | None] = mapped_column(String(64))
    outcome: Mapped[str | None] = mapped_column(String(32))  # opened, lane_unknown, lane_busy
