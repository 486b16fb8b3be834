"""What the edges sync: every list record as published, with the global version of its last change.

``sync_items`` holds the wire JSON of each record (so a page is built by joining stored text), its scope (the car
parks it applies to) and its reach (every car park it ever applied to, so an edge that had it learns it left).
Deleted records stay as tombstones until purged; ``sync_clock`` is one row that hands out versions in commit order.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from central.core.db import Base, UTCDateTime, utcnow


class SyncClock(Base):
    __tablename__ = "sync_clock"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger, default=0)
    # Tombstones with a version up to this were purged: an edge asking from an older version gets a snapshot.
    purged_through: Mapped[int] = mapped_column(BigInteger, default=0)


class SyncItem(Base):
    __tablename__ = "sync_items"

    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    record_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger, unique=True)
    scope: Mapped[str] = mapped_column(String(1024), default="")  # ",a,b," or "" for every car park
    reach: Mapped[str] = mapped_column(String(2048), default="")
    body: Mapped[str] = mapped_column(Text, default="")
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
