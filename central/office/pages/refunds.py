"""Refunds at the office: the cashier asks for one on an invoice with a reason, a supervisor who is not the
requester approves or rejects it (billing refuses the requester: the page says so beside the note), the cashier
pays an approved refund out (cash leaves the open drawer). The list shows what awaits a decision or a payout."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import select

from central.api.deps import SessionDep
from central.billing.payments import PaymentMethod
from central.billing.refunds import decide_refund, pay_refund, request_refund
from central.models import Holder, Invoice, Refund, User
from central.office.billing_labels import DESK_METHODS, REFUND_STATES
from central.office.deps import PagesDep, PostedForm, page
from central.office.forms import Form
from central.office.pages.invoices import billing_step, invoice_context, load_invoice
from central.office.rendering import redirect
from central.office.sessions import Operator

router = APIRouter()
Refunds = page("refunds")
Cashier = page("invoice_actions")
Approver = page("refund_decision")
_ROW_ID = 2_147_483_647


@router.get("/refunds")
def refunds(request: Request, session: SessionDep, pages: PagesDep, status: str = "requested",
            _operator: Operator = Refunds) -> Response:  # fmt: skip
    """Refunds in one state (awaiting a decision by default), newest first."""
    filters = Form({"status": status[:16]})
    state = filters.choice("status", REFUND_STATES, required=False) or "requested"
    rows = session.execute(
        select(Refund, Invoice, Holder).join(Invoice, Invoice.id == Refund.invoice_id)
        .join(Holder, Holder.id == Invoice.holder_id).where(Refund.status == state)
        .order_by(Refund.requested_at.desc()).limit(500)
    ).all()  # fmt: skip
    ids = {r.requested_by for r, _i, _h in rows} - {None}
    names = {u.id: u.username for u in session.scalars(select(User).where(User.id.in_(ids)))}
    context = {"filters": filters, "rows": rows, "states": REFUND_STATES, "state": state, "names": names}
    return pages.render(request, "refunds.html", context)


@router.post("/invoices/{invoice_id}/refunds")
def ask(invoice_id: int, request: Request, form: PostedForm, session: SessionDep, pages: PagesDep,
        operator: Operator = Cashier) -> Response:  # fmt: skip
    invoice = load_invoice(session, invoice_id)
    if invoice is None:
        return pages.render(request, "not_found.html", {}, 404)
    amount = form.amount("refund_amount", invoice.currency, required=True)
    reason = form.reason("refund_reason")
    if billing_step(session, form, "refund_amount", lambda: request_refund(
        session, operator.user, invoice_id=invoice_id, amount_minor=amount, reason=reason
    )):  # fmt: skip
        return redirect(f"/office/invoices/{invoice.id}", done="refund_requested")
    invoice = load_invoice(session, invoice_id)
    assert invoice is not None
    return pages.render(request, "invoice.html", invoice_context(session, invoice, operator, refund=form), 422)


def _refund(session: SessionDep, refund_id: int) -> Refund | None:
    return session.get(Refund, refund_id) if 1 <= refund_id <= _ROW_ID else None


@router.post("/refunds/{refund_id}/decide")
def decide(refund_id: int, request: Request, form: PostedForm, session: SessionDep, pages: PagesDep,
           operator: Operator = Approver) -> Response:  # fmt: skip
    """Approve or reject with a note (needed to reject); the requester is refused beside the note."""
    refund = _refund(session, refund_id)
    if refund is None:
        return pages.render(request, "not_found.html", {}, 404)
    decision = form.choice("decision", ("approve", "reject"))
    note = form.text("note", max_length=500)
    if decision == "reject" and not note and form.ok:
        form.reason("note")
    invoice_id = refund.invoice_id
    if billing_step(session, form, "note", lambda: decide_refund(
        session, operator.user, refund.id, approve=decision == "approve", note=note
    )):  # fmt: skip
        return redirect(
            f"/office/invoices/{invoice_id}", done="refund_approved" if decision == "approve" else "refund_rejected"
        )
    invoice = load_invoice(session, invoice_id)
    assert invoice is not None
    context = invoice_context(session, invoice, operator, decision=form, decided_refund=refund_id)
    return pages.render(request, "invoice.html", context, 422)


@router.post("/refunds/{refund_id}/pay")
def pay_out(refund_id: int, request: Request, form: PostedForm, session: SessionDep, pages: PagesDep,
            operator: Operator = Cashier) -> Response:  # fmt: skip
    refund = _refund(session, refund_id)
    if refund is None:
        return pages.render(request, "not_found.html", {}, 404)
    method = form.choice("payout_method", DESK_METHODS)
    reference = form.text("payout_reference", max_length=128)
    invoice_id = refund.invoice_id
    if billing_step(session, form, "payout_method", lambda: pay_refund(
        session, operator.user, refund.id, method=PaymentMethod(method), reference=reference
    )):  # fmt: skip
        return redirect(f"/office/invoices/{invoice_id}", done="refund_paid")
    invoice = load_invoice(session, invoice_id)
    assert invoice is not None
    context = invoice_context(session, invoice, operator, payout=form, payout_refund=refund_id)
    return pages.render(request, "invoice.html", context, 422)
