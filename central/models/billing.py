"""Billing: accounts, invoices with their lines, payments with their receipts, refunds, the office cashier's drawer
and cash bags, direct-debit mandates, batches and result imports, billing holds on passes, reminder deliveries.

Money is integer minor units; every amount column is a ``BigInteger``. Records that clients create carry an optional
``request_id`` (unique) so a retried call finds the record it made instead of making a second one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from central.core.db import Base, JsonDocument, UTCDateTime, utcnow


class NumberCounter(Base):
    """The last number handed out in a series (invoice, receipt, bag, batch) per scope and year: locked FOR UPDATE
    while a number is taken, so numbers are gap-free and never handed out twice."""

    __tablename__ = "billing_counters"

    series: Mapped[str] = mapped_column(String(16), primary_key=True)
    scope: Mapped[str] = mapped_column(String(64), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    last: Mapped[int] = mapped_column(BigInteger, default=0)


class FeeItem(Base):
    """A configured fee (card deposit, replacement card, ...) with its default price."""

    __tablename__ = "fee_items"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3), default="CNY")
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class PlanBillingRule(Base):
    """How billing treats the passes of one plan. A plan without a rule is active on invoice (trusted) and refunded
    pro rata, never suspended for arrears."""

    __tablename__ = "plan_billing_rules"

    plan_id: Mapped[int] = mapped_column(ForeignKey("pass_plans.id", ondelete="CASCADE"), primary_key=True)
    activate_on: Mapped[str] = mapped_column(String(16), default="payment")  # payment | invoice
    refund_mode: Mapped[str] = mapped_column(String(16), default="pro_rata")  # pro_rata | cancel
    suspend_after_days: Mapped[int | None] = mapped_column(Integer)  # grace after the due date; None: never
    due_days: Mapped[int] = mapped_column(Integer, default=15)


class BillingAccount(Base):
    """What one holder owes and holds as credit, per unit (a holder with no unit has one account)."""

    __tablename__ = "billing_accounts"
    __table_args__ = (UniqueConstraint("holder_id", "unit_key", "currency", name="uq_billing_accounts_holder_unit"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    holder_id: Mapped[int] = mapped_column(ForeignKey("holders.id", ondelete="RESTRICT"), index=True)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id", ondelete="RESTRICT"))
    unit_key: Mapped[int] = mapped_column(Integer, default=0)  # unit_id or 0: unique even without a unit
    currency: Mapped[str] = mapped_column(String(3), default="CNY")
    credit_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Invoice(Base):
    __tablename__ = "invoices"
    __table_args__ = (
        UniqueConstraint("car_park", "year", "seq", name="uq_invoices_number"),
    )  # few indexes: a result import updates 100,000 invoices at once

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(96), unique=True)
    car_park: Mapped[str] = mapped_column(String(64))  # "*" when the plan is valid at every car park
    year: Mapped[int] = mapped_column(Integer)
    seq: Mapped[int] = mapped_column(BigInteger)
    account_id: Mapped[int] = mapped_column(ForeignKey("billing_accounts.id", ondelete="RESTRICT"))
    holder_id: Mapped[int] = mapped_column(ForeignKey("holders.id", ondelete="RESTRICT"), index=True)
    pass_id: Mapped[str | None] = mapped_column(ForeignKey("passes.id", ondelete="RESTRICT"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # pass_sale, pass_renewal, fees
    status: Mapped[str] = mapped_column(String(16), default="open")  # open, paid, void
    currency: Mapped[str] = mapped_column(String(3))
    total_minor: Mapped[int] = mapped_column(BigInteger)
    paid_minor: Mapped[int] = mapped_column(BigInteger, default=0)  # payments applied (refunds are apart)
    refunded_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    voided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    void_reason: Mapped[str] = mapped_column(Text, default="")
    # A renewal's period starts when it is paid (plans active on payment): applied once, then true.
    period_applied: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    request_id: Mapped[str | None] = mapped_column(String(64), unique=True)


class InvoiceItem(Base):
    """A line of an invoice: a fee item (pass months, deposit, replacement card, ...) with quantity and price."""

    __tablename__ = "invoice_items"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id", ondelete="CASCADE"), index=True)
    fee_item: Mapped[str] = mapped_column(String(32))  # "pass" for pass months, else a fee_items code
    description: Mapped[str] = mapped_column(String(256))
    quantity: Mapped[int] = mapped_column(Integer, default=1)
    unit_minor: Mapped[int] = mapped_column(BigInteger)
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    period_from: Mapped[datetime | None] = mapped_column(UTCDateTime)
    period_to: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Drawer(Base):
    """An office cashier's cash drawer, opened and closed like a booth shift, counted by denomination."""

    __tablename__ = "cash_drawers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    cashier_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"), index=True)
    currency: Mapped[str] = mapped_column(String(3), default="CNY")
    status: Mapped[str] = mapped_column(String(16), default="open")  # open, closed
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    float_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    opening_count: Mapped[dict[str, Any]] = mapped_column(JsonDocument)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closing_count: Mapped[dict[str, Any] | None] = mapped_column(JsonDocument)
    expected_minor: Mapped[int | None] = mapped_column(BigInteger)
    counted_minor: Mapped[int | None] = mapped_column(BigInteger)
    difference_minor: Mapped[int | None] = mapped_column(BigInteger)  # counted - expected: surplus > 0, shortage < 0


class DrawerBag(Base):
    """Cash sealed into a numbered bag (投包) from the office cashier's drawer."""

    __tablename__ = "drawer_bags"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(64), unique=True)
    drawer_id: Mapped[int] = mapped_column(ForeignKey("cash_drawers.id", ondelete="RESTRICT"), index=True)
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    count: Mapped[dict[str, Any]] = mapped_column(JsonDocument)
    sealed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sealed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class Payment(Base):
    """Money received for an invoice. ``amount_minor`` is what was received, ``applied_minor`` what went to the
    invoice and ``credit_minor`` the overpayment kept on the account. Method ``credit`` applies account credit."""

    __tablename__ = "payments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id", ondelete="RESTRICT"), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("billing_accounts.id", ondelete="RESTRICT"))
    method: Mapped[str] = mapped_column(String(16))  # cash, bank_transfer, bank_card, epay, direct_debit, credit
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    applied_minor: Mapped[int] = mapped_column(BigInteger)
    credit_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    currency: Mapped[str] = mapped_column(String(3))
    reference: Mapped[str] = mapped_column(String(128), default="")
    receipt_number: Mapped[str | None] = mapped_column(String(96), unique=True)
    receipt_prints: Mapped[int] = mapped_column(Integer, default=0)
    drawer_id: Mapped[int | None] = mapped_column(ForeignKey("cash_drawers.id", ondelete="RESTRICT"), index=True)
    debit_line_id: Mapped[int | None] = mapped_column(ForeignKey("debit_lines.id", ondelete="RESTRICT"))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    received_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    request_id: Mapped[str | None] = mapped_column(String(64), unique=True)


class Refund(Base):
    __tablename__ = "refunds"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id", ondelete="RESTRICT"), index=True)
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="requested")  # requested, approved, rejected, paid
    requested_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decision_note: Mapped[str] = mapped_column(Text, default="")
    method: Mapped[str | None] = mapped_column(String(16))
    reference: Mapped[str] = mapped_column(String(128), default="")
    drawer_id: Mapped[int | None] = mapped_column(ForeignKey("cash_drawers.id", ondelete="RESTRICT"))
    paid_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    pass_effect: Mapped[str] = mapped_column(String(128), default="")
    request_id: Mapped[str | None] = mapped_column(String(64), unique=True)


class PassHold(Base):
    """Why billing holds a pass suspended: ``unpaid`` (sold, not yet paid) or ``arrears`` (overdue past grace).
    A pass suspended by hand has no hold, so a payment never lifts a suspension billing did not make."""

    __tablename__ = "pass_holds"

    pass_id: Mapped[str] = mapped_column(ForeignKey("passes.id", ondelete="CASCADE"), primary_key=True)
    reason: Mapped[str] = mapped_column(String(16))
    invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoices.id", ondelete="SET NULL"))
    since: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DebitMandate(Base):
    """A holder's direct-debit mandate (代扣协议): bank, account, account name and the mandate reference."""

    __tablename__ = "debit_mandates"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    holder_id: Mapped[int] = mapped_column(ForeignKey("holders.id", ondelete="RESTRICT"), index=True)
    scheme: Mapped[str] = mapped_column(String(8))  # sepa, cn
    bank: Mapped[str] = mapped_column(String(128))
    bic: Mapped[str] = mapped_column(String(11), default="")
    account_number: Mapped[str] = mapped_column(String(34))
    account_name: Mapped[str] = mapped_column(String(128))
    reference: Mapped[str] = mapped_column(String(35), unique=True)
    signed_on: Mapped[datetime] = mapped_column(UTCDateTime)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DebitBatch(Base):
    __tablename__ = "debit_batches"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(64), unique=True)
    profile: Mapped[str] = mapped_column(String(64))
    month: Mapped[str] = mapped_column(String(7))  # YYYY-MM in the operator's zone
    collection_date: Mapped[datetime] = mapped_column(UTCDateTime)
    currency: Mapped[str] = mapped_column(String(3))
    line_count: Mapped[int] = mapped_column(Integer, default=0)
    total_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    paid_count: Mapped[int] = mapped_column(Integer, default=0)
    paid_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    failed_count: Mapped[int] = mapped_column(Integer, default=0)
    failed_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    file_name: Mapped[str] = mapped_column(String(128))
    file_sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[bytes] = mapped_column(LargeBinary)  # the batch file as sent to the bank
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    request_id: Mapped[str | None] = mapped_column(String(64), unique=True)


class DebitLine(Base):
    __tablename__ = "debit_lines"
    __table_args__ = (UniqueConstraint("batch_id", "seq", name="uq_debit_lines_batch_seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("debit_batches.id", ondelete="CASCADE"))  # (batch, seq) indexes it
    seq: Mapped[int] = mapped_column(Integer)
    reference: Mapped[str] = mapped_column(String(35), unique=True)  # the line's id at the bank (end-to-end id)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id", ondelete="RESTRICT"), index=True)
    mandate_id: Mapped[int] = mapped_column(ForeignKey("debit_mandates.id", ondelete="RESTRICT"))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending, paid, failed
    bank_code: Mapped[str] = mapped_column(String(32), default="")
    bank_reason: Mapped[str] = mapped_column(Text, default="")
    # Not indexed: the line's one update (its result) then stays on its page (migration 0010).
    result_import_id: Mapped[int | None] = mapped_column(ForeignKey("debit_result_imports.id", ondelete="SET NULL"))


class DebitResultImport(Base):
    """One result file imported: the same file (by digest) is imported once; its unmatched lines are kept."""

    __tablename__ = "debit_result_imports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    file_name: Mapped[str] = mapped_column(String(256))
    file_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    profile: Mapped[str] = mapped_column(String(64))
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    imported_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    paid_count: Mapped[int] = mapped_column(Integer, default=0)
    failed_count: Mapped[int] = mapped_column(Integer, default=0)
    unchanged_count: Mapped[int] = mapped_column(Integer, default=0)
    unmatched: Mapped[list[dict[str, Any]]] = mapped_column(JsonDocument, default=list)


class ReminderDelivery(Base):
    """One renewal reminder sent (or tried) to a holder for one validity end of a pass by one channel."""

    __tablename__ = "reminder_deliveries"
    __table_args__ = (Index("ix_reminder_deliveries_pass", "pass_id", "valid_to", "channel"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pass_id: Mapped[str] = mapped_column(ForeignKey("passes.id", ondelete="CASCADE"))
    valid_to: Mapped[datetime] = mapped_column(UTCDateTime)
    channel: Mapped[str] = mapped_column(String(16))  # email, webhook
    target: Mapped[str] = mapped_column(String(256))
    status: Mapped[str] = mapped_column(String(16))  # sent, failed
    error: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
