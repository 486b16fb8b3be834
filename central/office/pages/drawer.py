"""The cashier's own drawer: opened with the float counted by denomination, closed with the cash counted (billing
keeps expected, counted and difference and seals the cash in a numbered bag); the cashier's drawer bags."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from central.api.deps import SessionDep
from central.billing.drawer import close_drawer, expected_cash, open_drawer
from central.models import Drawer, DrawerBag
from central.office.deps import PagesDep, PostedForm, page
from central.office.forms import Form
from central.office.navigation import N_
from central.office.pages.bags import DENOMINATIONS
from central.office.pages.invoices import billing_step
from central.office.rendering import redirect
from central.office.sessions import Operator
from parking.shift_report import CashCount, CountLine

router = APIRouter()
DrawerPage = page("drawer")
NOTICES = {"opened": N_("The drawer is open."), "closed": N_("The drawer is closed and its cash sealed in a bag.")}


def _count(form: Form) -> CashCount:
    lines = []
    for value in DENOMINATIONS:
        pieces = form.integer(f"d{value}", low=0, high=1_000_000, required=False)
        if pieces:
            lines.append(CountLine(denomination=value, count=pieces))
    return CashCount(currency="CNY", lines=lines)


def drawer_context(session: Session, operator: Operator, **forms: Any) -> dict[str, Any]:
    mine = select(Drawer).where(Drawer.cashier_id == operator.user.id)
    current = session.scalars(mine.where(Drawer.status == "open")).first()
    drawers = [d.id for d in session.scalars(mine.order_by(Drawer.id.desc()).limit(200))]
    bags = list(session.scalars(select(DrawerBag).where(DrawerBag.drawer_id.in_(drawers))
                                .order_by(DrawerBag.id.desc())))  # fmt: skip
    context: dict[str, Any] = {"current": current, "expected": expected_cash(session, current) if current else 0,
                               "bags": bags, "denominations": DENOMINATIONS, "notice": None,
                               "opening": Form(), "closing": Form()}  # fmt: skip
    context.update(forms)
    return context


@router.get("/drawer")
def drawer(request: Request, session: SessionDep, pages: PagesDep, done: str = "",
           operator: Operator = DrawerPage) -> Response:  # fmt: skip
    return pages.render(request, "drawer.html", drawer_context(session, operator, notice=NOTICES.get(done)))


@router.post("/drawer/open")
def open_(request: Request, form: PostedForm, session: SessionDep, pages: PagesDep,
          operator: Operator = DrawerPage) -> Response:  # fmt: skip
    count = _count(form)
    if billing_step(session, form, "d10000", lambda: open_drawer(session, operator.user, count)):
        return redirect("/office/drawer", done="opened")
    return pages.render(request, "drawer.html", drawer_context(session, operator, opening=form), 422)


@router.post("/drawer/close")
def close(request: Request, form: PostedForm, session: SessionDep, pages: PagesDep,
          operator: Operator = DrawerPage) -> Response:  # fmt: skip
    count = _count(form)
    keep = form.amount("keep_float", "CNY")
    if billing_step(session, form, "keep_float", lambda: close_drawer(session, operator.user, count, keep)):
        return redirect("/office/drawer", done="closed")
    return pages.render(request, "drawer.html", drawer_context(session, operator, closing=form), 422)
