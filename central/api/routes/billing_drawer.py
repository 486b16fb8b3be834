"""The office cashier's cash drawer: opened with its float and closed with the cash counted by denomination, the
takings sealed into numbered bags. Thin: the rules live in ``central.billing.drawer``."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from sqlalchemy import select

from central.api.deps import SessionDep
from central.api.fields import Limit, MinorUnits, Offset, RequestModel, ResponseModel
from central.api.routes import API_PREFIX
from central.api.routes.billing_common import BookReaders, Cashiers
from central.billing.drawer import close_drawer, open_drawer
from central.models import Drawer, DrawerBag, User
from parking.shift_report import CashCount

router = APIRouter(prefix=API_PREFIX + "/billing", tags=["billing"])


class CountIn(RequestModel):
    count: CashCount
    keep_float_minor: MinorUnits = 0


class DrawerOut(ResponseModel):
    id: int
    cashier_id: int
    currency: str
    status: str
    opened_at: datetime
    float_minor: int
    closed_at: datetime | None
    expected_minor: int | None
    counted_minor: int | None
    difference_minor: int | None


class BagOut(ResponseModel):
    id: int
    number: str
    drawer_id: int
    amount_minor: int
    currency: str
    sealed_at: datetime


@router.post("/drawer/open", response_model=DrawerOut, status_code=201, summary="Open your cash drawer with its float")
def open_my_drawer(body: CountIn, session: SessionDep, user: User = Cashiers) -> Drawer:
    drawer = open_drawer(session, user, body.count)
    session.commit()
    return drawer


@router.post("/drawer/close", response_model=BagOut, summary="Close your drawer: count, and seal the cash in a bag")
def close_my_drawer(body: CountIn, session: SessionDep, user: User = Cashiers) -> DrawerBag:
    bag = close_drawer(session, user, body.count, body.keep_float_minor)
    session.commit()
    return bag


@router.get("/drawers", response_model=list[DrawerOut], summary="Cash drawers, latest first")
def list_drawers(
    session: SessionDep, limit: Limit = 100, offset: Offset = 0, _user: User = BookReaders
) -> list[Drawer]:
    return list(session.scalars(select(Drawer).order_by(Drawer.id.desc()).limit(limit).offset(offset)))


@router.get("/bags", response_model=list[BagOut], summary="Sealed cash bags, latest first")
def list_bags(
    session: SessionDep, limit: Limit = 100, offset: Offset = 0, _user: User = BookReaders
) -> list[DrawerBag]:
    return list(session.scalars(select(DrawerBag).order_by(DrawerBag.id.desc()).limit(limit).offset(offset)))
