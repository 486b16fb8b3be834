"""Direct-debit mandates at the cashier's desk: find the holder, see their mandates, record one (bank, account
number checked by billing, account name, mandate reference, the day it was signed) or revoke one with a reason. The
same billing functions the JSON API calls do the work and write the audit log."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from central.api.deps import SessionDep
from central.billing.mandates import create_mandate, revoke_mandate
from central.models import DebitMandate, Holder, Unit
from central.office.billing_labels import SCHEMES
from central.office.deps import PagesDep, PostedForm, page
from central.office.forms import Form
from central.office.navigation import N_
from central.office.pages.desk import HolderRow, find_holders
from central.office.pages.invoices import billing_step
from central.office.paging import Paging
from central.office.rendering import redirect
from central.office.sessions import Operator
from central.publication import unit_label

router = APIRouter()
Readers = page("mandates")
Cashier = page("debit_actions")
_ROW_ID = 2_147_483_647
NOTICES = {"created": N_("The mandate is recorded; the holder's earlier mandate of this kind is no longer used."),
           "revoked": N_("The mandate is revoked: it is not debited any more.")}  # fmt: skip


@router.get("/mandates")
def mandates(request: Request, session: SessionDep, pages: PagesDep, q: str = "", page: int = 1,
             _operator: Operator = Readers) -> Response:  # fmt: skip
    """Find the holder (name, unit, plate or card); without a search, the latest mandates recorded."""
    query = q.strip()[:64]
    paging: Paging[HolderRow] = Paging.of("/office/mandates", page, q=query)
    found = find_holders(session, query, paging) if query else None
    latest = session.execute(
        select(DebitMandate, Holder).join(Holder, Holder.id == DebitMandate.holder_id)
        .order_by(DebitMandate.id.desc()).limit(20)
    ).all()  # fmt: skip
    context = {"query": query, "found": found, "latest": latest, "schemes": SCHEMES}
    return pages.render(request, "mandates.html", context)


def _holder(session: Session, holder_id: int) -> Holder | None:
    return session.get(Holder, holder_id) if 1 <= holder_id <= _ROW_ID else None


def holder_context(session: Session, holder: Holder, operator: Operator, **forms: Any) -> dict[str, Any]:
    rows = list(session.scalars(select(DebitMandate).where(DebitMandate.holder_id == holder.id)
                                .order_by(DebitMandate.id.desc())))  # fmt: skip
    context: dict[str, Any] = {
        "holder": holder, "unit": unit_label(session.get(Unit, holder.unit_id)) if holder.unit_id else None,
        "mandates": rows, "schemes": SCHEMES, "may_act": operator.role.value in ("cashier", "admin"),
        "creating": Form(), "revoking": Form(), "revoked_id": None, "notice": None,
    }  # fmt: skip
    context.update(forms)
    return context


@router.get("/mandates/holders/{holder_id}")
def holder_mandates(holder_id: int, request: Request, session: SessionDep, pages: PagesDep, done: str = "",
                    operator: Operator = Readers) -> Response:  # fmt: skip
    holder = _holder(session, holder_id)
    if holder is None:
        return pages.render(request, "not_found.html", {}, 404)
    context = holder_context(session, holder, operator, notice=NOTICES.get(done))
    return pages.render(request, "mandate_holder.html", context)


@router.post("/mandates/holders/{holder_id}")
def create(holder_id: int, request: Request, form: PostedForm, session: SessionDep, pages: PagesDep,
           operator: Operator = Cashier) -> Response:  # fmt: skip
    """Record a mandate; billing checks the account number (IBAN mod 97, or a Chinese account's digits)."""
    holder = _holder(session, holder_id)
    if holder is None:
        return pages.render(request, "not_found.html", {}, 404)
    values = {
        "scheme": form.choice("scheme", SCHEMES), "bank": form.text("bank", max_length=128, required=True),
        "bic": form.text("bic", max_length=11), "account_number": form.text("account_number", max_length=64,
                                                                             required=True),
        "account_name": form.text("account_name", max_length=128, required=True),
        "reference": form.text("reference", max_length=35, required=True),
    }  # fmt: skip
    signed_on = form.date("signed_on")
    if billing_step(session, form, "account_number", lambda: create_mandate(
            session, operator.user, holder_id=holder_id, signed_on=signed_on, **values)):  # fmt: skip
        return redirect(f"/office/mandates/holders/{holder.id}", done="created")
    holder = session.get_one(Holder, holder_id)
    return pages.render(request, "mandate_holder.html", holder_context(session, holder, operator, creating=form), 422)


@router.post("/mandates/{mandate_id}/revoke")
def revoke(mandate_id: int, request: Request, form: PostedForm, session: SessionDep, pages: PagesDep,
           operator: Operator = Cashier) -> Response:  # fmt: skip
    mandate = session.get(DebitMandate, mandate_id) if 1 <= mandate_id <= _ROW_ID else None
    if mandate is None:
        return pages.render(request, "not_found.html", {}, 404)
    holder_id = mandate.holder_id
    reason = form.reason("revoke_reason")
    if form.ok:
        revoke_mandate(session, operator.user, mandate.id, reason)
        session.commit()
        return redirect(f"/office/mandates/holders/{holder_id}", done="revoked")
    holder = session.get_one(Holder, holder_id)
    context = holder_context(session, holder, operator, revoking=form, revoked_id=mandate_id)
    return pages.render(request, "mandate_holder.html", context, 422)
