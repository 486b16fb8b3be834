"""The landing pages of the cashier (the open invoices), the finance office (the pass plans) and the admin (the
users)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import select

from central.api.deps import SessionDep
from central.models import Holder, Invoice, PassPlan, User
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
    """Open invoices (not yet paid in full), the oldest due first."""
    paging: Paging[tuple[Invoice, Holder]] = Paging.of("/office/cashier", page)
    rows = session.execute(
        select(Invoice, Holder).join(Holder, Holder.id == Invoice.holder_id)
        .where(Invoice.status == "open").order_by(Invoice.due_at, Invoice.id)
        .limit(paging.fetch).offset(paging.offset)
    ).all()  # fmt: skip
    return pages.render(request, "cashier.html", {"invoices": paging.take([(inv, h) for inv, h in rows])})


@router.get("/finance")
def finance(request: Request, session: SessionDep, pages: PagesDep, _operator: Operator = FinancePage) -> Response:
    plans = list(session.scalars(select(PassPlan).order_by(PassPlan.active.desc(), PassPlan.name).limit(1000)))
    return pages.render(request, "finance.html", {"plans": plans})


@router.get("/users")
def users(request: Request, session: SessionDep, pages: PagesDep, _operator: Operator = UsersPage) -> Response:
    people = list(session.scalars(select(User).order_by(User.role, User.username).limit(1000)))
    return pages.render(request, "users.html", {"users": people})
