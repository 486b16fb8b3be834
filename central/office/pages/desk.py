"""The front desk (3.3): find a holder by name, unit, plate or card number; register holders and units; one
holder's page with their passes and cards."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import String, cast, or_, select
from sqlalchemy.orm import Session

from central.api.deps import SessionDep
from central.audit import record_change, snapshot
from central.card_refusals import card_refusals, pass_presentations
from central.issuing import normalise_plate
from central.models import AccessCard, AccessGroup, Holder, MonthlyPass, PassPlan, Unit
from central.office.deps import PagesDep, PostedForm, page
from central.office.forms import Form
from central.office.navigation import N_
from central.office.paging import Paging
from central.office.rendering import redirect
from central.office.sessions import Operator
from central.publication import republish_holder, unit_label

router = APIRouter()
Front = page("desk")

# Messages shown after a POST → redirect → GET, by the key in the redirect's ``done`` parameter.
NOTICES = {
    "holder_registered": N_("The holder is registered."),
    "holder_changed": N_("The holder's details are changed."),
    "unit_added": N_("The unit is added."),
    "pass_sold": N_("The pass is sold; the edges have it at their next sync."),
    "pass_renewed": N_("The pass is renewed."),
    "card_issued": N_("The card is issued."),
    "card_lost": N_("The card is marked lost; the edges refuse it at their next sync."),
    "card_revoked": N_("The card is revoked; the edges refuse it at their next sync."),
    "card_replaced": N_("The card is replaced by the new one."),
}


@dataclass
class HolderRow:
    holder: Holder
    unit: str | None
    plates: list[str]


def find_holders(session: Session, query: str, paging: Paging[HolderRow]) -> Paging[HolderRow]:
    """Holders whose name contains ``query``, whose unit is it (``3-1201`` or the room), who have a pass for the
    plate or a pass or card with the number."""
    text = query.replace("\x00", "").strip()
    plate = normalise_plate(text)
    matches = [Holder.name.contains(text, autoescape=True)]
    building, _, room = text.partition("-")
    unit_match = (Unit.building == building) & (Unit.room == room) if room else Unit.room == text
    matches.append(Holder.unit_id.in_(select(Unit.id).where(unit_match)))
    if plate:
        pass_plate = cast(MonthlyPass.plates, String).contains(f'"{plate}"', autoescape=True)
        matches.append(Holder.id.in_(select(MonthlyPass.holder_id).where(pass_plate)))
    matches.append(Holder.id.in_(select(MonthlyPass.holder_id).where(MonthlyPass.card_number == text)))
    matches.append(Holder.id.in_(select(AccessCard.holder_id).where(AccessCard.number == text)))
    rows = session.execute(
        select(Holder, Unit).outerjoin(Unit, Unit.id == Holder.unit_id).where(or_(*matches))
        .order_by(Holder.name, Holder.id).limit(paging.fetch).offset(paging.offset)
    ).all()  # fmt: skip
    holder_ids = [holder.id for holder, _unit in rows]
    plates: dict[int, list[str]] = {}
    for monthly in session.scalars(select(MonthlyPass).where(MonthlyPass.holder_id.in_(holder_ids))):
        plates.setdefault(monthly.holder_id, []).extend(p for p in monthly.plates if p not in plates.get(
            monthly.holder_id, []))  # fmt: skip
    return paging.take([HolderRow(h, unit_label(u), plates.get(h.id, [])) for h, u in rows])


@router.get("/desk")
def desk(request: Request, session: SessionDep, pages: PagesDep, q: str = "", page: int = 1,
         _operator: Operator = Front) -> Response:  # fmt: skip
    query = q.strip()[:64]
    paging: Paging[HolderRow] = Paging.of("/office/desk", page, q=query)
    found = find_holders(session, query, paging) if query else None
    return pages.render(request, "desk.html", {"q": query, "found": found})


def _units(session: Session) -> list[Unit]:
    return list(session.scalars(select(Unit).order_by(Unit.building, Unit.room).limit(2000)))


@router.get("/holders/new")
def holder_form(request: Request, session: SessionDep, pages: PagesDep, _operator: Operator = Front) -> Response:
    return pages.render(request, "holder_new.html", {"form": Form(), "units": _units(session)})


def _holder_fields(form: Form, session: Session) -> dict[str, Any]:
    """The holder's fields from the form (registration and change alike)."""
    fields: dict[str, Any] = {
        "name": form.text("name", max_length=128, required=True), "phone": form.text("phone", max_length=32),
        "email": form.text("email", max_length=128),
        "unit_id": form.integer("unit_id", low=1, high=2_147_483_647, required=False),
        "notes": form.text("notes", max_length=2000),
    }  # fmt: skip
    if fields["email"] and "@" not in fields["email"]:
        form.refuse("email", N_("Enter an e-mail address like name@example.com."))
    if fields["unit_id"] is not None and session.get(Unit, fields["unit_id"]) is None:
        form.refuse("unit_id", N_("No such unit."))
    return fields


@router.post("/holders/new")
def register_holder(request: Request, form: PostedForm, session: SessionDep, pages: PagesDep,
                    operator: Operator = Front) -> Response:  # fmt: skip
    fields = _holder_fields(form, session)
    if not form.ok:
        return pages.render(request, "holder_new.html", {"form": form, "units": _units(session)}, 422)
    holder = Holder(**fields)
    session.add(holder)
    session.flush()
    record_change(session, operator.user, "holder.create", "holder", holder.id, None, snapshot(holder))
    session.commit()
    return redirect(f"/office/holders/{holder.id}", done="holder_registered")


@router.get("/units")
def units(request: Request, session: SessionDep, pages: PagesDep, page: int = 1, done: str = "",
          _operator: Operator = Front) -> Response:  # fmt: skip
    paging: Paging[Unit] = Paging.of("/office/units", page)
    rows = session.scalars(select(Unit).order_by(Unit.building, Unit.room).limit(paging.fetch).offset(paging.offset))
    return pages.render(request, "units.html", {"form": Form(), "units": paging.take(list(rows)),
                                                "notice": NOTICES.get(done)})  # fmt: skip


@router.post("/units")
def add_unit(request: Request, form: PostedForm, session: SessionDep, pages: PagesDep,
             operator: Operator = Front) -> Response:  # fmt: skip
    building = form.text("building", max_length=32, required=True)
    room = form.text("room", max_length=32, required=True)
    notes = form.text("notes", max_length=2000)
    if form.ok and session.scalars(select(Unit.id).where(Unit.building == building, Unit.room == room)).first():
        form.refuse("room", N_("This unit is registered already."))
    if not form.ok:
        paging: Paging[Unit] = Paging.of("/office/units", 1)
        rows = session.scalars(select(Unit).order_by(Unit.building, Unit.room).limit(paging.fetch))
        return pages.render(request, "units.html", {"form": form, "units": paging.take(list(rows)),
                                                    "notice": None}, 422)  # fmt: skip
    unit = Unit(building=building, room=room, notes=notes)
    session.add(unit)
    session.flush()
    record_change(session, operator.user, "unit.create", "unit", unit.id, None, snapshot(unit))
    session.commit()
    return redirect("/office/units", done="unit_added")


def holder_context(session: Session, holder: Holder, **forms: Any) -> dict[str, Any]:
    """What the holder's page shows: the holder, their unit, passes (with plan), cards, and the forms."""
    passes = session.execute(
        select(MonthlyPass, PassPlan).join(PassPlan, PassPlan.id == MonthlyPass.plan_id)
        .where(MonthlyPass.holder_id == holder.id).order_by(MonthlyPass.created_at.desc())
    ).all()  # fmt: skip
    cards = list(session.scalars(
        select(AccessCard).where(AccessCard.holder_id == holder.id).order_by(AccessCard.created_at.desc())
    ))  # fmt: skip
    plans = list(session.scalars(select(PassPlan).where(PassPlan.active.is_(True)).order_by(PassPlan.name)))
    groups = list(session.scalars(select(AccessGroup).order_by(AccessGroup.name)))
    context: dict[str, Any] = {
        "holder": holder, "unit": unit_label(session.get(Unit, holder.unit_id)) if holder.unit_id else None,
        "passes": passes, "cards": cards, "plans": plans, "groups": groups, "notice": None,
        "refusals": card_refusals(session, [card.id for card in cards]),
        "stopped_passes": pass_presentations(session, [monthly.id for monthly, _plan in passes]),
        "sale": Form(), "card_form": Form(), "renewal": None, "card_action": None,
    }  # fmt: skip
    context.update(forms)
    return context


def load_holder(session: Session, holder_id: int) -> Holder | None:
    return session.get(Holder, holder_id) if 1 <= holder_id <= 2_147_483_647 else None


@router.get("/holders/{holder_id}")
def holder_page(holder_id: int, request: Request, session: SessionDep, pages: PagesDep, done: str = "",
                _operator: Operator = Front) -> Response:  # fmt: skip
    holder = load_holder(session, holder_id)
    if holder is None:
        return pages.render(request, "not_found.html", {}, 404)
    return pages.render(request, "holder.html", holder_context(session, holder, notice=NOTICES.get(done)))


@router.get("/holders/{holder_id}/edit")
def holder_edit_form(holder_id: int, request: Request, session: SessionDep, pages: PagesDep,
                     _operator: Operator = Front) -> Response:  # fmt: skip
    holder = load_holder(session, holder_id)
    if holder is None:
        return pages.render(request, "not_found.html", {}, 404)
    current = {"name": holder.name, "phone": holder.phone, "email": holder.email, "notes": holder.notes,
               "unit_id": str(holder.unit_id or "")}  # fmt: skip
    return pages.render(request, "holder_edit.html", {"holder": holder, "form": Form(current),
                                                      "units": _units(session)})  # fmt: skip


@router.post("/holders/{holder_id}/edit")
def change_holder(holder_id: int, request: Request, form: PostedForm, session: SessionDep, pages: PagesDep,
                  operator: Operator = Front) -> Response:  # fmt: skip
    """Change the holder's details; a new name or unit is published with their passes (the edges show them)."""
    holder = load_holder(session, holder_id)
    if holder is None:
        return pages.render(request, "not_found.html", {}, 404)
    fields = _holder_fields(form, session)
    if not form.ok:
        return pages.render(request, "holder_edit.html", {"holder": holder, "form": form, "units": _units(session)},
                            422)  # fmt: skip
    before = snapshot(holder)
    for key, value in fields.items():
        setattr(holder, key, value)
    session.flush()
    if before["name"] != holder.name or before["unit_id"] != holder.unit_id:
        republish_holder(session, holder.id)
    record_change(session, operator.user, "holder.change", "holder", holder.id, before, snapshot(holder))
    session.commit()
    return redirect(f"/office/holders/{holder.id}", done="holder_changed")
