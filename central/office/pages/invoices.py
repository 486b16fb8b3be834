"""The cashier's invoices: the list with its filters (holder, state, car park, month issued), one invoice's page
with its lines, payments and receipts, refunds and audit history; voiding with a reason, taking a payment (cash
through the open drawer, bank transfer, bank card, e-payment with its reference; partial allowed), the printable
receipt and its PDF (every print after the first is a reprint, counted by billing)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from central.api.deps import SessionDep
from central.billing.errors import BillingError
from central.billing.invoices import invoice_items, void_invoice
from central.billing.payments import PaymentMethod, payments_of, take_payment
from central.billing.receipts import receipt_pdf
from central.billing.refunds import refundable
from central.models import AuditEntry, Holder, Invoice, Payment, Refund, Unit, User
from central.office.billing_labels import BILLING_MESSAGES, DESK_METHODS, INVOICE_STATES, METHODS, REFUND_STATES
from central.office.deps import PagesDep, PostedForm, page
from central.office.forms import Form
from central.office.navigation import N_
from central.office.paging import Paging
from central.office.rendering import redirect
from central.office.sessions import Operator
from central.renewal import OPERATOR_ZONE

router = APIRouter()
Books = page("invoices")
Cashier = page("invoice_actions")
_ROW_ID = 2_147_483_647

NOTICES = {"paid": N_("The payment is recorded: print its receipt."), "voided": N_("The invoice is voided."),
           "refund_requested": N_("The refund is requested: a supervisor decides it."),
           "refund_approved": N_("The refund is approved."), "refund_rejected": N_("The refund is rejected."),
           "refund_paid": N_("The refund is paid out.")}  # fmt: skip


_T = TypeVar("_T")


def billing_step(session: Session, form: Form, fallback: str, step: Callable[[], _T]) -> _T | None:
    """Run one billing step for a posted form: committed, with what the step returned (billing's steps return the
    row they made or changed), or rolled back with billing's refusal beside the field it concerns (None). Nothing
    runs when the form itself was refused."""
    if not form.ok:
        return None
    try:
        done = step()
    except BillingError as err:
        session.rollback()
        refuse_billing(form, err, fallback)
        return None
    session.commit()
    return done


def refuse_billing(form: Form, err: BillingError, fallback: str) -> None:
    """Billing's refusal beside the field it concerns, in the page's words where known."""
    target, message = BILLING_MESSAGES.get(err.code, (fallback, ""))
    if message:
        form.refuse(target, message)
    else:
        form.refuse(fallback, N_("Refused: %(detail)s"), detail=err.message)


def _month_bounds(month: str) -> tuple[datetime, datetime]:
    year, number = int(month[:4]), int(month[5:7])
    start = datetime(year, number, 1, tzinfo=OPERATOR_ZONE)
    end = datetime(year + number // 12, number % 12 + 1, 1, tzinfo=OPERATOR_ZONE)
    return start, end


@router.get("/invoices")
def invoices(request: Request, session: SessionDep, pages: PagesDep, holder: str = "", status: str = "",
             car_park: str = "", month: str = "", page: int = 1, _operator: Operator = Books) -> Response:  # fmt: skip
    """Invoices newest first, filtered by holder (name, phone or unit), state, car park and month issued."""
    filters = Form({"holder": holder[:64], "status": status[:8], "car_park": car_park[:64], "month": month[:7]})
    who = filters.text("holder", max_length=64)
    state = filters.choice("status", INVOICE_STATES, required=False)
    park = filters.text("car_park", max_length=64)
    chosen = filters.month("month")
    query = select(Invoice, Holder).join(Holder, Holder.id == Invoice.holder_id)
    if who:
        like = f"%{who}%"
        units = select(Unit.id).where(or_(Unit.room.ilike(like), (Unit.building + "-" + Unit.room).ilike(like)))
        query = query.where(or_(Holder.name.ilike(like), Holder.phone.ilike(like), Holder.unit_id.in_(units),
                                Invoice.number.ilike(like)))  # fmt: skip
    if state and "status" not in filters.errors:
        query = query.where(Invoice.status == state)
    if park:
        query = query.where(Invoice.car_park == park)
    if chosen:
        start, end = _month_bounds(chosen)
        query = query.where(Invoice.issued_at >= start, Invoice.issued_at < end)
    paging: Paging[tuple[Invoice, Holder]] = Paging.of("/office/invoices", page, holder=who, status=state,
                                                       car_park=park, month=chosen)  # fmt: skip
    rows = session.execute(query.order_by(Invoice.issued_at.desc(), Invoice.id.desc())
                           .limit(paging.fetch).offset(paging.offset)).all()  # fmt: skip
    parks = sorted(set(session.scalars(select(Invoice.car_park).distinct().limit(200))))
    context = {"filters": filters, "invoices": paging.take([(i, h) for i, h in rows]), "states": INVOICE_STATES,
               "park_options": [(p, p) for p in parks], "state_options": list(INVOICE_STATES.items())}  # fmt: skip
    return pages.render(request, "invoices.html", context)


def _history(session: Session, invoice: Invoice, payments: list[Payment], refunds: list[Refund]) -> list[AuditEntry]:
    keys = [("invoice", invoice.number)] + [("payment", p.receipt_number or "") for p in payments]
    keys += [("refund", str(r.id)) for r in refunds]
    clauses = [(AuditEntry.entity == entity) & (AuditEntry.entity_id == key) for entity, key in keys]
    return list(session.scalars(select(AuditEntry).where(or_(*clauses)).order_by(AuditEntry.id).limit(500)))


def invoice_context(session: Session, invoice: Invoice, operator: Operator, **forms: Any) -> dict[str, Any]:
    """One invoice's page: lines, payments with receipts, refunds, audit history, and the forms the role may use."""
    payments = payments_of(session, invoice.id)
    refunds = list(session.scalars(select(Refund).where(Refund.invoice_id == invoice.id).order_by(Refund.id)))
    user_ids = {p.received_by for p in payments} | {r.requested_by for r in refunds} | {r.decided_by for r in refunds}
    names = {u.id: u.username for u in session.scalars(select(User).where(User.id.in_(user_ids - {None})))}
    role = operator.role.value
    context: dict[str, Any] = {
        "invoice": invoice, "holder": session.get_one(Holder, invoice.holder_id),
        "items": invoice_items(session, invoice.id), "payments": payments, "refunds": refunds, "names": names,
        "history": _history(session, invoice, payments, refunds), "owed": invoice.total_minor - invoice.paid_minor,
        "refundable": refundable(session, invoice), "states": INVOICE_STATES, "refund_states": REFUND_STATES,
        "methods": METHODS, "desk_methods": DESK_METHODS, "may_take": role in ("cashier", "admin"),
        "may_decide": role in ("supervisor", "admin"), "notice": None, "payment": Form(), "void": Form(),
        "refund": Form(), "submission": new_submission(), "decision": Form(), "decided_refund": None,
        "payout": Form(), "payout_refund": None,
    }  # fmt: skip
    context.update(forms)
    return context


def load_invoice(session: Session, invoice_id: int) -> Invoice | None:
    return session.get(Invoice, invoice_id) if 1 <= invoice_id <= _ROW_ID else None


@router.get("/invoices/{invoice_id}")
def invoice_page(invoice_id: int, request: Request, session: SessionDep, pages: PagesDep, done: str = "",
                 operator: Operator = Books) -> Response:  # fmt: skip
    invoice = load_invoice(session, invoice_id)
    if invoice is None:
        return pages.render(request, "not_found.html", {}, 404)
    return pages.render(request, "invoice.html", invoice_context(session, invoice, operator, notice=NOTICES.get(done)))


@router.post("/invoices/{invoice_id}/payments")
def pay(invoice_id: int, request: Request, form: PostedForm, session: SessionDep, pages: PagesDep,
        operator: Operator = Cashier) -> Response:  # fmt: skip
    """Take a payment (partial allowed); the form's own id makes a double submit one payment."""
    invoice = load_invoice(session, invoice_id)
    if invoice is None:
        return pages.render(request, "not_found.html", {}, 404)
    method = form.choice("method", DESK_METHODS)
    amount = form.amount("amount", invoice.currency, required=True)
    reference = form.text("reference", max_length=128)
    note = form.text("note", max_length=500)
    submission = form.text("submission", max_length=64)
    payment = billing_step(session, form, "amount", lambda: take_payment(
        session, operator.user, invoice_id=invoice_id, method=PaymentMethod(method), amount_minor=amount,
        reference=reference, note=note, request_id=f"office:{submission}" if submission else None))  # fmt: skip
    if payment:
        return redirect(f"/office/payments/{payment.id}/receipt", done="paid")
    invoice = load_invoice(session, invoice_id)
    assert invoice is not None
    return pages.render(request, "invoice.html", invoice_context(session, invoice, operator, payment=form), 422)


@router.post("/invoices/{invoice_id}/void")
def void(invoice_id: int, request: Request, form: PostedForm, session: SessionDep, pages: PagesDep,
         operator: Operator = Cashier) -> Response:  # fmt: skip
    invoice = load_invoice(session, invoice_id)
    if invoice is None:
        return pages.render(request, "not_found.html", {}, 404)
    reason = form.reason("void_reason")
    voided = billing_step(
        session, form, "void_reason", lambda: void_invoice(session, operator.user, invoice_id, reason)
    )
    if voided:
        return redirect(f"/office/invoices/{invoice.id}", done="voided")
    invoice = load_invoice(session, invoice_id)
    assert invoice is not None
    return pages.render(request, "invoice.html", invoice_context(session, invoice, operator, void=form), 422)


def _payment(session: Session, payment_id: int) -> Payment | None:
    return session.get(Payment, payment_id) if 1 <= payment_id <= _ROW_ID else None


@router.get("/payments/{payment_id}/receipt")
def receipt(payment_id: int, request: Request, session: SessionDep, pages: PagesDep, done: str = "",
            _operator: Operator = Books) -> Response:  # fmt: skip
    """The receipt (收据) as a page to print (print.css hides all but the receipt); its PDF beside."""
    payment = _payment(session, payment_id)
    if payment is None or payment.receipt_number is None:
        return pages.render(request, "not_found.html", {}, 404)
    invoice = session.get_one(Invoice, payment.invoice_id)
    holder = session.get_one(Holder, invoice.holder_id)
    cashier = session.get(User, payment.received_by) if payment.received_by else None
    context = {"payment": payment, "invoice": invoice, "holder": holder, "methods": METHODS,
               "unit": session.get(Unit, holder.unit_id) if holder.unit_id else None,
               "cashier": cashier.username if cashier else "", "notice": NOTICES.get(done)}  # fmt: skip
    return pages.render(request, "receipt.html", context)


@router.get("/payments/{payment_id}/receipt.pdf")
def receipt_file(payment_id: int, request: Request, session: SessionDep, pages: PagesDep, lang: str = "zh-CN",
                 operator: Operator = Books) -> Response:  # fmt: skip
    """The receipt's PDF in zh-CN or English; billing counts it as a print (a reprint after the first)."""
    payment = _payment(session, payment_id)
    if payment is None or payment.receipt_number is None:
        return pages.render(request, "not_found.html", {}, 404)
    language = "en" if lang == "en" else "zh-CN"
    pdf = receipt_pdf(session, operator.user, payment.id, language)
    session.commit()
    name = payment.receipt_number
    return Response(
        pdf, media_type="application/pdf", headers={"Content-Disposition": f'inline; filename="{name}.pdf"'}
    )


def new_submission() -> str:
    """A fresh id for one payment form: submitting it twice records one payment."""
    return uuid.uuid4().hex
