"""The car park as the lanes share it: who is inside (open sessions) and occupancy per vehicle class.

Entry lanes open sessions and exit lanes close them; one :class:`ParkState` serves every lane of the edge. It is
rebuilt from the journal's open sessions at start, so it survives restarts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from parking.plates import PlateIndex


class SessionKind(StrEnum):
    TEMPORARY = "temporary"  # 临时车
    PASS = "pass"  # noqa: S105 -- 月租车, not a password
    FREE = "free"  # 免费车辆
    SPECIAL = "special"  # 特殊车辆


@dataclass(slots=True)
class Session:
    """A vehicle's stay, from its entry to its exit."""

    id: str
    kind: SessionKind
    vehicle_class: str
    entry_at: datetime
    entry_lane: str
    plate: str | None = None
    card: str | None = None  # the temporary card issued, or the access card used
    pass_id: str | None = None
    category: str | None = None  # free/special category
    flags: list[str] = field(default_factory=list)
    paid: int = 0  # paid ahead of the exit (pay station, app), minor units
    paid_at: datetime | None = None

    def to_payload(self) -> dict[str, Any]:
        return {
            "session": self.id,
            "session_kind": self.kind.value,
            "vehicle_class": self.vehicle_class,
            "entry_at": self.entry_at.isoformat(),
            "entry_lane": self.entry_lane,
            "plate": self.plate,
            "card": self.card,
            "pass_id": self.pass_id,
            "category": self.category,
            "flags": list(self.flags),
            "paid": self.paid,
            "paid_at": self.paid_at.isoformat() if self.paid_at else None,
        }

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> Session:
        return cls(
            id=payload["session"],
            kind=SessionKind(payload["session_kind"]),
            vehicle_class=payload["vehicle_class"],
            entry_at=datetime.fromisoformat(payload["entry_at"]),
            entry_lane=payload["entry_lane"],
            plate=payload.get("plate"),
            card=payload.get("card"),
            pass_id=payload.get("pass_id"),
            category=payload.get("category"),
            flags=list(payload.get("flags") or ()),
            paid=int(payload.get("paid") or 0),
            paid_at=datetime.fromisoformat(payload["paid_at"]) if payload.get("paid_at") else None,
        )


class ParkState:
    """Open sessions with indexes by plate (fuzzy), card and pass; occupancy per capacity class."""

    def __init__(self, capacity: dict[str, int]) -> None:
        self.capacity = dict(capacity)
        self.sessions: dict[str, Session] = {}
        self.occupancy: dict[str, int] = dict.fromkeys(capacity, 0)
        self._by_plate: PlateIndex[str] = PlateIndex()
        self._by_card: dict[str, str] = {}
        self._by_pass: dict[str, str] = {}

    def capacity_class(self, vehicle_class: str) -> str:
        """The capacity bucket a vehicle class counts against (unknown classes count as small, or the first)."""
        if vehicle_class in self.capacity:
            return vehicle_class
        return "small" if "small" in self.capacity else next(iter(self.capacity))

    def has_room(self, vehicle_class: str) -> bool:
        bucket = self.capacity_class(vehicle_class)
        return self.occupancy[bucket] < self.capacity[bucket]

    def open(self, session: Session) -> None:
        if session.id in self.sessions:
            return
        self.sessions[session.id] = session
        if session.plate:
            self._by_plate.add(session.plate, session.id)
        if session.card:
            self._by_card[session.card] = session.id
        if session.pass_id:
            self._by_pass[session.pass_id] = session.id
        self.occupancy[self.capacity_class(session.vehicle_class)] += 1

    def close(self, session_id: str) -> Session | None:
        """Remove an open session; occupancy falls only for a session that was open (never below zero)."""
        session = self.sessions.pop(session_id, None)
        if session is None:
            return None
        if session.plate:
            self._by_plate.remove(session.plate, session.id)
        if session.card and self._by_card.get(session.card) == session.id:
            del self._by_card[session.card]
        if session.pass_id and self._by_pass.get(session.pass_id) == session.id:
            del self._by_pass[session.pass_id]
        bucket = self.capacity_class(session.vehicle_class)
        self.occupancy[bucket] = max(0, self.occupancy[bucket] - 1)
        return session

    def by_plate(self, plate: str, min_similarity: float = 0.0) -> list[tuple[Session, float]]:
        """Open sessions whose plate is like ``plate``, best first."""
        return [(self.sessions[m.value], m.similarity) for m in self._by_plate.lookup(plate, min_similarity)]

    def by_card(self, card: str) -> Session | None:
        sid = self._by_card.get(card)
        return self.sessions.get(sid) if sid else None

    def by_pass(self, pass_id: str) -> Session | None:
        sid = self._by_pass.get(pass_id)
        return self.sessions.get(sid) if sid else None

    def search(self, partial_plate: str, since: datetime | None = None, until: datetime | None = None) -> list[Session]:
        """The operator's search for a missing entry: open sessions whose plate contains ``partial_plate``."""
        needle = partial_plate.strip().upper()
        found = [
            s
            for s in self.sessions.values()
            if s.plate
            and needle in s.plate
            and (since is None or s.entry_at >= since)
            and (until is None or s.entry_at <= until)
        ]
        return sorted(found, key=lambda s: s.entry_at)
