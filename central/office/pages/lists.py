"""The front desk's lists: free, special and blacklist entries with category and validity; the renewal-reminder
list with its CSV export; the passes whose renewal falls due today."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import select

from central.api.deps import SessionDep
from central.api.routes.reminders import csv_response, due_reminders, reminders_csv
from central.audit import record_change, snapshot
from central.core.db import utcnow
from central.models import Holder, MonthlyPass, Unit, VehicleListEntry
from central.office.deps import PagesDep, PostedForm, page
from central.office.forms import Form
from central.office.navigation import N_
from central.office.paging import Paging
from central.office.rendering import redirect
from central.office.sessions import Operator
from central.publication import retract, unit_label
from central.renewal import OPERATOR_ZONE
from central.vehicle_lists import FREE_CATEGORIES, add_vehicle_entry
from parking.wire import ListKind, PassStatus, VehicleList

router = APIRouter()
Lists = page("vehicles")
Reminders = page("reminders")
Today = page("renewals_today")

LIST_KINDS = [kind.value for kind in VehicleList]
# Special vehicles and the blacklist take any short category; these are offered first.
SPECIAL_CATEGORIES = ("hearse", "vip", "contractor", "delivery", "other")
NOTICES = {"vehicle_added": N_("The plate is on the list; the edges have it at their next sync."),
           "vehicle_removed": N_("The entry is removed; the edges drop it at their next sync.")}  # fmt: skip


def _vehicles_page(request: Request, session: SessionDep, pages: PagesDep, form: Form, kind: str, plate: str,
                   page_number: int, status: int = 200, done: str = "") -> Response:  # fmt: skip
    paging: Paging[VehicleListEntry] = Paging.of("/office/vehicles", page_number, kind=kind, plate=plate)
    query = select(VehicleListEntry).order_by(VehicleListEntry.created_at.desc(), VehicleListEntry.id)
    if kind in LIST_KINDS:
        query = query.where(VehicleListEntry.list_kind == kind)
    if plate:
        query = query.where(VehicleListEntry.plate.contains(plate.upper(), autoescape=True))
    rows = list(session.scalars(query.limit(paging.fetch).offset(paging.offset)))
    context = {"form": form, "entries": paging.take(rows), "kind": kind, "plate": plate, "kinds": LIST_KINDS,
               "free_categories": sorted(FREE_CATEGORIES), "special_categories": SPECIAL_CATEGORIES,
               "notice": NOTICES.get(done), "now": utcnow()}  # fmt: skip
    return pages.render(request, "vehicles.html", context, status)


@router.get("/vehicles")
def vehicles(request: Request, session: SessionDep, pages: PagesDep, kind: str = "", plate: str = "", page: int = 1,
             done: str = "", _operator: Operator = Lists) -> Response:  # fmt: skip
    return _vehicles_page(request, session, pages, Form(), kind[:16], plate.strip()[:16], page, done=done)


@router.post("/vehicles")
def add_vehicle(request: Request, form: PostedForm, session: SessionDep, pages: PagesDep,
                operator: Operator = Lists) -> Response:  # fmt: skip
    kind = form.choice("list_kind", LIST_KINDS)
    plates = form.plates("plate")
    if len(plates) > 1:
        form.refuse("plate", N_("One plate per entry."))
    category = form.text("category", max_length=32, required=True).lower()
    if kind == VehicleList.FREE and category and category not in FREE_CATEGORIES:
        form.refuse("category", N_("A free vehicle's category is one of: %(categories)s."),
                    categories=", ".join(sorted(FREE_CATEGORIES)))  # fmt: skip
    elif category and not all(ch.isalnum() or ch in "_-" for ch in category):
        form.refuse("category", N_("Letters, digits, - and _ only."))
    valid_from = form.date("valid_from")
    valid_to = form.date("valid_to")
    if valid_from and valid_to and valid_to <= valid_from:
        form.refuse("valid_to", N_("The end must be after the start."))
    reason = form.reason()
    if not form.ok:
        return _vehicles_page(request, session, pages, form, "", "", 1, 422)
    # A day typed as the end is valid through that whole day.
    end = valid_to + timedelta(days=1) if valid_to else None
    add_vehicle_entry(session, operator.user, list_kind=kind, plate=plates[0], category=category, reason=reason,
                      car_parks=[], valid_from=valid_from, valid_to=end)  # fmt: skip
    session.commit()
    return redirect("/office/vehicles", kind=kind, done="vehicle_added")


@router.post("/vehicles/{entry_id}/remove")
def remove_vehicle(entry_id: str, request: Request, form: PostedForm, session: SessionDep, pages: PagesDep,
                   operator: Operator = Lists) -> Response:  # fmt: skip
    entry = session.get(VehicleListEntry, entry_id[:64])
    if entry is None:
        return pages.render(request, "not_found.html", {}, 404)
    reason = form.reason()
    if not form.ok:
        form.refuse("entry", N_("Say why: the reason goes into the audit log."))
        return _vehicles_page(request, session, pages, form, "", "", 1, 422)
    before = snapshot(entry)
    session.delete(entry)
    retract(session, ListKind.VEHICLES, entry.id)
    record_change(session, operator.user, "vehicle.remove", "vehicle", entry.id, before, None, reason=reason)
    session.commit()
    return redirect("/office/vehicles", done="vehicle_removed")


def _days(value: int) -> int:
    return max(0, min(value, 366))


@router.get("/reminders")
def reminders(request: Request, session: SessionDep, pages: PagesDep, days: int = 15,
              _operator: Operator = Reminders) -> Response:  # fmt: skip
    return pages.render(request, "reminders.html", {"days": _days(days),
                                                    "reminders": due_reminders(session, _days(days))})  # fmt: skip


@router.get("/reminders.csv")
def reminders_export(session: SessionDep, days: int = 15, _operator: Operator = Reminders) -> Response:
    return csv_response(reminders_csv(session, _days(days)))


@router.get("/renewals/today")
def renewals_today(request: Request, session: SessionDep, pages: PagesDep, _operator: Operator = Today) -> Response:
    """Passes whose validity ends today (the operator's local day), and those already lapsed within the week."""
    start = datetime.combine(utcnow().astimezone(OPERATOR_ZONE).date(), time(), OPERATOR_ZONE)
    rows = session.execute(
        select(MonthlyPass, Holder, Unit).join(Holder, Holder.id == MonthlyPass.holder_id)
        .outerjoin(Unit, Unit.id == Holder.unit_id)
        .where(MonthlyPass.status.in_([PassStatus.ACTIVE.value, PassStatus.SUSPENDED.value, PassStatus.EXPIRED.value]),
               MonthlyPass.valid_to >= start - timedelta(days=7), MonthlyPass.valid_to < start + timedelta(days=1))
        .order_by(MonthlyPass.valid_to, MonthlyPass.id).limit(1000)
    ).all()  # fmt: skip
    due = [(monthly, holder, unit_label(unit)) for monthly, holder, unit in rows if monthly.valid_to >= start]
    lapsed = [(monthly, holder, unit_label(unit)) for monthly, holder, unit in rows if monthly.valid_to < start]
    return pages.render(request, "renewals_today.html", {"due": due, "lapsed": lapsed, "day": start})
