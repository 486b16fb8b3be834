"""Stopped cards presented at the lanes: the refusals the edges journaled of cards central stopped (lost, revoked,
replaced), for the front desk ("lost card presented at lane X") on the holder's page and through the cards API.

An edge records a refusal at an entry as an ``entry_denied`` abnormal event with ``code`` ``lost_card``,
``revoked_card`` or ``replaced_card``, and a stopped card at an exit (the vehicle inside pays as a temporary one) as
``stopped_card_at_exit``; both carry the card's id, number and state as the edge's lists had them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
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
