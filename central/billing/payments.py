"""Payments against invoices: cash at the desk (through the cashier's open drawer), bank transfer, bank card,
e-payment (with its reference) and direct debit; partial payments; an overpayment kept as credit on the account.
Each payment gets a numbered receipt (收据)."""

from __future__ import annotations

import logging
from datetime import datetime
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from central.audit import record_change, snapshot
from central.billing.drawer import open_drawer_of
from central.billing.errors import BillingError
from central.billing.invoices import get_invoice
from central.billing.numbering import scope_label, take_numbers
from central.billing.settlement import credit_invoice
from central.core.db import utcnow
from central.models import BillingAccount, DebitLine, Payment, User
from central.renewal import OPERATOR_ZONE

_LOGGER = logging.getLogger(__name__)


class PaymentMethod(StrEnum):
    CASH = "cash"
    BANK_TRANSFER = "bank_transfer"
    BANK_CARD = "bank_card"
    EPAY = "epay"
    DIRECT_DEBIT = "direct_debit"


NEEDS_REFERENCE = {PaymentMethod.BANK_TRANSFER, PaymentMethod.EPAY, PaymentMethod.BANK_CARD}


def receipt_number(session: Session, car_park: str, at: datetime, count: int = 1) -> list[str]:
    """``count`` consecutive receipt numbers for ``car_park`` in ``at``'s year."""
    year = at.astimezone(OPERATOR_ZONE).year
    first = take_numbers(session, "receipt", car_park, year, count)
    return [f"RCT-{scope_label(car_park)}-{year}-{seq:07d}" for seq in range(first, first + count)]


def take_payment(
    session: Session,
    actor: User,
    *,
    invoice_id: int,
    method: PaymentMethod,
    amount_minor: int,
    reference: str = "",
    note: str = "",
    request_id: str | None = None,
    now: datetime | None = None,
) -> Payment:
    """Record money received for an invoice; a retried call with the same ``request_id`` answers the first payment.

    More than is owed is kept as credit on the holder's account and applied to their next invoice. ``note`` (why or
    how a payment recorded by hand was taken) is kept in the payment's audit entry.
    """
    if request_id:
        existing = session.scalars(select(Payment).where(Payment.request_id == request_id)).first()
        if existing is not None:
            return existing
    if amount_minor <= 0:
        raise BillingError("payment.bad_amount", "a payment must be more than zero", status=422)
    if method in NEEDS_REFERENCE and not reference.strip():
        raise BillingError("payment.reference_required", f"a {method.value} payment needs its reference", status=422)
    now = now or utcnow()
    invoice = get_invoice(session, invoice_id, lock=True)
    if invoice.status != "open":
        raise BillingError(
            "invoice.not_open", f"invoice {invoice.number} is {invoice.status}", {"status": invoice.status}
        )
    if session.scalars(
        select(DebitLine.id).where(DebitLine.invoice_id == invoice.id, DebitLine.status == "pending")
    ).first():
        raise BillingError(
            "invoice.in_debit_run",
            f"invoice {invoice.number} is in a direct-debit batch awaiting "
            "the bank's result: take payment once the line is marked failed",
        )
    drawer_id = None
    if method is PaymentMethod.CASH:
        drawer = open_drawer_of(session, actor)
        if drawer.currency != invoice.currency:
            raise BillingError(
                "drawer.currency", f"the drawer holds {drawer.currency}, the invoice is in {invoice.currency}"
            )
        drawer_id = drawer.id
    account = session.get_one(BillingAccount, invoice.account_id, with_for_update=True)
    applied = min(amount_minor, invoice.total_minor - invoice.paid_minor)
    credit = amount_minor - applied
    payment = Payment(
        invoice_id=invoice.id,
        account_id=account.id,
        method=method.value,
        amount_minor=amount_minor,
        applied_minor=applied,
        credit_minor=credit,
        currency=invoice.currency,
        reference=reference.strip(),
        receipt_number=receipt_number(session, invoice.car_park, now)[0],
        receipt_prints=0,
        drawer_id=drawer_id,
        received_at=now,
        received_by=actor.id,
        request_id=request_id,
    )
    session.add(payment)
    session.flush()
    if credit:
        before = snapshot(account)
        account.credit_minor += credit
        record_change(session, actor, "account.credit", "billing_account", account.id, before, snapshot(account))
    record_change(
        session, actor, "payment.take", "payment", payment.receipt_number, None, snapshot(payment),
        reason=note.strip() or None,
    )  # fmt: skip
    credit_invoice(session, actor, invoice, applied, now)
    session.flush()
    return payment


def payments_of(session: Session, invoice_id: int) -> list[Payment]:
    return list(session.scalars(select(Payment).where(Payment.invoice_id == invoice_id).order_by(Payment.id)))
