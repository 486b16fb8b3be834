"""Payment orders for a quoted session: placed once per quote and provider, paid by a verified notification once,
settled to the car park's edge once (the edge acknowledges each settlement after committing it to its journal).

Every step is idempotent, so a lost answer, a retried request, a notification sent twice or an edge that polls
again after a restart never charges or counts a payment twice.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from central.models import ExitQuote, PaymentNotification, PaymentOrder, PaymentSettlement
from central.payments.providers import NotificationRefused, OrderRequest, PaidNotice, PaymentProvider

_LOGGER = logging.getLogger(__name__)

ORDER_LIFETIME = timedelta(minutes=15)


class OrderError(Exception):
    """A request about an order that cannot be met (code, message, HTTP status)."""

    def __init__(self, code: str, message: str, status: int = 409) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


def new_order_id(now: datetime) -> str:
    """Our out_trade_no: time-ordered, 6–32 characters of [A-Za-z0-9] as both providers accept."""
    return f"PG{now:%Y%m%d%H%M%S}{secrets.token_hex(6).upper()}"


def withdraw_lane_quotes(session: Session, car_park: str, lane: str, now: datetime) -> None:
    """The vehicle at ``lane`` is gone or another came: its earlier quotes are no longer offered."""
    session.execute(
        update(ExitQuote)
        .where(ExitQuote.car_park_id == car_park, ExitQuote.lane_id == lane, ExitQuote.withdrawn_at.is_(None))
        .values(withdrawn_at=now)
    )


def lane_quote(session: Session, car_park: str, lane: str, now: datetime) -> ExitQuote | None:
    """The quote of the vehicle now at ``lane`` (the latest not withdrawn, at most an order's lifetime old)."""
    return session.scalars(
        select(ExitQuote)
        .where(ExitQuote.car_park_id == car_park, ExitQuote.lane_id == lane, ExitQuote.withdrawn_at.is_(None),
               ExitQuote.received_at > now - ORDER_LIFETIME)
        .order_by(ExitQuote.received_at.desc(), ExitQuote.id.desc())
        .limit(1)
    ).first()  # fmt: skip


def paid_for_session(session: Session, car_park: str, session_id: str) -> int:
    """What central took for ``session_id`` by e-payment (less refunds)."""
    orders = session.scalars(
        select(PaymentOrder).where(PaymentOrder.car_park_id == car_park, PaymentOrder.session_id == session_id,
                                   PaymentOrder.state.in_(("paid", "refunded")))
    )  # fmt: skip
    return sum(order.amount - order.refunded for order in orders)


def place_order(
    session: Session, quote: ExitQuote, provider: PaymentProvider, channel: str, notify_base: str, now: datetime,
    *, payer_id: str | None = None, client_ip: str | None = None,
) -> PaymentOrder:  # fmt: skip
    """The order for ``quote`` with ``provider``: created once (the same quote and provider answer the same order),
    placed at the provider until it gives a checkout (the provider takes the same out_trade_no again)."""
    if quote.total <= 0:
        raise OrderError("payment.nothing_due", "nothing is due for this vehicle")
    key = hashlib.sha256(f"{quote.id}|{provider.name}|{channel}".encode()).hexdigest()
    order = session.scalars(select(PaymentOrder).where(PaymentOrder.request_key == key)).first()
    if order is None:
        order = PaymentOrder(
            id=new_order_id(now), request_key=key, car_park_id=quote.car_park_id, lane_id=quote.lane_id,
            quote_id=quote.id, session_id=quote.session_id, plate=quote.plate, provider=provider.name,
            amount=quote.total, currency=quote.currency, tariff_hash=quote.tariff_hash, lines=quote.lines,
            state="created", checkout={}, created_at=now,
        )  # fmt: skip
        session.add(order)
        try:
            session.commit()
        except IntegrityError:  # the same request at the same moment: take the other's order
            session.rollback()
            order = session.scalars(select(PaymentOrder).where(PaymentOrder.request_key == key)).one()
    if order.state != "created" or order.checkout:
        return order
    checkout = provider.place_order(OrderRequest(
        order_id=order.id, amount=order.amount, currency=order.currency,
        description=f"停车费 {quote.plate}".strip(), notify_url=f"{notify_base.rstrip('/')}/api/v1/payments/notify/"
        f"{provider.name}", expires_at=order.created_at + ORDER_LIFETIME, channel=channel, payer_id=payer_id,
        client_ip=client_ip,
    ))  # fmt: skip
    order.checkout = {k: v for k, v in (("qr_code", checkout.qr_code), ("pay_url", checkout.pay_url),
                                        ("prepay_id", checkout.prepay_id)) if v}  # fmt: skip
    session.commit()
    _LOGGER.info("order %s placed with %s for %s (%s %s)", order.id, provider.name, quote.session_id, order.amount,
                 order.currency)  # fmt: skip
    return order


@dataclass(frozen=True, slots=True)
class NoticeOutcome:
    outcome: str  # applied, duplicate, ignored
    order: PaymentOrder | None


def take_notification(session: Session, provider: PaymentProvider, headers: dict[str, str], body: bytes,
                      now: datetime, source: str) -> NoticeOutcome:  # fmt: skip
    """Verify and apply a provider's notification, keeping it (whatever its outcome) in ``payment_notifications``.

    Raises :class:`NotificationRefused` (after keeping the refusal) for a forged, stale, malformed one, or one that
    does not match its order; the same notification again is a ``duplicate`` and changes nothing."""
    try:
        notice = provider.read_notification(headers, body, now)
        return _apply(session, provider.name, notice, now, source)
    except NotificationRefused as refused:
        session.rollback()
        session.add(PaymentNotification(provider=provider.name, notice_id=refused.notice_id,
                                        outcome=f"refused.{refused.reason}", detail=refused.message[:2000],
                                        source=source[:64], received_at=now))  # fmt: skip
        session.commit()
        _LOGGER.warning("%s notification from %s refused: %s", provider.name, source, refused.message)
        raise


def _apply(session: Session, provider: str, notice: PaidNotice, now: datetime, source: str) -> NoticeOutcome:
    order = session.scalars(select(PaymentOrder).where(PaymentOrder.id == notice.order_id).with_for_update()).first()
    if order is None or order.provider != provider:
        raise NotificationRefused("unknown_order", f"no {provider} order {notice.order_id!r}", 400, notice.notice_id)
    if notice.amount != order.amount:
        raise NotificationRefused("amount_differs", f"order {order.id} is for {order.amount}, the notification "
                                                    f"says {notice.amount}", 400, notice.notice_id)  # fmt: skip
    kept = PaymentNotification(provider=provider, notice_id=notice.notice_id, order_id=order.id, source=source[:64],
                               received_at=now, detail=notice.state)  # fmt: skip
    if not notice.succeeded:
        kept.outcome = "ignored"
    elif order.state in ("paid", "refunded"):
        kept.outcome = "duplicate"
        if order.provider_trade_no != notice.provider_trade_no:  # paid twice at the provider: refund by hand
            kept.outcome = "duplicate_payment"
            _LOGGER.error("order %s paid again at %s as %s (first %s)", order.id, provider,
                          notice.provider_trade_no, order.provider_trade_no)  # fmt: skip
    else:
        kept.outcome = "applied"
        order.state, order.paid_at = "paid", notice.paid_at
        order.provider_trade_no, order.payer_total = notice.provider_trade_no, notice.amount
        session.add(PaymentSettlement(order_id=order.id, car_park_id=order.car_park_id, created_at=now))
    session.add(kept)
    session.commit()
    _LOGGER.info("%s notification for %s: %s", provider, order.id, kept.outcome)
    return NoticeOutcome(kept.outcome, order)


def settlement_json(settlement: PaymentSettlement, order: PaymentOrder, quoted_at: datetime) -> dict[str, Any]:
    """What the edge commits: the payment (method ``epay``), its provider, order and reference, and the quote."""
    return {
        "settlement": settlement.id, "order_id": order.id, "provider": order.provider,
        "reference": order.provider_trade_no, "session": order.session_id, "lane": order.lane_id,
        "plate": order.plate, "amount": order.amount, "currency": order.currency, "tariff_hash": order.tariff_hash,
        "lines": order.lines, "paid_at": order.paid_at.isoformat() if order.paid_at else None,
        "quoted_at": quoted_at.isoformat(),
    }  # fmt: skip


def pending_settlements(session: Session, car_park: str, since: int, limit: int = 100) -> list[dict[str, Any]]:
    """Settlements of ``car_park`` the edge has not acknowledged, after ``since`` (its last one) and any older one
    still unacknowledged (so one committed late at central is never skipped)."""
    rows = session.execute(
        select(PaymentSettlement, PaymentOrder, ExitQuote.quoted_at)
        .join(PaymentOrder, PaymentOrder.id == PaymentSettlement.order_id)
        .join(ExitQuote, ExitQuote.id == PaymentOrder.quote_id)
        .where(PaymentSettlement.car_park_id == car_park,
               (PaymentSettlement.id > since) | PaymentSettlement.acknowledged_at.is_(None))
        .order_by(PaymentSettlement.id)
        .limit(limit)
    ).all()  # fmt: skip
    return [settlement_json(s, o, q) for s, o, q in rows]


def acknowledge(session: Session, car_park: str, edge: str, acks: dict[int, str], now: datetime) -> int:
    """Mark settlements committed by the edge (settlement id → its journal record id); answers how many changed."""
    changed = 0
    for settlement in session.scalars(
        select(PaymentSettlement).where(PaymentSettlement.id.in_(list(acks)), PaymentSettlement.car_park_id == car_park)
    ):
        if settlement.acknowledged_at is None:
            settlement.acknowledged_at, settlement.acknowledged_by = now, edge
            settlement.journal_record = acks[settlement.id][:64]
            changed += 1
    session.commit()
    return changed
