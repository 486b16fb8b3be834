"""Refunds: requested with a reason, approved (or rejected) by a supervisor who is not the requester, never more
than was paid on the invoice, and paid out by a method. Paying out a pass's refund shortens the pass by the days
the refund buys back (pro rata) or cancels it, as the plan's rule says."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from central.audit import record_change, snapshot
from central.billing.drawer import open_drawer_of
from central.billing.errors import BillingError, MissingRecordError
from central.billing.invoices import get_invoice, invoice_items
from central.billing.pass_billing import plan_rule
from central.billing.payments import PaymentMethod
from central.core.db import utcnow
from central.models import Invoice, MonthlyPass, PassHold, Refund, User
from central.publication import publish_pass
from parking.wire import PassStatus

_OPEN = ("requested", "approved")


def refundable(session: Session, invoice: Invoice, *, excluding: int | None = None) -> int:
    """What may still be refunded on the invoice: paid, less refunds paid out and those requested or approved."""
    query = select(func.coalesce(func.sum(Refund.amount_minor), 0)).where(
        Refund.invoice_id == invoice.id, Refund.status.in_(_OPEN)
    )
    if excluding is not None:
        query = query.where(Refund.id != excluding)
    return invoice.paid_minor - invoice.refunded_minor - int(session.scalar(query) or 0)


def request_refund(
    session: Session, actor: User, *, invoice_id: int, amount_minor: int, reason: str, request_id: str | None = None
) -> Refund:
    """Ask for a refund; refused above what is refundable on the invoice."""
    if request_id:
        existing = session.scalars(select(Refund).where(Refund.request_id == request_id)).first()
        if existing is not None:
            return existing
    if not reason.strip():
        raise BillingError("refund.reason_required", "a refund needs a reason", status=422)
    if amount_minor <= 0:
        raise BillingError("refund.bad_amount", "a refund must be more than zero", status=422)
    invoice = get_invoice(session, invoice_id, lock=True)
    available = refundable(session, invoice)
    if amount_minor > available:
        raise BillingError(
            "refund.above_paid",
            f"at most {available} may be refunded on {invoice.number}",
            {"refundable_minor": available},
        )
    refund = Refund(
        invoice_id=invoice.id,
        amount_minor=amount_minor,
        currency=invoice.currency,
        reason=reason.strip(),
        status="requested",
        requested_by=actor.id,
        requested_at=utcnow(),
        request_id=request_id,
        decision_note="",
        reference="",
        pass_effect="",
    )
    session.add(refund)
    session.flush()
    record_change(session, actor, "refund.request", "refund", refund.id, None, snapshot(refund))
    return refund


def _load(session: Session, refund_id: int) -> Refund:
    refund = session.get(Refund, refund_id, with_for_update=True)
    if refund is None:
        raise MissingRecordError("refund", refund_id)
    return refund


def decide_refund(session: Session, actor: User, refund_id: int, *, approve: bool, note: str = "") -> Refund:
    """Approve or reject a requested refund; the requester may not decide their own."""
    refund = _load(session, refund_id)
    if refund.status != "requested":
        raise BillingError("refund.not_requested", f"the refund is {refund.status}", {"status": refund.status})
    if refund.requested_by == actor.id:
        raise BillingError("refund.own_request", "a refund is approved by someone other than its requester", status=403)
    invoice = get_invoice(session, refund.invoice_id, lock=True)
    if approve and refund.amount_minor > refundable(session, invoice, excluding=refund.id):
        raise BillingError("refund.above_paid", "the refund is now more than was paid on the invoice")
    before = snapshot(refund)
    refund.status = "approved" if approve else "rejected"
    refund.decided_by, refund.decided_at, refund.decision_note = actor.id, utcnow(), note.strip()
    record_change(session, actor, f"refund.{refund.status}", "refund", refund.id, before, snapshot(refund))
    session.flush()
    return refund


def pay_refund(session: Session, actor: User, refund_id: int, *, method: PaymentMethod, reference: str = "") -> Refund:
    """Pay an approved refund out; cash leaves the cashier's open drawer. Applies the refund to the pass."""
    refund = _load(session, refund_id)
    if refund.status != "approved":
        raise BillingError("refund.not_approved", f"the refund is {refund.status}", {"status": refund.status})
    if method is PaymentMethod.DIRECT_DEBIT:
        raise BillingError("refund.bad_method", "a refund is not paid by direct debit", status=422)
    invoice = get_invoice(session, refund.invoice_id, lock=True)
    before = snapshot(refund)
    now = utcnow()
    if method is PaymentMethod.CASH:
        refund.drawer_id = open_drawer_of(session, actor).id
    refund.status, refund.method, refund.reference = "paid", method.value, reference.strip()
    refund.paid_by, refund.paid_at = actor.id, now
    invoice_before = snapshot(invoice)
    invoice.refunded_minor += refund.amount_minor
    record_change(session, actor, "invoice.refund", "invoice", invoice.number, invoice_before, snapshot(invoice))
    if invoice.pass_id is not None:
        refund.pass_effect = _apply_to_pass(session, actor, invoice, refund, now)
    session.flush()
    record_change(session, actor, "refund.pay", "refund", refund.id, before, snapshot(refund))
    return refund


def _apply_to_pass(session: Session, actor: User, invoice: Invoice, refund: Refund, now: datetime) -> str:
    monthly = session.get_one(MonthlyPass, invoice.pass_id, with_for_update=True)
    if monthly.status == PassStatus.CANCELLED:
        return "pass already cancelled"
    before = snapshot(monthly)
    rule = plan_rule(session, monthly.plan_id)
    items = [item for item in invoice_items(session, invoice.id) if item.fee_item == "pass" and item.period_from]
    whole = refund.amount_minor >= invoice.paid_minor - (invoice.refunded_minor - refund.amount_minor)
    effect: str
    if rule.refund_mode == "cancel" or whole or not items:
        monthly.status, effect = PassStatus.CANCELLED.value, "pass cancelled"
    else:
        item = items[0]
        assert item.period_from is not None
        assert item.period_to is not None
        days = (item.period_to - item.period_from).total_seconds() / 86400
        unused = math.ceil(refund.amount_minor * days / max(item.amount_minor, 1))
        monthly.valid_to -= timedelta(days=unused)
        effect = f"pass shortened by {unused} days"
        if monthly.valid_to <= now:
            monthly.status, effect = PassStatus.CANCELLED.value, "pass cancelled (no days left)"
    hold = session.get(PassHold, monthly.id)
    if hold is not None and monthly.status == PassStatus.CANCELLED:
        session.delete(hold)
    session.flush()
    publish_pass(session, monthly)
    record_change(session, actor, "pass.refund", "pass", monthly.id, before, snapshot(monthly))
    return effect
