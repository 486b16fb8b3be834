"""The supervisor's reconciliation (2.x): the queue of shifts by state, one shift's reconciliation on one page (the
edge's figures, central's and the counted cash side by side; each exception with its evidence; collectors against
their peers), the sign-off or flag with a note, a car park's day (closed or not, and why), and the evidence images
the edges uploaded. Everything is computed by :mod:`central.reconciliation` on each request, so a difference stays
visible after the decision."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, Response
from sqlalchemy.orm import Session

from central.api.deps import SessionDep, SettingsDep
from central.api.routes.reconciliation import reconcile_settings
from central.core.config import Settings
from central.core.db import utcnow
from central.edge_images import evidence_for, image_path, media_type
from central.models import ShiftReview
from central.office.deps import PagesDep, PostedForm, page
from central.office.finding_labels import BAG_STATES, FEE_LINES, FINDINGS, METHODS, RATES, SHIFT_STATES
from central.office.forms import Form
from central.office.navigation import N_
from central.office.pages.supervision import car_park_zones
from central.office.rendering import redirect
from central.office.sessions import Operator
from central.reconciliation.checks import ShiftResult
from central.reconciliation.loader import DayResult, reconcile_day
from central.reconciliation.review import ReconciliationError, decide, reconcile_one
from central.renewal import OPERATOR_ZONE

router = APIRouter()
Queue = page("reconciliation")
Review = page("shift_review")
Evidence = page("evidence")
MAX_CAR_PARKS = 50  # the queue reconciles each car park's day: a larger operator filters by car park

NOTICES = {"signed_off": N_("The shift is signed off."), "flagged": N_("The shift is flagged with your note.")}
REVIEW_MESSAGES = {
    "review.own_shift": N_("You worked this shift: another supervisor must review it."),
    "review.note_required": N_("Write a note: a flag, or a sign-off of a shift with exceptions, needs one."),
    "review.awaiting_report": N_("The shift has no closing report yet: it cannot be decided."),
}
LABELS = {"findings": FINDINGS, "states": SHIFT_STATES, "rates": RATES, "bag_states": BAG_STATES,
          "methods": METHODS, "fee_lines": FEE_LINES}  # fmt: skip


def _day(filters: Form, zone: ZoneInfo) -> date:
    chosen = filters.date("day", zone=zone)
    return chosen.date() if chosen is not None else utcnow().astimezone(zone).date()


@router.get("/reconciliation")
def queue(
    request: Request, session: SessionDep, pages: PagesDep, settings: SettingsDep, car_park: str = "", day: str = "",
    state: str = "", _operator: Operator = Queue,
) -> Response:  # fmt: skip
    """A day's shifts of every car park (or one), grouped by state: awaiting report, to review, flagged, signed off."""
    filters = Form({"car_park": car_park[:64], "day": day[:10], "state": state[:16]})
    zones = car_park_zones(session)
    chosen = filters.choice("car_park", zones, required=False)
    wanted = filters.choice("state", SHIFT_STATES, required=False)
    on = _day(filters, zones.get(chosen, OPERATOR_ZONE))
    parks = [chosen] if chosen and not filters.errors.get("car_park") else sorted(zones)[:MAX_CAR_PARKS]
    days = [reconcile_day(session, park, on, reconcile_settings(settings), utcnow()) for park in parks]
    groups: dict[str, list[ShiftResult]] = {key: [] for key in SHIFT_STATES}
    for result in days:
        for shift in result.shifts:
            if not wanted or shift.state == wanted:
                groups[shift.state].append(shift)
    context = {"filters": filters, "car_parks": sorted(zones), "day": on, "days": days, "groups": groups,
               "labels": LABELS, "zones": zones, "default_zone": OPERATOR_ZONE, "one_day": timedelta(days=1),
               "truncated": not chosen and len(zones) > MAX_CAR_PARKS}  # fmt: skip
    return pages.render(request, "reconciliation_queue.html", context)


def _evidence(session: Session, settings: Settings, shift: ShiftResult) -> dict[str, dict[str, Any]]:
    """For each record of the shift's findings and listings that names an image: its office address, and whether
    the edge has uploaded it yet."""
    ids = {r for f in shift.findings for r in f.records}
    ids |= {str(line["record"]) for rows in shift.listings.values() for line in rows if line.get("record")}
    out = {}
    for record_id, (edge_id, name) in evidence_for(session, ids).items():
        path = image_path(settings.edge_images_dir, edge_id, name)
        out[record_id] = {"src": f"/office/evidence/{edge_id}/{name}", "name": name,
                          "uploaded": path is not None and path.is_file()}  # fmt: skip
    return out


def shift_context(session: Session, settings: Settings, operator: Operator, day: DayResult, shift: ShiftResult,
                  **extra: Any) -> dict[str, Any]:  # fmt: skip
    """What the shift's page shows: figures side by side, findings with evidence, peers, the review and its form."""
    zone = car_park_zones(session).get(shift.car_park, OPERATOR_ZONE)
    context: dict[str, Any] = {
        "shift": shift, "day": day, "zone": zone, "currency": shift.figures["cash"].get("currency") or "CNY",
        "review": session.get(ShiftReview, shift.shift), "evidence": _evidence(session, settings, shift),
        "labels": LABELS, "form": Form(), "notice": None, "own_shift": operator.username in shift.operators,
        "may_review": operator.role.value == "supervisor", "parse_time": datetime.fromisoformat,
    }  # fmt: skip
    context.update(extra)
    return context


@router.get("/reconciliation/shifts/{shift_id}")
def shift_page(
    shift_id: str, request: Request, session: SessionDep, pages: PagesDep, settings: SettingsDep, done: str = "",
    operator: Operator = Queue,
) -> Response:  # fmt: skip
    try:
        day, shift = reconcile_one(session, shift_id[:64], reconcile_settings(settings), utcnow())
    except ReconciliationError:
        return pages.render(request, "not_found.html", {}, 404)
    context = shift_context(session, settings, operator, day, shift, notice=NOTICES.get(done))
    return pages.render(request, "reconciliation_shift.html", context)


@router.post("/reconciliation/shifts/{shift_id}/review")
def review_shift(
    shift_id: str, request: Request, form: PostedForm, session: SessionDep, pages: PagesDep, settings: SettingsDep,
    operator: Operator = Review,
) -> Response:  # fmt: skip
    """Sign off or flag the shift with the note (the shift's own collector, or whoever worked it, is refused)."""
    decision = form.choice("decision", ("signed_off", "flagged"))
    note = form.text("note", max_length=2000)
    recon = reconcile_settings(settings)
    if form.ok:
        try:
            decide(session, operator.user, shift_id[:64], decision, note, recon, utcnow())
        except ReconciliationError as err:
            session.rollback()
            if err.code == "shift.not_found":
                return pages.render(request, "not_found.html", {}, 404)
            target = "note" if err.code == "review.note_required" else "decision"
            message = REVIEW_MESSAGES.get(err.code)
            if message is None:
                form.refuse(target, N_("Refused: %(detail)s"), detail=err.message)
            else:
                form.refuse(target, message)
        else:
            session.commit()
            return redirect(f"/office/reconciliation/shifts/{shift_id[:64]}", done=decision)
    try:
        day, shift = reconcile_one(session, shift_id[:64], recon, utcnow())
    except ReconciliationError:
        return pages.render(request, "not_found.html", {}, 404)
    status = 403 if "decision" in form.errors and operator.username in shift.operators else 422
    return pages.render(request, "reconciliation_shift.html",
                        shift_context(session, settings, operator, day, shift, form=form), status)  # fmt: skip


@router.get("/reconciliation/days/{car_park}/{day}")
def day_page(
    car_park: str, day: str, request: Request, session: SessionDep, pages: PagesDep, settings: SettingsDep,
    _operator: Operator = Queue,
) -> Response:  # fmt: skip
    """A car park's day: closed when every shift is signed off and every bag deposited; otherwise what is open."""
    zones = car_park_zones(session)
    filters = Form({"day": day[:10]})
    on = filters.date("day", zone=zones.get(car_park, OPERATOR_ZONE))
    if car_park not in zones or on is None:
        return pages.render(request, "not_found.html", {}, 404)
    result = reconcile_day(session, car_park, on.date(), reconcile_settings(settings), utcnow())
    open_shifts = [s for s in result.shifts if s.state != "signed_off"]
    open_bags = [(s, b) for s in result.shifts for b in s.listings["bags"] if b["state"] != "deposited"]
    context = {"result": result, "zone": zones[car_park], "labels": LABELS, "open_shifts": open_shifts,
               "open_bags": open_bags, "one_day": timedelta(days=1)}  # fmt: skip
    return pages.render(request, "reconciliation_day.html", context)


@router.get("/evidence/{edge_id}/{name:path}")
def evidence_image(edge_id: str, name: str, request: Request, pages: PagesDep, settings: SettingsDep,
                   _operator: Operator = Evidence) -> Response:  # fmt: skip
    """An evidence image an edge uploaded, to signed-in supervisors, auditors and admins only."""
    path = image_path(settings.edge_images_dir, edge_id[:64], name[:140])
    if path is None or not path.is_file():
        return pages.render(request, "not_found.html", {}, 404)
    with path.open("rb") as head:
        kind = media_type(head.read(16))
    if kind is None:
        return pages.render(request, "not_found.html", {}, 404)
    return FileResponse(path, media_type=kind, headers={"Cache-Control": "private, max-age=3600",
                                                        "X-Content-Type-Options": "nosniff"})  # fmt: skip
