"""Access cards (门禁卡) and the access groups that say which lanes and doors they open."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from central.core.db import Base, JsonDocument, UTCDateTime, utcnow


class AccessGroup(Base):
    __tablename__ = "access_groups"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    lanes: Mapped[list[str]] = mapped_column(JsonDocument, default=list)  # empty: every lane
    car_parks: Mapped[list[str]] = mapped_column(JsonDocument, default=list)  # empty: every car park


class AccessCard(Base):
    __tablename__ = "access_cards"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    number: Mapped[str] = mapped_column(String(64), index=True)  # "<facility>:<card>" or the raw number
    holder_id: Mapped[int] = mapped_column(ForeignKey("holders.id", ondelete="RESTRICT"), index=True)
    groups: Mapped[list[int]] = mapped_column(JsonDocument, default=list)
    valid_from: Mapped[datetime] = mapped_column(UTCDateTime)
    valid_to: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16), default="active")
    deposit_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    deposit_currency: Mapped[str] = mapped_column(String(3), default="CNY")
    replaced_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
