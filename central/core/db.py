"""The database engine and sessions, and the column types every model shares."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Engine, TypeDecorator, create_engine, event
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from parking import clock

# JSON documents: JSONB on PostgreSQL, JSON text elsewhere.
JsonDocument = JSON().with_variant(JSONB(), "postgresql")


class UTCDateTime(TypeDecorator[datetime]):
    """An aware datetime stored in UTC; read back aware even from SQLite, which keeps no zone."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    pass


def make_engine(url: str, *, pool_size: int = 10) -> Engine:
    """An engine for ``url``: SQLite gets foreign keys and a busy timeout; PostgreSQL a sized pool."""
    # Readable JSON text (plates in Chinese stay searchable on SQLite, where JSON is stored as text).
    kwargs: dict[str, Any] = {"json_serializer": lambda value: json.dumps(value, ensure_ascii=False)}
    if url.startswith("sqlite"):
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
    else:
        kwargs["pool_size"] = pool_size
        kwargs["max_overflow"] = pool_size
        kwargs["pool_pre_ping"] = True
        # Times are stored and sent in UTC: the sessions speak UTC whatever the server's own zone, so a time read
        # straight from the driver is in UTC too (and psycopg's reading of a UTC timestamptz is its fast path)
        kwargs["connect_args"] = {"options": "-c TimeZone=UTC"}
    engine = create_engine(url, **kwargs)
    if url.startswith("sqlite"):

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.close()

    return engine


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def utcnow() -> datetime:
    """Central's clock: real time, or the accelerated clock of a simulated run (:mod:`parking.clock`)."""
    return clock.now()
