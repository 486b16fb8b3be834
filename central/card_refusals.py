"""Stopped cards and passes presented at the lanes, for the front desk on the holder's page and through the API:
the refusals the edges journaled of cards central stopped (lost, revoked, replaced: "lost card presented at lane X"),
and the stays of vehicles whose pass central had suspended or cancelled (the lane charged them as temporary ones).

An edge records a refusal at an entry as an ``entry_denied`` abnormal event with ``code`` ``lost_card``,
``revoked_card`` or ``replaced_card``, and a stopped card at an exit (the vehicle inside pays as a temporary one) as
``stopped_card_at_exit``; both carry the card's id, number and state as the edge's lists had them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from central.models import EdgeRecord

REFUSALS_SHOWN = 50


@dataclass(frozen=True, slots=True)
class CardRefusal:
    at: datetime
    car_park: str
    lane: str | None
    card_id: str
    card: str
    status: str  # the card's state as the edge's lists had it: lost, revoked, replaced
    at_exit: bool  # an exit: recorded and alerted, the vehicle left paying; an entry: refused
    record: str


def card_refusals(session: Session, card_ids: Sequence[str], limit: int = REFUSALS_SHOWN) -> list[CardRefusal]:
    """The latest presentations of these cards the lanes refused (or, at an exit, reported), newest first."""
    if not card_ids:
        return []
    card_id = EdgeRecord.payload["card_id"].as_string()
    query = (
        select(EdgeRecord).where(EdgeRecord.kind == "abnormal_event", card_id.in_(list(card_ids)))
        .order_by(EdgeRecord.at.desc(), EdgeRecord.id.desc()).limit(limit)
    )  # fmt: skip
    return [_refusal(record) for record in session.scalars(query)]


def _refusal(record: EdgeRecord) -> CardRefusal:
    p = record.payload
    return CardRefusal(
        at=record.at, car_park=record.car_park, lane=record.lane, card_id=str(p.get("card_id")),
        card=str(p.get("card", "")), status=str(p.get("card_status", "")),
        at_exit=p.get("event") == "stopped_card_at_exit", record=record.id,
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class PassPresentation:
    at: datetime
    car_park: str
    lane: str | None
    pass_id: str
    plate: str
    reason: str  # as the lane decided it: "pass suspended: arrears", "pass cancelled", …
    record: str


STOPPED_PASS_DECISIONS = ("pass suspended%", "pass cancelled%")


def pass_presentations(
    session: Session, pass_ids: Sequence[str], limit: int = REFUSALS_SHOWN
) -> list[PassPresentation]:
    """The latest stays opened by a vehicle of these passes while central had the pass suspended or cancelled."""
    if not pass_ids:
        return []
    pass_id = EdgeRecord.payload["identity"]["pass_id"].as_string()
    decision = EdgeRecord.payload["decision"].as_string()
    query = (
        select(EdgeRecord)
        .where(EdgeRecord.kind == "session", pass_id.in_(list(pass_ids)),
               or_(*(decision.like(pattern) for pattern in STOPPED_PASS_DECISIONS)))
        .order_by(EdgeRecord.at.desc(), EdgeRecord.id.desc()).limit(limit)
    )  # fmt: skip
    return [_presentation(record) for record in session.scalars(query)]


def _presentation(record: EdgeRecord) -> PassPresentation:
    p = record.payload
    identity = p.get("identity") or {}
    return PassPresentation(
        at=record.at, car_park=record.car_park, lane=record.lane, pass_id=str(identity.get("pass_id")),
        plate=str(identity.get("plate") or p.get("plate") or ""), reason=str(p.get("decision", "")), record=record.id,
    )  # fmt: skip
