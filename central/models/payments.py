"""E-payments at unattended exits: the edge's quotes, payment orders with the providers, their notifications, the
settlements the edges take into their journals, and the providers' daily statements (对账单)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import BigInteger, Date, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from central.core.db import Base, JsonDocument, UTCDateTime, utcnow


class ExitQuote(Base):
    """What an edge quoted for a vehicle: at an unattended exit lane (``lane_id`` set) or for paying inside."""

    __tablename__ = "exit_quotes"
    __table_args__ = (Index("ix_exit_quotes_lane", "car_park_id", "lane_id", "received_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    car_park_id: Mapped[str] = mapped_column(ForeignKey("car_parks.id", ondelete="RESTRICT"))
    lane_id: Mapped[str | None] = mapped_column(String(64))
    session_id: Mapped[str] = mapped_column(String(64), index=True)
    plate: Mapped[str] = mapped_column(String(16), default="")
    entry_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    quoted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    tariff_id: Mapped[str] = mapped_column(String(64), default="")
    tariff_hash: Mapped[str] = mapped_column(String(64), default="")
    lines: Mapped[list[Any]] = mapped_column(JsonDocument, default=list)
    paid_before: Mapped[int] = mapped_column(BigInteger, default=0)
    total: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Set when the vehicle left or the lane moved on: a stale quote is not offered to the driver.
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class PaymentOrder(Base):
    """One order with a provider for a quote. ``request_key`` makes creation idempotent (same quote, same provider:
    the same order)."""

    __tablename__ = "payment_orders"
    __table_args__ = (Index("ix_payment_orders_park_day", "car_park_id", "paid_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # our out_trade_no
    request_key: Mapped[str] = mapped_column(String(64), unique=True)
    car_park_id: Mapped[str] = mapped_column(ForeignKey("car_parks.id", ondelete="RESTRICT"))
    lane_id: Mapped[str | None] = mapped_column(String(64))
    quote_id: Mapped[int] = mapped_column(ForeignKey("exit_quotes.id", ondelete="RESTRICT"))
    session_id: Mapped[str] = mapped_column(String(64), index=True)
    plate: Mapped[str] = mapped_column(String(16), default="")
    provider: Mapped[str] = mapped_column(String(16))
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    tariff_hash: Mapped[str] = mapped_column(String(64), default="")
    lines: Mapped[list[Any]] = mapped_column(JsonDocument, default=list)
    state: Mapped[str] = mapped_column(String(16), default="created")  # created, paid, refunded, closed
    checkout: Mapped[dict[str, Any]] = mapped_column(JsonDocument, default=dict)  # code_url, qr_code, pay_url
    provider_trade_no: Mapped[str | None] = mapped_column(String(64), unique=True)
    payer_total: Mapped[int | None] = mapped_column(BigInteger)
    refunded: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class PaymentNotification(Base):
    """Every notification a provider sent, kept with what became of it (applied, duplicate, or refused)."""

    __tablename__ = "payment_notifications"
    __table_args__ = (Index("ix_payment_notifications_provider_notice", "provider", "notice_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    provider: Mapped[str] = mapped_column(String(16))
    notice_id: Mapped[str | None] = mapped_column(String(64))
    order_id: Mapped[str | None] = mapped_column(String(32))
    outcome: Mapped[str] = mapped_column(String(32))  # applied, duplicate, refused.<reason>
    detail: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str] = mapped_column(String(64), default="")
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PaymentSettlement(Base):
    """A paid order for its car park's edge to commit to its journal; acknowledged once it is there."""

    __tablename__ = "payment_settlements"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("payment_orders.id", ondelete="RESTRICT"), unique=True)
    car_park_id: Mapped[str] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledged_by: Mapped[str | None] = mapped_column(String(64))
    journal_record: Mapped[str | None] = mapped_column(String(64))


class StatementLine(Base):
    """One line of a provider's daily statement, with the result of matching it against the orders."""

    __tablename__ = "payment_statement_lines"
    __table_args__ = (Index("ix_payment_statement_lines_day", "provider", "day"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    provider: Mapped[str] = mapped_column(String(16))
    day: Mapped[date] = mapped_column(Date)
    kind: Mapped[str] = mapped_column(String(16))  # payment, refund
    provider_trade_no: Mapped[str] = mapped_column(String(64), default="")
    order_id: Mapped[str] = mapped_column(String(64), default="")
    amount: Mapped[int] = mapped_column(BigInteger)
    fee: Mapped[int] = mapped_column(BigInteger, default=0)
    state: Mapped[str] = mapped_column(String(32), default="")
    difference: Mapped[str | None] = mapped_column(String(48))  # None: matched
    detail: Mapped[str] = mapped_column(Text, default="")
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    imported_by: Mapped[str] = mapped_column(String(64), default="")
