"""What money on an invoice does: the paid amount grows, a fully paid invoice is closed, and the pass it bills
becomes active (a sale held unpaid), is extended (a renewal on a plan active on payment) or has its arrears hold
lifted once nothing overdue is left."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from central.audit import record_change, snapshot
from central.models import Invoice, InvoiceItem, MonthlyPass, PassHold, User
from central.publication import publish_pass
from central.renewal import add_months
from parking.wire import PassStatus


def credit_invoice(session: Session, actor: User | None, invoice: Invoice, amount: int, now: datetime) -> None:
    """Add ``amount`` (already recorded as a payment) to the invoice; settle it when fully paid."""
    invoice.paid_minor += amount
    if invoice.status == "open" and invoice.paid_minor >= invoice.total_minor:
        before = snapshot(invoice)
        invoice.status, invoice.paid_at = "paid", now
        record_change(session, actor, "invoice.paid", "invoice", invoice.number, before, snapshot(invoice))
        if invoice.pass_id is not None:
            invoice_paid_for_pass(session, actor, invoice, now)


def invoice_paid_for_pass(session: Session, actor: User | None, invoice: Invoice, now: datetime) -> None:
    """The pass of a paid invoice: start a held sale, apply a renewal's months, lift an arrears hold."""
    monthly = session.get_one(MonthlyPass, invoice.pass_id, with_for_update=True)
    before = snapshot(monthly)
    changed = False
    if invoice.kind == "pass_renewal" and not invoice.period_applied:
        months = session.scalar(
            select(func.coalesce(func.sum(InvoiceItem.quantity), 0)).where(
                InvoiceItem.invoice_id == invoice.id, InvoiceItem.fee_item == "pass"
            )
        )
        monthly.valid_to = add_months(max(monthly.valid_to, now), int(months or 0))
        invoice.period_applied = True
        if monthly.status == PassStatus.EXPIRED:
            monthly.status = PassStatus.ACTIVE.value
        changed = True
    hold = session.get(PassHold, monthly.id)
    if hold is not None and (
        (hold.reason == "unpaid" and hold.invoice_id == invoice.id)
        or (hold.reason == "arrears" and not overdue_invoices(session, monthly.id, now))
    ):
        session.delete(hold)
        if monthly.status == PassStatus.SUSPENDED:
            monthly.status = PassStatus.ACTIVE.value
        changed = True
    if changed:
        session.flush()
        publish_pass(session, monthly)
        record_change(session, actor, "pass.billing_release", "pass", monthly.id, before, snapshot(monthly))


def overdue_invoices(session: Session, pass_id: str, now: datetime) -> list[Invoice]:
    """Open invoices of the pass past their due date."""
    return list(
        session.scalars(
            select(Invoice).where(Invoice.pass_id == pass_id, Invoice.status == "open", Invoice.due_at < now)
        )
    )
