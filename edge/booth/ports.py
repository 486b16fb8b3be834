"""What the booth desk is given, as narrow ports: the lanes it may drive and the part of the journal it reads.

The desk (:mod:`edge.booth.desk`) is built from these plus its booth, operators, printers and clock; the daemon
(:mod:`edge.daemon`) implements them over its lanes, runners, writer and journal. A test builds the desk over a
few lanes of its own without any daemon.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

from edge.lanes.actions import Draft, LaneAction
from edge.lanes.events import LaneEvent
from edge.lanes.lane import Lane
from edge.lanes.park import ParkState


class LaneControl(Protocol):
    """The lanes as the desk and its screens see them: feed one an event, read its state, commit drafts."""

    @property
    def park(self) -> ParkState:
        """The vehicles inside (the sessions the lanes share)."""
        ...

    def lane_ids(self) -> Sequence[str]:
        """The lanes of the desk's booth, in the site file's order (the desk drives and shows only these)."""
        ...

    def lane(self, lane_id: str) -> Lane | None:
        """The lane's state machine, to read its state (``None``: no such lane, or another booth's). Only :meth:`feed`
        changes it."""
        ...

    def lane_name(self, lane_id: str) -> str:
        """The lane's name for the screens."""
        ...

    def device_health(self, lane_id: str) -> list[dict[str, str]]:
        """Each device of the lane with its health (``device``, ``slot``, ``health``, ``reason``)."""
        ...

    def out_of_service(self, lane_id: str) -> str | None:
        """Why the lane stopped taking events, or ``None`` while it works."""
        ...

    async def feed(self, lane_id: str, event: LaneEvent) -> list[LaneAction]:
        """Handle one event in the lane (as its devices' events are) and answer the actions it carried out."""
        ...

    async def commit(self, drafts: Sequence[Draft]) -> None:
        """Commit records to the journal (raises :class:`edge.store.journal.JournalError`)."""
        ...


class BoothJournal(Protocol):
    """The queries the desk needs of the journal to rebuild itself after a restart."""

    def booth_payloads(self, booth: str) -> Iterable[Mapping[str, Any]]:
        """The payloads of the booth's shift records, in journal order."""
        ...

    def entry_images(self, sessions: Sequence[str]) -> dict[str, str]:
        """The entry image reference of each of these sessions that has one (session id -> reference)."""
        ...
