"""Car parks, their lanes, and the edges (one daemon per car park) with their credentials and sync state."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from central.core.db import Base, UTCDateTime, utcnow
from parking.wire import GENESIS_HASH


class CarPark(Base):
    __tablename__ = "car_parks"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Shanghai")
    currency: Mapped[str] = mapped_column(String(3), default="CNY")


class Lane(Base):
    __tablename__ = "lanes"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    car_park_id: Mapped[str] = mapped_column(ForeignKey("car_parks.id", ondelete="RESTRICT"), index=True)
    name: Mapped[str] = mapped_column(String(128))
    direction: Mapped[str] = mapped_column(String(8))  # entry, exit, door


class Edge(Base):
    """An edge daemon. Its token is shown once when issued and kept only as a digest."""

    __tablename__ = "edges"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    car_park_id: Mapped[str] = mapped_column(ForeignKey("car_parks.id", ondelete="RESTRICT"), index=True)
    name: Mapped[str] = mapped_column(String(128), default="")
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    token_issued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Its client certificate's SHA-256 (lower-case hex), where pinned; the CN or DNS name must be the id in any case.
    cert_sha256: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Sync: the version the edge last said it holds (the ``since`` of its latest request).
    synced_version: Mapped[int] = mapped_column(BigInteger, default=0)
    last_sync_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Ingest: the head of the chain central holds contiguously from seq 1.
    chain_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    chain_hash: Mapped[str] = mapped_column(String(64), default=GENESIS_HASH)
    last_ingest_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
