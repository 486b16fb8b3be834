"""The supervisor's pages that exist before reconciliation: the shift reports the edges sent, the audit log and
the hash-chain breaks, each with its filters. (The reconciliation queue and one shift's reconciliation come with
the reconciliation issue: see the slot in :mod:`central.office.navigation`.)"""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import select

from central.api.deps import SessionDep
from central.fault_reports import fault_reports
from central.models import AuditEntry, CarPark, ChainBreak, EdgeShiftReport
from central.office.deps import PagesDep, page
from central.office.forms import Form
from central.office.paging import Paging
from central.office.sessions import Operator
from central.renewal import OPERATOR_ZONE

router = APIRouter()
Shifts = page("supervisor")
Audit = page("audit")
Breaks = page("chain_breaks")


def car_park_zones(session: SessionDep) -> dict[str, ZoneInfo]:
    """Each car park's zone (the operator's where the name is not a zone), to show its times as it lives them."""
    zones = {}
    for car_park in session.scalars(select(CarPark).limit(1000)):
        try:
            zones[car_park.id] = ZoneInfo(car_park.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            zones[car_park.id] = OPERATOR_ZONE
    return zones


@router.get("/supervisor")
def shift_reports(
    request: Request, session: SessionDep, pages: PagesDep, car_park: str = "", since: str = "", until: str = "",
    validity: str = "", page: int = 1, _operator: Operator = Shifts,
) -> Response:  # fmt: skip
    """Shift reports newest first, by car park, closing day (local) and whether they validated."""
    filters = Form({"car_park": car_park[:64], "since": since[:10], "until": until[:10], "validity": validity[:8]})
    start, end = filters.date("since"), filters.date("until")
    paging: Paging[EdgeShiftReport] = Paging.of("/office/supervisor", page, **filters.data)
    query = select(EdgeShiftReport).order_by(EdgeShiftReport.at.desc(), EdgeShiftReport.record_id)
    if filters.raw("car_park"):
        query = query.where(EdgeShiftReport.car_park == filters.raw("car_park"))
    if start:
        query = query.where(EdgeShiftReport.at >= start)
    if end:
        query = query.where(EdgeShiftReport.at < end + timedelta(days=1))
    if validity in ("valid", "invalid"):
        query = query.where(EdgeShiftReport.valid.is_(validity == "valid"))
    rows = list(session.scalars(query.limit(paging.fetch).offset(paging.offset)))
    zones = car_park_zones(session)
    faults = fault_reports(session, car_park=filters.raw("car_park") or None)  # the latest, whatever the days
    context = {"filters": filters, "reports": paging.take(rows), "zones": zones, "car_parks": sorted(zones),
               "default_zone": OPERATOR_ZONE, "faults": faults}  # fmt: skip
    return pages.render(request, "shift_reports.html", context)


@router.get("/audit")
def audit_log(
    request: Request, session: SessionDep, pages: PagesDep, entity: str = "", entity_id: str = "", username: str = "",
    action: str = "", since: str = "", until: str = "", page: int = 1, _operator: Operator = Audit,
) -> Response:  # fmt: skip
    """Changes newest first, by entity and id, user, action (prefix: ``card.`` finds every card action) and day."""
    filters = Form({"entity": entity[:32], "entity_id": entity_id[:64], "username": username[:64],
                    "action": action[:64], "since": since[:10], "until": until[:10]})  # fmt: skip
    start, end = filters.date("since"), filters.date("until")
    paging: Paging[AuditEntry] = Paging.of("/office/audit", page, **filters.data)
    query = select(AuditEntry).order_by(AuditEntry.id.desc())
    for name, column in (("entity", AuditEntry.entity), ("entity_id", AuditEntry.entity_id),
                         ("username", AuditEntry.username)):  # fmt: skip
        if value := filters.raw(name).replace("\x00", "").strip():
            query = query.where(column == value)
    if value := filters.raw("action").replace("\x00", "").strip():
        query = query.where(AuditEntry.action.startswith(value, autoescape=True))
    if start:
        query = query.where(AuditEntry.at >= start)
    if end:
        query = query.where(AuditEntry.at < end + timedelta(days=1))
    rows = list(session.scalars(query.limit(paging.fetch).offset(paging.offset)))
    return pages.render(request, "audit.html", {"filters": filters, "entries": paging.take(rows)})


@router.get("/chain-breaks")
def chain_breaks(request: Request, session: SessionDep, pages: PagesDep, edge_id: str = "", page: int = 1,
                 _operator: Operator = Breaks) -> Response:  # fmt: skip
    filters = Form({"edge_id": edge_id[:64]})
    paging: Paging[ChainBreak] = Paging.of("/office/chain-breaks", page, **filters.data)
    query = select(ChainBreak).order_by(ChainBreak.id.desc())
    if value := filters.raw("edge_id").replace("\x00", "").strip():
        query = query.where(ChainBreak.edge_id == value)
    rows = list(session.scalars(query.limit(paging.fetch).offset(paging.offset)))
    return pages.render(request, "chain_breaks.html", {"filters": filters, "breaks": paging.take(rows)})
