"""What the booth sees of the lanes besides their state machines: the records they commit (told by
:class:`ObservedWriter`), the last plate read and its image, a short history per lane for the screen."""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from edge.booth.alerts import raise_alert
from edge.booth.shift import Clock, ShiftState
from edge.lanes.actions import Alert, Draft, Released
from edge.lanes.events import LaneEvent, PlateSeen
from edge.lanes.park import SessionKind
from edge.store.writer import JournalWriter
from parking.money import format_amount
from parking.wire import JournalRecord, RecordKind

if TYPE_CHECKING:
    from edge.booth.booth import Booth

_LOGGER = logging.getLogger(__name__)
HISTORY = 8


class ObservedWriter(JournalWriter):
    """The journal writer that tells listeners each batch of drafts once it is committed (deferred records, which
    nothing waits for, such as a close command, when they are handed to the writer)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.listeners: list[Callable[[Sequence[Draft]], None]] = []

    async def commit(self, drafts: Sequence[Draft]) -> list[JournalRecord]:
        records = await super().commit(drafts)
        self._tell(drafts)
        return records

    def defer(self, drafts: Sequence[Draft]) -> None:
        super().defer(drafts)
        self._tell(drafts)

    def _tell(self, drafts: Sequence[Draft]) -> None:
        for listener in self.listeners:
            try:
                listener(drafts)
            except Exception:
                _LOGGER.exception("commit listener failed")


def line_label(line: Mapping[str, Any], currency: str) -> str:
    """A tariff breakdown line as one short label: ``stay 1×60min@5.00 + 1×60min@2.00``."""
    label = str(line.get("note") or line.get("kind") or "fee")
    units = line.get("units") or []
    if units:
        parts = [f"{u['units']}×{u['unit_minutes']}min@{format_amount(u['unit_price'], currency)}" for u in units]
        label = f"{line.get('kind', 'fee')} " + " + ".join(parts)
    return label


@dataclass
class LaneWatch:
    """What the desk remembers of a lane beyond its state machine: the last plate read and its image."""

    plate: str | None = None
    confidence: float = 0.0
    image: str | None = None
    read_at: datetime | None = None
    pending_payment: str | None = None  # the booth payment whose vehicle has not crossed yet
    history: deque[tuple[datetime, str, str]] = field(default_factory=lambda: deque(maxlen=HISTORY))


def history_line(draft: Draft, currency: str) -> tuple[str, str] | None:
    """A committed record as (kind, text) for a lane's history on the screen; ``None`` for what is not shown."""
    p = draft.payload
    plate = p.get("plate") or ""
    if draft.kind is RecordKind.TRANSACTION:
        kind = str(p.get("transaction_kind", "transaction"))
        amount = p.get("amount")
        money = format_amount(int(amount), currency) if isinstance(amount, int) and amount else ""
        extra = p.get("method") or p.get("category") or ""
        return kind, " ".join(str(x) for x in (plate, money, extra) if x)
    if draft.kind is RecordKind.MANUAL_ACTION:
        return str(p.get("action", "manual")), f"{p.get('operator', '')}: {p.get('reason', '')}"
    if draft.kind is RecordKind.ABNORMAL_EVENT:
        return "abnormal", str(p.get("event", ""))
    return None


def card_issued(payload: Mapping[str, Any]) -> bool:
    """A session record of a temporary card the entry's dispenser issued (not one the driver presented)."""
    identity = payload.get("identity") or {}
    temporary = payload.get("event") == "opened" and payload.get("session_kind") == "temporary"
    return temporary and bool(payload.get("card")) and not identity.get("card")


class LaneObservations:
    """The booth desk's ears on the lanes: plate reads (for the screens), and the committed records that tell the
    shift what the lanes did without the booth (a pass holder leaving, barrier cycles, abnormal events, cards)."""

    clock: Clock
    booth: Booth
    currency: str
    staffed: list[str]
    watches: dict[str, LaneWatch]
    entry_images: dict[str, str]
    lane_alerts: list[dict[str, Any]]

    def changed(self) -> None:
        raise NotImplementedError

    def lane_event(self, lane_id: str, event: LaneEvent) -> None:
        """Every event the daemon gives a lane: remember plate reads (with their images) for the screens."""
        watch = self.watches.get(lane_id)
        if watch is None:
            return
        if isinstance(event, PlateSeen):
            watch.plate, watch.confidence, watch.image = event.plate, event.confidence, event.image
            watch.read_at = self.clock()
        self.changed()

    def committed(self, drafts: Sequence[Draft]) -> None:
        """A batch of records reached the journal: tell the shift what the lanes did without the booth."""
        shift = self.booth.current
        observing = shift is not None and shift.state in (ShiftState.OPEN, ShiftState.CLOSING)
        for draft in drafts:
            lane, payload = draft.lane, draft.payload
            line = history_line(draft, self.currency) if lane in self.watches else None
            if lane is not None and line is not None:
                self.watches[lane].history.appendleft((draft.at, *line))
            if draft.kind is RecordKind.SESSION and payload.get("event") == "opened" and lane in self.watches:
                image = payload.get("image") or self.watches[lane].image
                if image:
                    self.entry_images[str(payload["session"])] = image
            mine = lane in self.watches  # a lane of this booth (the others are other booths')
            if draft.kind is RecordKind.SESSION and observing and shift is not None and mine and card_issued(payload):
                shift.observe_card_issued("entry")
            if draft.kind is RecordKind.ABNORMAL_EVENT and payload.get("code") == "full":
                plate = str((payload.get("identity") or {}).get("plate") or "")
                raise_alert(self.lane_alerts, "car_park_full", lane, f"{lane}: {payload.get('reason', '')} {plate}",
                            self.clock(), {"plate": plate, "evidence": payload.get("evidence")})  # fmt: skip
            if lane not in self.staffed or not observing or shift is None:
                continue
            if draft.kind is RecordKind.BARRIER_COMMAND:
                if payload.get("command") == "open":
                    shift.observe_barrier_cycle()
            elif draft.kind is RecordKind.ABNORMAL_EVENT:
                shift.observe_abnormal(str(payload.get("event")))
        self.changed()

    def released(self, lane: str, release: Released) -> None:
        """An exit lane let a vehicle go (:class:`edge.runner.LaneListener`): a staffed lane's shift counts the exit
        by its vehicle class (unless the booth made the transaction, which the shift counted when it did) and the
        temporary card collected from it."""
        shift = self.booth.current
        if lane not in self.staffed or shift is None or shift.state not in (ShiftState.OPEN, ShiftState.CLOSING):
            return
        session = release.session
        if session is not None and session.card and session.kind is SessionKind.TEMPORARY:
            shift.observe_card_collected()
        if not release.by_booth:
            shift.observe_exit(session.vehicle_class if session else "small", release.transaction_kind)
        if release.free_pass is not None:
            shift.observe_free_pass(*release.free_pass)
        self.changed()

    def alerted(self, lane: str, alert: Alert) -> None:
        """A lane's alert (:class:`edge.runner.LaneListener`), on the booth's alert list until a collector
        acknowledges it (:mod:`edge.booth.alerts`); what it is about is journaled by the lane itself."""
        raise_alert(self.lane_alerts, alert.kind, lane, alert.message, self.clock(), alert.details)
        self.changed()

    def passed(self, lane: str, session: str | None) -> None:
        """A vehicle crossed a lane's barrier line (:class:`edge.runner.LaneListener`): a booth payment for it can no
        longer be reversed."""
        shift = self.booth.current
        watch = self.watches.get(lane)
        if watch is None or lane not in self.staffed or shift is None or watch.pending_payment is None:
            return
        if shift.state in (ShiftState.OPEN, ShiftState.CLOSING):
            shift.vehicle_left(watch.pending_payment)
            watch.pending_payment = None
        self.changed()
