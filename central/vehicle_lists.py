"""Adding a plate to a vehicle list (free, special, blacklist): the step the API and the office console share.

The caller commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from central.audit import record_change, snapshot
from central.core.db import utcnow
from central.issuing import normalise_plate
from central.models import User, VehicleListEntry
from central.publication import publish_vehicle
from parking.ids import new_id

# The usual categories exempt by local rules; a free vehicle must be one of them.
FREE_CATEGORIES = frozenset({"police", "military", "fire", "ambulance", "rescue", "government", "staff"})


def add_vehicle_entry(
    session: Session, user: User | None, *, list_kind: str, plate: str, category: str, reason: str,
    car_parks: Sequence[str], valid_from: datetime | None, valid_to: datetime | None,
) -> VehicleListEntry:  # fmt: skip
    """A new list entry, published to the edges and audited (``reason`` is the entry's own, kept on it)."""
    entry = VehicleListEntry(
        id=new_id(), list_kind=list_kind, plate=normalise_plate(plate) or plate, category=category, reason=reason,
        car_parks=sorted(set(car_parks)), valid_from=valid_from or utcnow(), valid_to=valid_to,
    )  # fmt: skip
    session.add(entry)
    session.flush()
    publish_vehicle(session, entry)
    record_change(session, user, "vehicle.add", "vehicle", entry.id, None, snapshot(entry))
    return entry
