"""The provider's daily statement (对账单) matched against central's orders, line by line, with the reason for
every difference, for the supervisor; and the day's e-payments by provider beside the cash in reconciliation."""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from central.models import MoneyRecord, PaymentOrder, StatementLine
from central.payments.providers import Statement

_LOGGER = logging.getLogger(__name__)

PROVIDER_DAY_ZONE = ZoneInfo("Asia/Shanghai")  # both providers cut their statements at midnight, China time

DIFFERENCES = {
    "order.unknown": "the provider took a payment for an order central does not have",
    "order.not_paid": "the provider took a payment for an order central does not count as paid",
    "amount.differs": "the provider's amount is not the order's",
    "trade_no.differs": "the provider's transaction number is not the one the notification gave",
    "statement.missing": "central counts this order paid, the provider's statement does not have it",
    "refund.differs": "the provider's refunds for the order are not central's",
}


def _bounds(day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(0), zone).astimezone(UTC)
    return start, datetime.combine(day + timedelta(days=1), time(0), zone).astimezone(UTC)


def match_statement(session: Session, statement: Statement, user: str, now: datetime) -> list[StatementLine]:
    """Replace the stored statement of that provider and day by ``statement``, each line matched; orders paid that
    day that the statement lacks are added as ``statement.missing`` lines. Answers every line stored."""
    session.execute(delete(StatementLine).where(StatementLine.provider == statement.provider,
                                                StatementLine.day == statement.day))  # fmt: skip
    start, end = _bounds(statement.day, PROVIDER_DAY_ZONE)
    ids = {entry.order_id for entry in statement.entries}
    orders = {
        order.id: order
        for order in session.scalars(select(PaymentOrder).where(
            PaymentOrder.provider == statement.provider,
            (PaymentOrder.id.in_(ids)) | ((PaymentOrder.paid_at >= start) & (PaymentOrder.paid_at < end)),
        ))
    }  # fmt: skip
    refunds: dict[str, int] = defaultdict(int)
    lines: list[StatementLine] = []
    for entry in statement.entries:
        order = orders.get(entry.order_id)
        difference, detail = None, ""
        if entry.kind == "refund":
            refunds[entry.order_id] += entry.amount
        elif order is None:
            difference = "order.unknown"
        elif order.state not in ("paid", "refunded"):
            difference, detail = "order.not_paid", f"central: {order.state}"
        elif order.amount != entry.amount:
            difference, detail = "amount.differs", f"central {order.amount}, provider {entry.amount}"
        elif order.provider_trade_no != entry.provider_trade_no:
            difference, detail = "trade_no.differs", f"central {order.provider_trade_no}"
        lines.append(StatementLine(
            provider=statement.provider, day=statement.day, kind=entry.kind, provider_trade_no=entry.provider_trade_no,
            order_id=entry.order_id, amount=entry.amount, fee=entry.fee, state=entry.state, difference=difference,
            detail=detail, imported_at=now, imported_by=user,
        ))  # fmt: skip
    for line in lines:
        if line.kind == "refund":
            order = orders.get(line.order_id)
            if order is None or order.refunded != refunds[line.order_id]:
                line.difference = "refund.differs"
                line.detail = f"central {order.refunded if order else 'no order'}, provider {refunds[line.order_id]}"
    on_statement = {entry.order_id for entry in statement.entries if entry.kind == "payment"}
    for order in orders.values():
        paid = order.paid_at is not None and start <= order.paid_at < end
        if paid and order.id not in on_statement:
            lines.append(StatementLine(
                provider=statement.provider, day=statement.day, kind="payment",
                provider_trade_no=order.provider_trade_no or "", order_id=order.id, amount=order.amount,
                state="", difference="statement.missing", detail=f"paid at {order.paid_at}", imported_at=now,
                imported_by=user,
            ))  # fmt: skip
    session.add_all(lines)
    session.commit()
    listed = sum(1 for line in lines if line.difference)
    _LOGGER.info("%s statement of %s: %d lines, %d differences", statement.provider, statement.day, len(lines), listed)
    return lines


def line_json(line: StatementLine) -> dict[str, Any]:
    return {
        "kind": line.kind, "order_id": line.order_id, "provider_trade_no": line.provider_trade_no,
        "amount": line.amount, "fee": line.fee, "state": line.state, "difference": line.difference,
        "reason": DIFFERENCES.get(line.difference or "", ""), "detail": line.detail,
    }  # fmt: skip


def e_payments_of_day(session: Session, car_park: str, day: date, zone: ZoneInfo) -> dict[str, Any]:
    """The car park's e-payments of ``day`` (its own zone) by provider: count, amount, refunded, net."""
    start, end = _bounds(day, zone)
    totals: dict[str, dict[str, int]] = {}
    for order in session.scalars(select(PaymentOrder).where(
        PaymentOrder.car_park_id == car_park, PaymentOrder.paid_at >= start, PaymentOrder.paid_at < end,
    )):  # fmt: skip
        figures = totals.setdefault(order.provider, {"count": 0, "amount": 0, "refunded": 0, "net": 0})
        figures["count"] += 1
        figures["amount"] += order.amount
        figures["refunded"] += order.refunded
        figures["net"] += order.amount - order.refunded
    return {"by_provider": totals, "net": sum(f["net"] for f in totals.values())}


def pay_stations_of_day(session: Session, car_park: str, day: date, zone: ZoneInfo) -> dict[str, Any]:
    """What the car park's pay stations (kiosks, method ``kiosk``) took on ``day`` (its own zone), by station:
    paid ahead of the exit and paid at an exit lane, as the edge journaled them."""
    start, end = _bounds(day, zone)
    totals: dict[str, dict[str, int]] = {}
    for record in session.scalars(select(MoneyRecord).where(
        MoneyRecord.car_park == car_park, MoneyRecord.kind == "transaction", MoneyRecord.method == "kiosk",
        MoneyRecord.event.in_(("payment", "prepayment")), MoneyRecord.at >= start, MoneyRecord.at < end,
    )):  # fmt: skip
        station = str((record.detail or {}).get("station") or "?")
        figures = totals.setdefault(station, {"count": 0, "amount": 0, "ahead": 0, "at_exit": 0})
        figures["count"] += 1
        figures["amount"] += record.amount or 0
        figures["ahead" if record.event == "prepayment" else "at_exit"] += record.amount or 0
    return {"by_station": totals, "total": sum(f["amount"] for f in totals.values())}
