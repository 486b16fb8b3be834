"""Billing: fee items and plan rules, accounts, invoices, payments with their receipts, refunds, and the office
cashier's drawer. Thin: the rules live in ``central.billing``; each route commits what the service did."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response
from pydantic import Field
from sqlalchemy import select

from central.api.deps import SessionDep
from central.api.errors import not_found
from central.api.fields import Limit, MinorUnits, Name, Offset, RequestModel, ResponseModel, RowId, Text, When
from central.api.routes import API_PREFIX
from central.api.routes.billing_common import (
    Approvers,
    BookReaders,
    Cashiers,
    ClientRequestId,
    Finance,
    Readers,
    Sellers,
    request_id,
)
from central.audit import record_change, snapshot
from central.billing.invoices import fee_items_invoice, get_invoice, invoice_items, void_invoice
from central.billing.pass_billing import set_plan_rule, unpaid_sales
from central.billing.payments import PaymentMethod, payments_of, take_payment
from central.billing.receipts import receipt_pdf
from central.billing.refunds import decide_refund, pay_refund, request_refund
from central.models import BillingAccount, FeeItem, Invoice, PassPlan, PlanBillingRule, Refund, User

router = APIRouter(prefix=API_PREFIX + "/billing", tags=["billing"])
Code = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")]
Reference = Annotated[str, Field(max_length=128)]
RequestField = Annotated[str | None, Field(default=None, pattern=r"^[A-Za-z0-9._:-]{1,64}$")]


class FeeItemIn(RequestModel):
    name: Name
    amount_minor: MinorUnits
    currency: Literal["CNY", "EUR", "USD", "HKD", "GBP"] = "CNY"
    active: bool = True


class FeeItemOut(ResponseModel):
    code: str
    name: str
    amount_minor: int
    currency: str
    active: bool


class PlanRuleIn(RequestModel):
    activate_on: Literal["payment", "invoice"] = "payment"
    refund_mode: Literal["pro_rata", "cancel"] = "pro_rata"
    suspend_after_days: int | None = Field(default=None, ge=0, le=365)
    due_days: int = Field(default=15, ge=0, le=365)


class PlanRuleOut(ResponseModel):
    plan_id: int
    activate_on: str
    refund_mode: str
    suspend_after_days: int | None
    due_days: int


class AccountOut(ResponseModel):
    id: int
    holder_id: int
    unit_id: int | None
    currency: str
    credit_minor: int


class FeeLine(RequestModel):
    code: Code
    quantity: int = Field(default=1, ge=1, le=1000)


class FeeInvoiceIn(RequestModel):
    holder_id: int = Field(ge=1, le=2_147_483_647)
    car_park: Code
    items: list[FeeLine] = Field(min_length=1, max_length=50)
    due_at: When | None = None
    request_id: RequestField = None


class ItemOut(ResponseModel):
    fee_item: str
    description: str
    quantity: int
    unit_minor: int
    amount_minor: int
    period_from: datetime | None
    period_to: datetime | None


class PaymentOut(ResponseModel):
    id: int
    invoice_id: int
    method: str
    amount_minor: int
    applied_minor: int
    credit_minor: int
    currency: str
    reference: str
    receipt_number: str | None
    receipt_prints: int
    received_at: datetime
    request_id: str | None


class InvoiceOut(ResponseModel):
    id: int
    number: str
    car_park: str
    holder_id: int
    account_id: int
    pass_id: str | None
    kind: str
    status: str
    currency: str
    total_minor: int
    paid_minor: int
    refunded_minor: int
    issued_at: datetime
    due_at: datetime
    paid_at: datetime | None
    voided_at: datetime | None
    void_reason: str


class InvoiceDetail(InvoiceOut):
    items: list[ItemOut]
    payments: list[PaymentOut]


class VoidIn(RequestModel):
    reason: Annotated[str, Field(min_length=1, max_length=2000)]


class PaymentIn(RequestModel):
    method: PaymentMethod
    amount_minor: MinorUnits
    reference: Reference = ""
    note: Annotated[str, Field(max_length=500, description="why or how it was taken; kept in the audit log")] = ""
    request_id: RequestField = None


class RefundIn(RequestModel):
    amount_minor: MinorUnits
    reason: Annotated[str, Field(min_length=1, max_length=2000)]
    request_id: RequestField = None


class DecisionIn(RequestModel):
    note: Text = ""


class RefundPayIn(RequestModel):
    method: Literal["cash", "bank_transfer", "bank_card", "epay"]
    reference: Reference = ""


class RefundOut(ResponseModel):
    id: int
    invoice_id: int
    amount_minor: int
    currency: str
    reason: str
    status: str
    requested_by: int | None
    decided_by: int | None
    decision_note: str
    method: str | None
    paid_at: datetime | None
    pass_effect: str


def _detail(session: SessionDep, invoice: Invoice) -> InvoiceDetail:
    base = InvoiceOut.model_validate(invoice).model_dump()
    return InvoiceDetail(
        **base,
        items=[ItemOut.model_validate(i) for i in invoice_items(session, invoice.id)],
        payments=[PaymentOut.model_validate(p) for p in payments_of(session, invoice.id)],
    )


@router.get("/fee-items", response_model=list[FeeItemOut], summary="Configured fee items")
def list_fee_items(session: SessionDep, _user: User = Readers) -> list[FeeItem]:
    return list(session.scalars(select(FeeItem).order_by(FeeItem.code)))


@router.put("/fee-items/{code}", response_model=FeeItemOut, summary="Create or change a fee item")
def put_fee_item(
    code: Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")],
    body: FeeItemIn,
    session: SessionDep,
    user: User = Finance,
) -> FeeItem:
    item = session.get(FeeItem, code)
    before = snapshot(item) if item else None
    if item is None:
        item = FeeItem(code=code)
        session.add(item)
    item.name, item.amount_minor, item.currency, item.active = body.name, body.amount_minor, body.currency, body.active
    session.flush()
    record_change(session, user, "fee_item.put", "fee_item", item.code, before, snapshot(item))
    session.commit()
    return item


@router.put("/plans/{plan_id}/rule", response_model=PlanRuleOut, summary="A plan's billing rule")
def put_plan_rule(plan_id: RowId, body: PlanRuleIn, session: SessionDep, user: User = Finance) -> PlanBillingRule:
    if session.get(PassPlan, plan_id) is None:
        raise not_found("plan", plan_id)
    rule = set_plan_rule(session, user, plan_id, **body.model_dump())
    session.commit()
    return rule


@router.get("/accounts", response_model=list[AccountOut], summary="Billing accounts (credit held) by holder")
def list_accounts(
    session: SessionDep,
    holder_id: int | None = Query(default=None, ge=1, le=2_147_483_647),
    limit: Limit = 100,
    offset: Offset = 0,
    _user: User = BookReaders,
) -> list[BillingAccount]:
    query = select(BillingAccount).order_by(BillingAccount.id).limit(limit).offset(offset)
    if holder_id is not None:
        query = query.where(BillingAccount.holder_id == holder_id)
    return list(session.scalars(query))


@router.get("/invoices", response_model=list[InvoiceOut], summary="Invoices by holder, pass or status")
def list_invoices(
    session: SessionDep,
    holder_id: int | None = Query(default=None, ge=1, le=2_147_483_647),
    pass_id: str | None = Query(default=None, max_length=64),
    status: Literal["open", "paid", "void"] | None = None,
    limit: Limit = 100,
    offset: Offset = 0,
    _user: User = Readers,
) -> list[Invoice]:
    query = select(Invoice).order_by(Invoice.id).limit(limit).offset(offset)
    if holder_id is not None:
        query = query.where(Invoice.holder_id == holder_id)
    if pass_id is not None:
        query = query.where(Invoice.pass_id == pass_id.replace("\x00", ""))
    if status is not None:
        query = query.where(Invoice.status == status)
    return list(session.scalars(query))


@router.get("/invoices/{invoice_id}", response_model=InvoiceDetail, summary="One invoice with lines and payments")
def get_one_invoice(invoice_id: RowId, session: SessionDep, _user: User = Readers) -> InvoiceDetail:
    return _detail(session, get_invoice(session, invoice_id))


@router.post("/invoices", response_model=InvoiceDetail, status_code=201, summary="Invoice configured fee items")
def create_fee_invoice(
    body: FeeInvoiceIn, session: SessionDep, client_request: ClientRequestId = None, user: User = Sellers
) -> InvoiceDetail:
    invoice = fee_items_invoice(
        session,
        user,
        holder_id=body.holder_id,
        car_park=body.car_park,
        codes=[(line.code, line.quantity) for line in body.items],
        due_at=body.due_at,
        request_id=request_id(client_request, body.request_id),
    )
    session.commit()
    return _detail(session, invoice)


@router.post(
    "/invoices/{invoice_id}/void", response_model=InvoiceOut, summary="Void an unpaid invoice (keeps its number)"
)
def void(invoice_id: RowId, body: VoidIn, session: SessionDep, user: User = Cashiers) -> Invoice:
    invoice = void_invoice(session, user, invoice_id, body.reason)
    session.commit()
    return invoice


@router.get("/unpaid-sales", response_model=list[InvoiceOut], summary="Pass sales and renewals unpaid after N days")
def list_unpaid_sales(
    session: SessionDep, days: int = Query(default=7, ge=0, le=3650), _user: User = BookReaders
) -> list[Invoice]:
    return unpaid_sales(session, days)


@router.post(
    "/invoices/{invoice_id}/payments",
    response_model=PaymentOut,
    status_code=201,
    summary="Take a payment on an invoice (numbered receipt; overpayment kept as credit)",
)
def pay(
    invoice_id: RowId,
    body: PaymentIn,
    session: SessionDep,
    client_request: ClientRequestId = None,
    user: User = Cashiers,
) -> PaymentOut:
    payment = take_payment(
        session,
        user,
        invoice_id=invoice_id,
        method=body.method,
        amount_minor=body.amount_minor,
        reference=body.reference,
        note=body.note,
        request_id=request_id(client_request, body.request_id),
    )
    session.commit()
    return PaymentOut.model_validate(payment)


@router.get(
    "/payments/{payment_id}/receipt.pdf",
    summary="The payment's receipt (收据) as PDF; reprints say so",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}, "description": "PDF"}},
)
def receipt(
    payment_id: RowId, session: SessionDep, lang: Literal["zh-CN", "en"] = "zh-CN", user: User = Cashiers
) -> Response:
    pdf = receipt_pdf(session, user, payment_id, lang)
    session.commit()
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="receipt-{payment_id}.pdf"'},
    )


@router.get("/refunds", response_model=list[RefundOut], summary="Refunds by status")
def list_refunds(
    session: SessionDep,
    status: Literal["requested", "approved", "rejected", "paid"] | None = None,
    limit: Limit = 100,
    offset: Offset = 0,
    _user: User = BookReaders,
) -> list[Refund]:
    query = select(Refund).order_by(Refund.id).limit(limit).offset(offset)
    if status is not None:
        query = query.where(Refund.status == status)
    return list(session.scalars(query))


@router.post("/invoices/{invoice_id}/refunds", response_model=RefundOut, status_code=201, summary="Request a refund")
def ask_refund(
    invoice_id: RowId,
    body: RefundIn,
    session: SessionDep,
    client_request: ClientRequestId = None,
    user: User = Cashiers,
) -> Refund:
    refund = request_refund(
        session,
        user,
        invoice_id=invoice_id,
        amount_minor=body.amount_minor,
        reason=body.reason,
        request_id=request_id(client_request, body.request_id),
    )
    session.commit()
    return refund


@router.post("/refunds/{refund_id}/approve", response_model=RefundOut, summary="Approve a refund (not your own)")
def approve_refund(refund_id: RowId, body: DecisionIn, session: SessionDep, user: User = Approvers) -> Refund:
    refund = decide_refund(session, user, refund_id, approve=True, note=body.note)
    session.commit()
    return refund


@router.post("/refunds/{refund_id}/reject", response_model=RefundOut, summary="Reject a refund")
def reject_refund(refund_id: RowId, body: DecisionIn, session: SessionDep, user: User = Approvers) -> Refund:
    refund = decide_refund(session, user, refund_id, approve=False, note=body.note)
    session.commit()
    return refund


@router.post("/refunds/{refund_id}/pay", response_model=RefundOut, summary="Pay an approved refund out")
def pay_out_refund(refund_id: RowId, body: RefundPayIn, session: SessionDep, user: User = Cashiers) -> Refund:
    refund = pay_refund(session, user, refund_id, method=PaymentMethod(body.method), reference=body.reference)
    session.commit()
    return refund
