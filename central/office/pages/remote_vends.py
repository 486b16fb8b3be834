"""Remote vend at the office: an operator opens an unattended lane for a driver on the intercom, with a reason.
The request is kept and audited (who, when, why); the car park's edge journals the opening as a manual open on its
next poll — counted in reconciliation like one — and the list shows when it was carried out and how."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import select

from central.api.deps import SessionDep
from central.errors import ApiError
from central.models import Lane, RemoteVend
from central.office.deps import PagesDep, PostedForm, page
from central.office.forms import Form
from central.office.navigation import N_, PAGES
from central.office.pages.supervision import car_park_zones
from central.office.rendering import redirect
from central.office.sessions import Operator
from central.remote_vends import request_vend
from central.renewal import OPERATOR_ZONE

router = APIRouter()
Readers = page("remote_vends")
Openers = page("remote_vend_open")
OUTCOMES = {"opened": N_("opened"), "lane_unknown": N_("no such lane at the edge"),
            "lane_busy": N_("lane busy: ask again")}  # fmt: skip
NOTICES = {"requested": N_("The remote vend is on its way: the edge opens the lane on its next poll.")}


def _exits(session: SessionDep) -> dict[str, Lane]:
    """The exit lanes central knows, by ``car park/lane`` (the form's value)."""
    lanes = session.scalars(select(Lane).where(Lane.direction == "exit").order_by(Lane.car_park_id, Lane.id))
    return {f"{lane.car_park_id}/{lane.id}": lane for lane in lanes}


def _context(session: SessionDep, operator: Operator, car_park: str, form: Form | None) -> dict[str, object]:
    zones = car_park_zones(session)
    query = select(RemoteVend).order_by(RemoteVend.id.desc()).limit(100)
    if car_park:
        query = query.where(RemoteVend.car_park_id == car_park)
    exits = [(key, f"{lane.car_park_id} · {lane.name or lane.id}") for key, lane in _exits(session).items()]
    return {"vends": list(session.scalars(query)), "zones": zones, "car_parks": sorted(zones), "notice": None,
            "default_zone": OPERATOR_ZONE, "lanes": exits, "form": form, "car_park": car_park,
            "outcomes": OUTCOMES, "may_open": operator.role in PAGES["remote_vend_open"].roles}  # fmt: skip


@router.get("/remote-vends")
def remote_vends(request: Request, session: SessionDep, pages: PagesDep, car_park: str = "", done: str = "",
                 operator: Operator = Readers) -> Response:  # fmt: skip
    """Recent remote vends, newest first, and (for those who may) the form to open a lane."""
    context = _context(session, operator, car_park[:64], None) | {"notice": NOTICES.get(done)}
    return pages.render(request, "remote_vends.html", context)


@router.post("/remote-vends")
def open_lane(request: Request, form: PostedForm, session: SessionDep, pages: PagesDep,
              operator: Operator = Openers) -> Response:  # fmt: skip
    where = form.choice("lane", _exits(session))
    reason = form.reason("reason")
    if form.ok and len(reason) < 3:
        form.refuse("reason", N_("Say why: the reason goes into the audit log."))
    if form.ok:
        car_park, lane = where.split("/", 1)
        try:
            request_vend(session, operator.user, car_park=car_park, lane=lane, reason=reason)
        except ApiError as err:
            session.rollback()
            form.refuse("lane", err.message)
        else:
            session.commit()
            return redirect("/office/remote-vends", car_park=car_park, done="requested")
    return pages.render(request, "remote_vends.html", _context(session, operator, "", form), 422)
