"""Paying inside (场内扫码): the driver finds their vehicle by part of the plate and a window of the entry time among
the sessions the edge journaled as open, and central quotes it with :mod:`parking.tariff` and the tariff version the
car park's edge sent (by its hash). Only one vehicle is ever shown: a search matching several asks for more.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from central.models import Edge, EdgeRecord, ExitQuote, TariffVersion
from central.payments.orders import paid_for_session
from parking.plates import normalise_plate
from parking.tariff import TariffError, parse_tariff, quote

_LOGGER = logging.getLogger(__name__)

MIN_PLATE_PART = 3
MAX_WINDOW_HOURS = 48
RECORD_SLACK = timedelta(hours=1)  # an entry's record is committed at the entry, give or take a late clock


class SearchRefused(Exception):  # noqa: N818 - an answer for the driver, not a failure
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason  # too_short, window, none, several, no_tariff


@dataclass(frozen=True, slots=True)
class OpenSession:
    session_id: str
    plate: str
    entry_at: datetime
    vehicle_class: str
    paid: int


def find_vehicle(session: Session, car_park: str, plate_part: str, entered_from: datetime,
                 entered_to: datetime) -> OpenSession:  # fmt: skip
    """The one open session whose plate holds ``plate_part`` and whose entry falls in the window."""
    part = normalise_plate(plate_part) if plate_part.strip() else ""
    if len(part) < MIN_PLATE_PART:
        raise SearchRefused("too_short")
    if not entered_from < entered_to or (entered_to - entered_from).total_seconds() > MAX_WINDOW_HOURS * 3600:
        raise SearchRefused("window")
    rows = session.scalars(select(EdgeRecord).where(
        EdgeRecord.car_park == car_park, EdgeRecord.kind == "session",
        EdgeRecord.at >= entered_from - RECORD_SLACK, EdgeRecord.at <= entered_to + RECORD_SLACK,
    ).order_by(EdgeRecord.at).limit(5000))  # fmt: skip
    opened = {}
    for row in rows:
        payload = row.payload
        if payload.get("event") not in ("opened", "reopened"):
            continue
        try:
            entry = datetime.fromisoformat(str(payload.get("entry_at")))
        except ValueError:
            continue
        if entered_from <= entry <= entered_to and part in normalise_plate(str(payload.get("plate") or "")):
            opened[str(payload.get("session"))] = payload
    if opened:
        ended = session.scalars(select(EdgeRecord.payload).where(
            EdgeRecord.car_park == car_park, EdgeRecord.kind == "session", EdgeRecord.at >= entered_from,
        ))  # fmt: skip
        for payload in ended:
            if payload.get("event") in ("closed", "voided"):
                opened.pop(str(payload.get("session")), None)
    if not opened:
        raise SearchRefused("none")
    if len(opened) > 1:
        raise SearchRefused("several")
    [(session_id, payload)] = opened.items()
    return OpenSession(session_id, str(payload.get("plate") or ""), datetime.fromisoformat(str(payload["entry_at"])),
                       str(payload.get("vehicle_class") or "small"),
                       int(payload.get("paid") or 0) + paid_for_session(session, car_park, session_id))  # fmt: skip


def quote_inside(session: Session, car_park: str, vehicle: OpenSession, now: datetime) -> ExitQuote:
    """Quote ``vehicle`` at ``now`` with the newest tariff version the car park's edge sent; stored as a quote with
    no lane (its settlement goes to the edge as a payment ahead)."""
    edges = list(session.scalars(select(Edge.id).where(Edge.car_park_id == car_park)))
    version = session.scalars(select(TariffVersion).where(TariffVersion.source.in_(edges))
                              .order_by(TariffVersion.first_seen_at.desc()).limit(1)).first()  # fmt: skip
    if version is None:
        raise SearchRefused("no_tariff")
    try:
        tariff = parse_tariff(version.content.encode("utf-8"), source=f"tariff {version.sha256[:12]}")
        cls = vehicle.vehicle_class if vehicle.vehicle_class in tariff.classes else tariff.default_class
        result = quote(tariff, vehicle.entry_at, now, cls, paid=vehicle.paid, paid_at=None)
    except TariffError as err:
        _LOGGER.warning("paying inside at %s: the tariff %s does not quote: %s", car_park, version.sha256[:12], err)
        raise SearchRefused("no_tariff") from err
    figures = result.to_json()
    found = ExitQuote(
        car_park_id=car_park, lane_id=None, session_id=vehicle.session_id, plate=vehicle.plate,
        entry_at=vehicle.entry_at, quoted_at=now, tariff_id=version.tariff_id, tariff_hash=version.sha256,
        lines=list(figures.get("lines", [])), paid_before=vehicle.paid, total=int(figures.get("total", 0)),
        currency=str(figures.get("currency", "CNY")), received_at=now,
    )  # fmt: skip
    session.add(found)
    session.commit()
    return found
