"""The landing pages of the cashier, the finance office and the admin, with what central has today: the invoice
lines sales and renewals made (billing turns them into invoices), the pass plans, the users."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import select

from central.api.deps import SessionDep
from central.models import Holder, InvoiceLine, PassPlan, User
from central.office.deps import PagesDep, page
from central.office.paging import Paging
from central.office.sessions import Operator

router = APIRouter()
CashierPage = page("cashier")
FinancePage = page("finance")
UsersPage = page("users")


@router.get("/cashier")
def cashier(request: Request, session: SessionDep, pages: PagesDep, page: int = 1,
            _operator: Operator = CashierPage) -> Response:  # fmt: skip
    """Invoice lines not yet billed, newest first (the billing pages take over from here)."""
    paging: Paging[tuple[InvoiceLine, Holder]] = Paging.of("/office/cashier", page)
    rows = session.execute(
        select(InvoiceLine, Holder).join(Holder, Holder.id == InvoiceLine.holder_id)
        .where(InvoiceLine.billed.is_(False)).order_by(InvoiceLine.id.desc())
        .limit(paging.fetch).offset(paging.offset)
    ).all()  # fmt: skip
    return pages.render(request, "cashier.html", {"lines": paging.take([(line, h) for line, h in rows])})


@router.get("/finance")
def finance(request: Request, session: SessionDep, pages: PagesDep, _operator: Operator = FinancePage) -> Response:
    plans = list(session.scalars(select(PassPlan).order_by(PassPlan.active.desc(), PassPlan.name).limit(1000)))
    return pages.render(request, "finance.html", {"plans": plans})


@router.get("/users")
def users(request: Request, session: SessionDep, pages: PagesDep, _operator: Operator = UsersPage) -> Response:
    people = list(session.scalars(select(User).order_by(User.role, User.username).limit(1000)))
    return pages.render(request, "users.html", {"users": people})
