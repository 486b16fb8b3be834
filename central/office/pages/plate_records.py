"""A data-subject request at the office: a supervisor (or the admin: the API's exporters) enters a plate and the
request it answers, sees every record central holds for that plate — sessions, events, transactions, pictures —
with what a retention purge already removed and until when the rest is kept, and downloads it as JSON (the API's
export, byte for byte the same data) or XLSX.

The lookup is a POST (CSRF-checked) whose answer is the page itself: the plate and the reason never go into an
address (server logs, browser history), and every lookup and every download is a row of the audit log (who, when,
why, which plate), the API's ``plate.export`` rows for downloads.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import Response

from central.api.deps import SessionDep, SettingsDep
from central.api.routes.plates import plate_export
from central.audit import record_change
from central.core.config import Settings
from central.edge_images import image_path
from central.office.deps import PagesDep, PostedForm, page
from central.office.forms import Form
from central.office.navigation import N_
from central.office.pages.supervision import car_park_zones
from central.office.sessions import Operator
from central.privacy import PLATE_MAX, PlateRecords, plate_records, plates_xlsx, requested_plate
from central.renewal import OPERATOR_ZONE
from parking.privacy import IMAGE_KEYS, PERSONAL_KEYS, purge_marker
from parking.wire import unstorable_text

router = APIRouter()
Exporters = page("plate_records")
PATH = "/office/plate-records"
LOOKUP_ACTION = "plate.lookup"
EXPORT_ACTION = "plate.export"  # the API's action: one trail for every export, wherever it was asked
_XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FORMATS = ("json", "xlsx")


@dataclass(frozen=True, slots=True)
class HeldRecord:
    """One record as the page shows it: what it is, its picture, what a purge removed and until when it is kept."""

    edge_id: str
    seq: int
    kind: str
    car_park: str
    lane: str
    at: datetime
    event: str
    session: str
    image: str
    image_held: bool  # the picture file is at central
    images_purged: bool
    events_purged: bool
    images_until: datetime
    events_until: datetime
    zone: ZoneInfo


def _request(form: Form) -> tuple[str, str]:
    """The plate (normalised as the API does) and the reason of a request form; refusals beside their fields."""
    typed = form.text("plate", max_length=PLATE_MAX, required=True)
    reason = form.reason("reason")
    wanted = ""
    if "plate" not in form.errors:
        if unstorable_text(typed):
            form.refuse("plate", N_("The plate holds a character that cannot be stored."))
        elif (normalised := requested_plate(typed)) is None:
            form.refuse("plate", N_("Plate: %(plate)s is not a plate once normalised (1 to %(max)s characters)."),
                        plate=typed, max=PLATE_MAX)  # fmt: skip
        else:
            wanted = normalised
    if "reason" not in form.errors:
        if unstorable_text(reason):
            form.refuse("reason", N_("The text contains a NUL character."))
        elif len(reason) < 3:
            form.refuse("reason", N_("Say why: the reason goes into the audit log."))
    return wanted, reason


def _held(found: PlateRecords, settings: Settings, zones: dict[str, ZoneInfo]) -> list[HeldRecord]:
    retention = settings.retention
    held = []
    for record in found.records:
        payload = record.payload if isinstance(record.payload, dict) else {}
        marker = purge_marker(payload) or {}
        removed = {str(f).rsplit(".", 1)[-1].split("[", 1)[0] for f in marker.get("fields") or []}
        image = payload.get("image") or payload.get("evidence") or ""
        path = image_path(settings.edge_images_dir, record.edge_id, image) if isinstance(image, str) and image else None
        held.append(HeldRecord(
            edge_id=record.edge_id, seq=record.seq, kind=record.kind, car_park=record.car_park, lane=record.lane or "",
            at=record.at, event=str(payload.get("event") or ""), session=str(payload.get("session") or ""),
            image=image if isinstance(image, str) else "", image_held=path is not None and path.is_file(),
            images_purged=bool(removed & IMAGE_KEYS),
            events_purged=bool(marker.get("events") or removed & PERSONAL_KEYS),
            images_until=record.at + timedelta(days=retention.images_days),
            events_until=record.at + timedelta(days=retention.events_days),
            zone=zones.get(record.car_park, OPERATOR_ZONE),
        ))  # fmt: skip
    return held


def _sessions(held: list[HeldRecord]) -> list[dict[str, Any]]:
    """The vehicle's visits: each session id with its first and last record and how many records it has."""
    sessions: dict[str, dict[str, Any]] = {}
    for record in held:
        if not record.session:
            continue
        seen = sessions.setdefault(record.session, {"id": record.session, "car_park": record.car_park,
                                                    "first": record, "last": record, "records": 0})  # fmt: skip
        seen["records"] += 1
        if record.at < seen["first"].at:
            seen["first"] = record
        if record.at > seen["last"].at:
            seen["last"] = record
    return sorted(sessions.values(), key=lambda s: s["first"].at)


def _audit(session: SessionDep, operator: Operator, action: str, found: PlateRecords, reason: str,
           **extra: str) -> None:  # fmt: skip
    record_change(session, operator.user, action, "plate", found.plate, None,
                  {**extra, "via": "office", "records": len(found.records), "transactions": len(found.transactions),
                   "images": len(found.images)}, reason=reason)  # fmt: skip
    session.commit()


def _page(request: Request, pages: PagesDep, form: Form | None, status: int = 200, **context: Any) -> Response:
    base: dict[str, Any] = {"form": form, "found": None, "held": [], "sessions": [], "formats": FORMATS,
                            "retention": None, "plate": "", "reason": "", "zones": {},
                            "default_zone": OPERATOR_ZONE}  # fmt: skip
    return pages.render(request, "plate_records.html", base | context, status)


@router.get("/plate-records")
def request_form(request: Request, pages: PagesDep, _operator: Operator = Exporters) -> Response:
    """The empty request form."""
    return _page(request, pages, None)


@router.post("/plate-records")
def look_up(request: Request, form: PostedForm, session: SessionDep, settings: SettingsDep, pages: PagesDep,
            operator: Operator = Exporters) -> Response:  # fmt: skip
    """The records held for the plate, the lookup audited with its reason."""
    wanted, reason = _request(form)
    if not form.ok:
        return _page(request, pages, form, 422)
    found = plate_records(session, wanted)
    _audit(session, operator, LOOKUP_ACTION, found, reason)
    zones = car_park_zones(session)
    held = _held(found, settings, zones)
    return _page(request, pages, form, found=found, held=held, sessions=_sessions(held), zones=zones,
                 retention=settings.retention, plate=wanted, reason=reason)  # fmt: skip


@router.post("/plate-records/export")
def download(request: Request, form: PostedForm, session: SessionDep, pages: PagesDep,
             operator: Operator = Exporters) -> Response:  # fmt: skip
    """The plate's records as a file (JSON: the API's export; XLSX: records, transactions, pictures), audited."""
    wanted, reason = _request(form)
    kind = form.choice("format", FORMATS)
    if not form.ok:
        return _page(request, pages, form, 422)
    found = plate_records(session, wanted)
    _audit(session, operator, EXPORT_ACTION, found, reason, format=kind)
    if kind == "json":
        body = json.dumps(plate_export(found).model_dump(mode="json"), ensure_ascii=False, indent=1).encode()
        media = "application/json"
    else:
        body, media = plates_xlsx(found), _XLSX
    headers = {"Content-Disposition": f'attachment; filename="plate-records.{kind}"', "Cache-Control": "no-store"}
    return Response(body, media_type=media, headers=headers)
