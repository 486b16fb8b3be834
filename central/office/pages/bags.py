"""The cash bags' custody after their drop at the booth (投包): the bags by state, and each bag's page with its
history. The cashier records each step on its own form: the pick-up at the booth with its witness (取包), the count
at the office against the declared amount (by denomination or as one amount), the bank deposit with the deposit
slip's reference (银行进账单). Supervisors, auditors and admins read the bags and their custody history."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from central.api.deps import SessionDep
from central.core.db import utcnow
from central.models import AuditEntry
from central.office.deps import PagesDep, PostedForm, page
from central.office.finding_labels import BAG_STATES
from central.office.forms import Form
from central.office.navigation import N_
from central.office.pages.supervision import car_park_zones
from central.office.rendering import redirect
from central.office.sessions import Operator
from central.reconciliation import custody
from central.reconciliation.review import ReconciliationError
from central.renewal import OPERATOR_ZONE

router = APIRouter()
Bags = page("bags")
Custody = page("bag_custody")
MAX_CAR_PARKS = 50
DENOMINATIONS = (10000, 5000, 2000, 1000, 500, 100, 50, 10)  # 100, 50, 20, 10, 5, 1 yuan; 5 and 1 jiao

NOTICES = {"picked_up": N_("The pick-up is recorded."), "counted": N_("The count is recorded."),
           "deposited": N_("The deposit is recorded.")}  # fmt: skip
CUSTODY_MESSAGES = {
    "bag.witness_required": ("witness", N_("A pick-up needs a witness.")),
    "bag.witness_is_cashier": ("witness", N_("The witness cannot be the cashier who picks the bag up.")),
    "bag.already_picked_up": ("witness", N_("This bag was picked up already.")),
    "bag.not_picked_up": ("counted", N_("The bag has not been picked up yet.")),
    "bag.already_counted": ("counted", N_("This bag was counted already.")),
    "bag.not_counted": ("slip", N_("The bag has not been counted yet.")),
    "bag.already_deposited": ("slip", N_("This bag was deposited already.")),
    "bag.slip_required": ("slip", N_("Give the bank deposit slip's reference.")),
    "bag.step_in_future": ("at", N_("This time is in the future.")),
    "bag.step_out_of_order": ("at", N_("This time is before the bag's step before it.")),
}


@router.get("/bags")
def bags(request: Request, session: SessionDep, pages: PagesDep, car_park: str = "", state: str = "",
         _operator: Operator = Bags) -> Response:  # fmt: skip
    """Every car park's bags (or one's), newest drop first, grouped by how far their custody has come."""
    filters = Form({"car_park": car_park[:64], "state": state[:16]})
    zones = car_park_zones(session)
    chosen = filters.choice("car_park", zones, required=False)
    wanted = filters.choice("state", BAG_STATES, required=False)
    parks = [chosen] if chosen and "car_park" not in filters.errors else sorted(zones)[:MAX_CAR_PARKS]
    groups: dict[str, list[dict[str, Any]]] = {key: [] for key in BAG_STATES}
    for park in parks:
        for line in custody.bag_lines(session, park):
            if not wanted or line["state"] == wanted:
                groups[line["state"]].append(line | {"car_park": park})
    context = {"filters": filters, "car_parks": sorted(zones), "groups": groups, "states": BAG_STATES,
               "zones": zones, "default_zone": OPERATOR_ZONE}  # fmt: skip
    return pages.render(request, "bags.html", context)


def bag_context(session: Session, car_park: str, bag: str, operator: Operator, **forms: Any) -> dict[str, Any] | None:
    """The bag's page: its drop and steps, the audit history of its custody, the cashier's next step."""
    line = next((b for b in custody.bag_lines(session, car_park) if b["bag"] == bag), None)
    if line is None:
        return None
    history = list(session.scalars(select(AuditEntry).where(AuditEntry.entity == "cash_bag",
                                                            AuditEntry.entity_id == f"{car_park}/{bag}")
                                   .order_by(AuditEntry.id)))  # fmt: skip
    zone = car_park_zones(session).get(car_park, OPERATOR_ZONE)
    context: dict[str, Any] = {
        "car_park": car_park, "bag": line, "history": history, "zone": zone, "states": BAG_STATES,
        "denominations": DENOMINATIONS, "may_act": operator.role.value == "cashier", "notice": None,
        "pick_up": Form(), "count": Form(), "deposit": Form(),
    }  # fmt: skip
    context.update(forms)
    return context


@router.get("/bags/{car_park}/{bag}")
def bag_page(car_park: str, bag: str, request: Request, session: SessionDep, pages: PagesDep, done: str = "",
             operator: Operator = Bags) -> Response:  # fmt: skip
    context = bag_context(session, car_park[:64], bag[:32], operator, notice=NOTICES.get(done))
    if context is None:
        return pages.render(request, "not_found.html", {}, 404)
    return pages.render(request, "bag.html", context)


def _zone(session: Session, car_park: str) -> ZoneInfo:
    return car_park_zones(session).get(car_park, OPERATOR_ZONE)


def _step(request: Request, session: Session, pages: PagesDep, operator: Operator, car_park: str, bag: str,
          form: Form, which: str, done: str, act: Any) -> Response:  # fmt: skip
    """Run one custody step when the form reads well; else (or when refused) the bag's page with the errors."""
    if form.ok:
        try:
            act()
        except ReconciliationError as err:
            session.rollback()
            if err.code == "bag.not_found":
                return pages.render(request, "not_found.html", {}, 404)
            target, message = CUSTODY_MESSAGES.get(err.code, ("", ""))
            if message:
                form.refuse(target, message)
            else:
                form.refuse(target or "at", N_("Refused: %(detail)s"), detail=err.message)
        else:
            session.commit()
            return redirect(f"/office/bags/{car_park}/{bag}", done=done)
    context = bag_context(session, car_park, bag, operator, **{which: form})
    if context is None:
        return pages.render(request, "not_found.html", {}, 404)
    return pages.render(request, "bag.html", context, 422)


@router.post("/bags/{car_park}/{bag}/pick-up")
def pick_up(car_park: str, bag: str, request: Request, form: PostedForm, session: SessionDep, pages: PagesDep,
            operator: Operator = Custody) -> Response:  # fmt: skip
    car_park, bag = car_park[:64], bag[:32]
    witness = form.text("witness", max_length=64, required=True)
    at = form.moment("at", _zone(session, car_park))

    def act() -> None:
        custody.pick_up(session, operator.user, car_park, bag, witness, at, utcnow())

    return _step(request, session, pages, operator, car_park, bag, form, "pick_up", "picked_up", act)


def counted_amount(form: Form, currency: str) -> tuple[int, dict[str, int]]:
    """The count: notes and coins by denomination when any is given (their sum), else the amount typed."""
    pieces: dict[str, int] = {}
    for value in DENOMINATIONS:
        number = form.integer(f"d{value}", low=0, high=1_000_000, required=False)
        if number:
            pieces[str(value)] = number
    if any(form.raw(f"d{value}").strip() for value in DENOMINATIONS):
        return sum(int(value) * n for value, n in pieces.items()), pieces
    return form.amount("counted", currency, required=True), {}


@router.post("/bags/{car_park}/{bag}/count")
def count(car_park: str, bag: str, request: Request, form: PostedForm, session: SessionDep, pages: PagesDep,
          operator: Operator = Custody) -> Response:  # fmt: skip
    car_park, bag = car_park[:64], bag[:32]
    line = next((b for b in custody.bag_lines(session, car_park) if b["bag"] == bag), None)
    total, pieces = counted_amount(form, (line or {}).get("currency") or "CNY")
    at = form.moment("at", _zone(session, car_park))
    reason = form.text("reason", max_length=500)
    if form.ok and line is not None and total != line["declared"] and not reason:
        form.refuse("reason", N_("The count differs from the declared amount: say why (it goes into the audit log)."))

    def act() -> None:
        custody.count(session, operator.user, car_park, bag, total, at, utcnow(), denominations=pieces or None,
                      reason=reason)  # fmt: skip

    return _step(request, session, pages, operator, car_park, bag, form, "count", "counted", act)


@router.post("/bags/{car_park}/{bag}/deposit")
def deposit(car_park: str, bag: str, request: Request, form: PostedForm, session: SessionDep, pages: PagesDep,
            operator: Operator = Custody) -> Response:  # fmt: skip
    car_park, bag = car_park[:64], bag[:32]
    slip = form.text("slip", max_length=64, required=True)
    at = form.moment("at", _zone(session, car_park))

    def act() -> None:
        custody.deposit(session, operator.user, car_park, bag, slip, at, utcnow())

    return _step(request, session, pages, operator, car_park, bag, form, "deposit", "deposited", act)
