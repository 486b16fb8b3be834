"""Accounts per holder and unit, and invoices with their lines and due date, numbered gap-free per car park and
year. A voided invoice keeps its number and says why; credit on the account is applied to the next invoice."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from central.audit import record_change, snapshot
from central.billing.errors import BillingError, MissingRecordError
from central.billing.numbering import scope_label, take_numbers
from central.core.db import utcnow
from central.models import BillingAccount, FeeItem, Holder, Invoice, InvoiceItem, Payment, User
from central.renewal import OPERATOR_ZONE

_LOGGER = logging.getLogger(__name__)

DEFAULT_DUE_DAYS = 15


@dataclass(frozen=True, slots=True)
class ItemSpec:
    """A line to bill: a fee item code (``pass`` for pass months), text, quantity and unit price."""

    fee_item: str
    description: str
    unit_minor: int
    quantity: int = 1
    period_from: datetime | None = None
    period_to: datetime | None = None


def account_for(session: Session, holder: Holder, currency: str) -> BillingAccount:
    """The holder's account for their unit and ``currency``, made on first use."""
    unit_key = holder.unit_id or 0
    account = session.scalars(
        select(BillingAccount).where(
            BillingAccount.holder_id == holder.id,
            BillingAccount.unit_key == unit_key,
            BillingAccount.currency == currency,
        )
    ).first()
    if account is None:
        account = BillingAccount(
            holder_id=holder.id, unit_id=holder.unit_id, unit_key=unit_key, currency=currency, credit_minor=0
        )
        session.add(account)
        session.flush()
    return account


def by_request(session: Session, model: type[Invoice], request_id: str | None) -> Invoice | None:
    return session.scalars(select(model).where(model.request_id == request_id)).first() if request_id else None


def issue_invoice(
    session: Session,
    actor: User | None,
    *,
    holder_id: int,
    car_park: str,
    kind: str,
    currency: str,
    items: list[ItemSpec],
    due_at: datetime | None = None,
    pass_id: str | None = None,
    request_id: str | None = None,
    now: datetime | None = None,
) -> Invoice:
    """Issue a numbered invoice; the account's credit is applied to it at once. Idempotent by ``request_id``."""
    existing = by_request(session, Invoice, request_id)
    if existing is not None:
        return existing
    holder = session.get(Holder, holder_id)
    if holder is None:
        raise MissingRecordError("holder", holder_id)
    if not items:
        raise BillingError("invoice.no_items", "an invoice needs at least one line", status=422)
    if any(item.quantity < 1 or item.unit_minor < 0 for item in items):
        raise BillingError("invoice.bad_item", "quantities must be at least 1 and prices not negative", status=422)
    now = now or utcnow()
    account = account_for(session, holder, currency)
    year = now.astimezone(OPERATOR_ZONE).year
    seq = take_numbers(session, "invoice", car_park, year)
    total = sum(item.unit_minor * item.quantity for item in items)
    invoice = Invoice(
        number=f"INV-{scope_label(car_park)}-{year}-{seq:06d}",
        car_park=car_park,
        year=year,
        seq=seq,
        account_id=account.id,
        holder_id=holder.id,
        pass_id=pass_id,
        kind=kind,
        status="open",
        currency=currency,
        total_minor=total,
        paid_minor=0,
        refunded_minor=0,
        issued_at=now,
        due_at=due_at or now + timedelta(days=DEFAULT_DUE_DAYS),
        created_by=actor.id if actor else None,
        request_id=request_id,
        period_applied=False,
        void_reason="",
    )
    session.add(invoice)
    session.flush()
    for item in items:
        session.add(
            InvoiceItem(
                invoice_id=invoice.id,
                fee_item=item.fee_item,
                description=item.description,
                quantity=item.quantity,
                unit_minor=item.unit_minor,
                amount_minor=item.unit_minor * item.quantity,
                period_from=item.period_from,
                period_to=item.period_to,
            )
        )
    record_change(session, actor, "invoice.issue", "invoice", invoice.number, None, snapshot(invoice))
    if total == 0:
        invoice.status, invoice.paid_at = "paid", now
    elif account.credit_minor > 0:
        apply_credit(session, actor, invoice, account, now)
    session.flush()
    return invoice


def apply_credit(
    session: Session, actor: User | None, invoice: Invoice, account: BillingAccount, now: datetime
) -> Payment | None:
    """Apply the account's credit (an earlier overpayment) to ``invoice`` as a ``credit`` payment."""
    amount = min(account.credit_minor, invoice.total_minor - invoice.paid_minor)
    if amount <= 0:
        return None
    before = snapshot(account)
    account.credit_minor -= amount
    payment = Payment(
        invoice_id=invoice.id,
        account_id=account.id,
        method="credit",
        amount_minor=amount,
        applied_minor=amount,
        credit_minor=0,
        currency=invoice.currency,
        reference="account credit",
        received_at=now,
        received_by=actor.id if actor else None,
        receipt_prints=0,
    )
    session.add(payment)
    record_change(session, actor, "account.credit_applied", "billing_account", account.id, before, snapshot(account))
    from central.billing.settlement import credit_invoice  # settlement imports this module

    credit_invoice(session, actor, invoice, amount, now)
    return payment


def fee_items_invoice(
    session: Session,
    actor: User | None,
    *,
    holder_id: int,
    car_park: str,
    codes: list[tuple[str, int]],
    due_at: datetime | None = None,
    request_id: str | None = None,
) -> Invoice:
    """An invoice of configured fee items (card deposit, replacement card, ...): ``codes`` is (code, quantity)."""
    items: list[ItemSpec] = []
    currencies: set[str] = set()
    for code, quantity in codes:
        fee = session.get(FeeItem, code)
        if fee is None or not fee.active:
            raise MissingRecordError("fee_item", code)
        currencies.add(fee.currency)
        items.append(ItemSpec(fee.code, fee.name, fee.amount_minor, quantity))
    if len(currencies) != 1:
        raise BillingError("invoice.mixed_currency", "the fee items of one invoice must share a currency", status=422)
    return issue_invoice(
        session,
        actor,
        holder_id=holder_id,
        car_park=car_park,
        kind="fees",
        currency=currencies.pop(),
        items=items,
        due_at=due_at,
        request_id=request_id,
    )


def void_invoice(session: Session, actor: User | None, invoice_id: int, reason: str) -> Invoice:
    """Void an invoice nothing has been paid on; it keeps its number and the reason."""
    invoice = get_invoice(session, invoice_id, lock=True)
    if invoice.status == "void":
        return invoice
    if invoice.paid_minor > 0:
        raise BillingError(
            "invoice.paid_on",
            "money was taken on this invoice: refund it instead of voiding",
            {"paid_minor": invoice.paid_minor},
        )
    if not reason.strip():
        raise BillingError("invoice.reason_required", "say why the invoice is voided", status=422)
    before = snapshot(invoice)
    invoice.status, invoice.voided_at, invoice.void_reason = "void", utcnow(), reason.strip()
    record_change(session, actor, "invoice.void", "invoice", invoice.number, before, snapshot(invoice))
    session.flush()
    return invoice


def get_invoice(session: Session, invoice_id: int, *, lock: bool = False) -> Invoice:
    query = select(Invoice).where(Invoice.id == invoice_id)
    invoice = session.scalars(query.with_for_update() if lock else query).first()
    if invoice is None:
        raise MissingRecordError("invoice", invoice_id)
    return invoice


def invoice_items(session: Session, invoice_id: int) -> list[InvoiceItem]:
    return list(
        session.scalars(select(InvoiceItem).where(InvoiceItem.invoice_id == invoice_id).order_by(InvoiceItem.id))
    )
