"""Vehicle lists (free, special, blacklist) and the tariff files central publishes to the edges."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from central.core.db import Base, JsonDocument, UTCDateTime, utcnow


class VehicleListEntry(Base):
    __tablename__ = "vehicle_entries"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    list_kind: Mapped[str] = mapped_column(String(16), index=True)
    plate: Mapped[str] = mapped_column(String(16), index=True)
    category: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text, default="")
    car_parks: Mapped[list[str]] = mapped_column(JsonDocument, default=list)
    valid_from: Mapped[datetime] = mapped_column(UTCDateTime)
    valid_to: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Tariff(Base):
    __tablename__ = "tariffs"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    content: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    car_parks: Mapped[list[str]] = mapped_column(JsonDocument, default=list)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class TariffRelease(Base):
    """One published version of a tariff: its text, validated with the edge's loader, and from when it quotes."""

    __tablename__ = "tariff_releases"
    __table_args__ = (UniqueConstraint("tariff_id", "number"),)

    id: Mapped[str] = mapped_column(String(80), primary_key=True)  # "<tariff>@<number>": the edges' record id
    tariff_id: Mapped[str] = mapped_column(String(64), index=True)
    number: Mapped[int] = mapped_column(Integer)
    content: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    effective_from: Mapped[datetime] = mapped_column(UTCDateTime)
    car_parks: Mapped[list[str]] = mapped_column(JsonDocument, default=list)
    published_by: Mapped[str] = mapped_column(String(64))
    published_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
