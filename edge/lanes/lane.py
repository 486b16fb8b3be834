"""What entry and exit lanes share: loops, barrier, the read window, passage watching, records, the close guard.

A lane is a pure state machine: :meth:`Lane.handle` takes an event and the time, and returns actions. It never
does I/O and never reads a clock. Two rules are enforced here, in one place each:

* **Safety**: :meth:`Lane._close` is the only way to emit :class:`CloseBarrier`, and it refuses (remembering to
  close later) while the safety loop is occupied or faulted.
* **Durability before motion**: :meth:`Lane._open` is the only way to emit :class:`OpenBarrier`, and it always
  emits the :class:`Commit` of a barrier-command record (with the records that justify it) first.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Literal
from zoneinfo import ZoneInfo

from edge.lanes.actions import (
    Alert,
    CloseBarrier,
    Commit,
    Display,
    Draft,
    LaneAction,
    OpenBarrier,
    Passed,
    TakeSnapshot,
)
from edge.lanes.directory import Directory
from edge.lanes.events import (
    BarrierCommandFailed,
    BarrierPosition,
    BarrierReport,
    CardPresented,
    JournalFailed,
    LaneEvent,
    Loop,
    LoopChanged,
    ManualOpen,
    OperatorCommand,
    PlateSeen,
    Refuse,
    Tick,
)
from edge.lanes.identify import Identity, identify
from edge.lanes.park import ParkState, Session
from edge.lanes.reads import ReadBinder
from parking.ids import new_id
from parking.plates import PlateReadSample, consensus
from parking.wire import RecordKind

_LOGGER = logging.getLogger(__name__)


class Phase(StrEnum):
    IDLE = "idle"  # no vehicle
    COLLECTING = "collecting"  # a vehicle on the arming loop, reads being gathered
    DISPENSING = "dispensing"  # waiting for the dispenser to issue a temporary card
    WAITING = "waiting"  # waiting for the operator or a payment
    DENIED = "denied"  # refused; waiting for the vehicle to leave the arming loop
    PASSING = "passing"  # barrier opened for a vehicle, waiting for it to cross


@dataclass(frozen=True, slots=True)
class LaneSettings:
    id: str
    car_park: str
    attended: bool = True
    read_window: timedelta = timedelta(seconds=3)
    repeat_window: timedelta = timedelta(seconds=10)  # a decided plate read again this soon after is a repeat
    back_out_settle: timedelta = timedelta(milliseconds=500)  # arming clear this long, safety never reached
    loop_stuck: timedelta = timedelta(minutes=5)  # a loop showing presence this long is reported
    barrier_check: timedelta = timedelta(seconds=1)  # after start, how long the devices get to report
    min_confidence: float = 0.7
    free_vehicles: Literal["automatic", "operator"] = "automatic"
    anti_passback: Literal["hard", "soft", "off"] = "soft"
    ticketless: bool = True
    has_dispenser: bool = False
    has_snapshot: bool = False  # a snapshot camera supplies the evidence image when the reads bring none
    tariff: str | None = None
    currency: str = "CNY"
    timezone: str = "Asia/Shanghai"


@dataclass(slots=True)
class Passage:
    """One opening: what justified it, and what the loops saw while it lasted."""

    record_id: str
    session_id: str | None
    safety_entries: int = 0
    # the safety loop already showed presence at the opening (a stuck detector): the crossing cannot be seen, so an
    # arming loop that clears is taken as the vehicle moving on, never as a back-out that would void its record
    blind: bool = False
    crossed: bool = False  # a vehicle went over the safety loop; the barrier is (being) closed behind it
    tailgating_reported: bool = False


@dataclass(slots=True)
class BarrierWatch:
    position: BarrierPosition = BarrierPosition.CLOSED
    known: bool = False  # a settled position (open or closed) has been reported since this lane started
    expect_open: bool = False
    unexpected_reported: bool = False
    fault_reported: bool = False


class DirectoryHolder:
    """The current lists; the sync replaces :attr:`directory` whole, lanes read it at each decision."""

    def __init__(self, directory: Directory) -> None:
        self.directory = directory


@dataclass(slots=True)
class LaneContext:
    """What a lane shares with the rest of the edge: the car park's state and the current lists."""

    park: ParkState
    lists: DirectoryHolder
    extra: dict[str, Any] = field(default_factory=dict)
    # Why the journal's disk is short of space (None: it is not): temporary vehicles are refused while passes,
    # free vehicles and exits still use the reserve (the daemon watches the free space).
    storage_low: str | None = None


class Lane:
    direction = "lane"

    def __init__(self, settings: LaneSettings, context: LaneContext) -> None:
        self.settings = settings
        self.id = settings.id
        self.context = context
        self.park = context.park
        self.zone = ZoneInfo(settings.timezone)
        self.phase = Phase.IDLE
        self.arming = False
        self.safety = False  # occupied or faulted
        self.safety_faulted = False
        self.barrier = BarrierWatch()
        self.passage: Passage | None = None
        self.close_pending = False
        self.read_deadline: datetime | None = None  # the end of the read window of the vehicle on the arming loop
        self.back_out_at: datetime | None = None  # when an arming loop cleared before the safety loop counts
        self.barrier_check_at: datetime | None = None  # when a barrier found open at start is checked
        self.binder = ReadBinder(settings.read_window, settings.repeat_window)
        self.identity: Identity | None = None
        self.evidence: str | None = None  # image reference of the last decision's reads
        self.snapshot: str | None = None  # the snapshot reserved as this vehicle's evidence (taken once)
        self._snapshots: list[str] = []  # snapshots named in records and not asked of the camera yet
        self.presence_since: dict[Loop, datetime] = {}  # each loop showing presence: since when
        self.stuck_reported: set[Loop] = set()

    # ------------------------------------------------------------------------------------------------ queries

    @property
    def deadline(self) -> datetime | None:
        """The next time this lane needs a :class:`Tick` (None: it waits only for events)."""
        times = [t for t in (self.read_deadline, self.back_out_at, self.barrier_check_at) if t is not None]
        times += [since + self.settings.loop_stuck for loop, since in self.presence_since.items()
                  if loop not in self.stuck_reported]  # fmt: skip
        return min(times) if times else None

    @property
    def busy(self) -> bool:
        """A vehicle is being handled: shutdown waits for this to clear."""
        return self.phase is not Phase.IDLE or self.safety or self.barrier.expect_open

    # ---------------------------------------------------------------------------------------------- dispatch

    def handle(self, event: LaneEvent, now: datetime) -> list[LaneAction]:
        """Feed one event at time ``now`` (aware); return the actions to carry out, in order."""
        actions = self._handle(event, now)
        if self._snapshots:  # named in the records just made: the camera is asked after they are handed over
            actions += [TakeSnapshot(image) for image in self._snapshots]
            self._snapshots = []
        return actions

    def _handle(self, event: LaneEvent, now: datetime) -> list[LaneAction]:
        if isinstance(event, LoopChanged):
            self._presence(event, now)
            if event.loop is Loop.SAFETY:
                return self._on_safety(event, now)
            return self._on_arming(event, now)
        if isinstance(event, PlateSeen):
            kept = self.binder.offer_plate(event, now)
            return self._try_decide(now) if kept and self.phase is Phase.COLLECTING else []
        if isinstance(event, CardPresented):
            kept = self.binder.offer_card(event.number, now, accepting=self._accepting_cards)
            return self._try_decide(now) if kept and self.phase is Phase.COLLECTING else []
        if isinstance(event, BarrierReport):
            return self._on_barrier(event, now)
        if isinstance(event, BarrierCommandFailed):
            return self._on_barrier_failed(event, now)
        if isinstance(event, JournalFailed):
            return self._on_journal_failed(event, now)
        if isinstance(event, Tick):
            return self._on_tick(now)
        if isinstance(event, ManualOpen):
            if self.phase is Phase.PASSING:
                return []
            return self._manual_open(event, now)
        if isinstance(event, Refuse):
            if self.phase in (Phase.PASSING, Phase.IDLE):
                return []
            record = self._manual_record("refuse", event, now)
            self._reset()
            self.phase = Phase.DENIED if self.arming else Phase.IDLE
            if self.phase is Phase.IDLE:
                self.binder.vehicle_left(now)
            return [Commit((record,))]
        return self._on_other(event, now)

    @property
    def _accepting_cards(self) -> bool:
        """Cards are kept only while the lane waits for a vehicle (see :mod:`edge.lanes.reads`)."""
        return self.phase in (Phase.IDLE, Phase.COLLECTING)

    def _presence(self, event: LoopChanged, now: datetime) -> None:
        """When each loop began to show presence (a loop fault is told apart, as ``loop_fault``)."""
        if event.occupied and not event.faulted:
            self.presence_since.setdefault(event.loop, now)
        else:
            self.presence_since.pop(event.loop, None)
            self.stuck_reported.discard(event.loop)

    def _stuck_loops(self, now: datetime) -> list[LaneAction]:
        """A loop showing presence for ``loop_stuck``: journaled and told to the booth, once per presence."""
        actions: list[LaneAction] = []
        for loop, since in self.presence_since.items():
            if loop in self.stuck_reported or now < since + self.settings.loop_stuck:
                continue
            self.stuck_reported.add(loop)
            seconds = round((now - since).total_seconds())
            actions += self._abnormal(now, "loop_stuck", {"loop": loop.value, "since": since.isoformat(),
                                                          "seconds": seconds})  # fmt: skip
            held = ", barrier held open" if loop is Loop.SAFETY and self.close_pending else ""
            message = f"{self.id}: {loop.value} loop shows presence for {seconds} s (stuck detector or a vehicle that"
            actions.append(Alert("loop_stuck", f"{message} does not move){held}", {"loop": loop.value}))
        return actions

    def _on_tick(self, now: datetime) -> list[LaneAction]:
        actions: list[LaneAction] = self._stuck_loops(now)
        if self.barrier_check_at is not None and now >= self.barrier_check_at:
            self.barrier_check_at = None
            actions += self._check_barrier_at_start(now)
        if self.back_out_at is not None and now >= self.back_out_at:
            self.back_out_at = None
            passage = self.passage
            if self.phase is Phase.PASSING and passage is not None and not passage.safety_entries and not self.arming:
                if passage.blind:  # the safety loop could not see it cross: it moved on, its record stands
                    actions += self._passed(now)
                else:
                    actions += self._back_out(now)
                    self.binder.vehicle_left(now, suppress_repeats=False)  # it may come straight back
        if self.phase is Phase.COLLECTING and self.read_deadline is not None and now >= self.read_deadline:
            self.read_deadline = None
            actions += self._on_window_expired(now)
        return actions

    # ----------------------------------------------------------------------------------------------- loops

    def _on_arming(self, event: LoopChanged, now: datetime) -> list[LaneAction]:
        occupied = event.occupied or event.faulted
        was, self.arming = self.arming, occupied
        actions: list[LaneAction] = []
        if event.faulted:
            actions.append(Alert("loop_fault", f"{self.id}: arming loop fault"))
        if occupied and not was:
            self.back_out_at = None  # it came forward again
            if self.phase is Phase.IDLE:
                self.phase = Phase.COLLECTING
                self.read_deadline = now + self.settings.read_window
                actions += self._try_decide(now)
        elif was and not occupied:
            if self.phase is Phase.PASSING and self.passage is not None and self.passage.safety_entries == 0:
                # A back-out only if the safety loop stays clear a moment: a car moving on can clear the arming
                # loop a poll before the safety loop reports it (or in the same poll, reported first).
                self.back_out_at = now + self.settings.back_out_settle
            elif self.phase in (Phase.COLLECTING, Phase.WAITING, Phase.DENIED, Phase.DISPENSING):
                self._reset()
                self.phase = Phase.IDLE
                self.binder.vehicle_left(now)
        return actions

    def _on_safety(self, event: LoopChanged, now: datetime) -> list[LaneAction]:
        was = self.safety
        self.safety = event.occupied or event.faulted
        self.safety_faulted = event.faulted
        actions: list[LaneAction] = []
        if event.faulted:
            actions.append(Alert("loop_fault", f"{self.id}: safety loop fault, barrier held open"))
        if self.safety and not was and self.passage is not None:
            self.back_out_at = None
            self.passage.safety_entries += 1
            if self.passage.crossed:
                # Another vehicle under the barrier raised for the one that already crossed.
                actions += self._tailgating(now)
                self.close_pending = True
        if was and not self.safety:
            passage = self.passage
            if self.phase is Phase.PASSING and passage is not None and not passage.crossed and passage.safety_entries:
                actions += self._passed(now)
            elif self.close_pending:
                actions += self._close(now, "safety loop clear")
        return actions

    def _passed(self, now: datetime) -> list[LaneAction]:
        """The vehicle crossed: close behind it, then serve whoever waits on the arming loop."""
        assert self.passage is not None
        self.passage.crossed = True
        self._reset()
        self.binder.vehicle_left(now)
        actions: list[LaneAction] = [Passed(self.passage.session_id), *self._close(now, "vehicle passed")]
        self.phase = Phase.IDLE
        if self.arming:
            self.phase = Phase.COLLECTING
            self.read_deadline = now + self.settings.read_window
            actions += self._try_decide(now)
        return actions

    # --------------------------------------------------------------------------------------------- barrier

    def _on_barrier(self, event: BarrierReport, now: datetime) -> list[LaneAction]:
        previous, self.barrier.position = self.barrier.position, event.position
        actions: list[LaneAction] = []
        if event.position is BarrierPosition.FAULT:
            if not self.barrier.fault_reported:
                self.barrier.fault_reported = True
                actions += self._abnormal(now, "barrier_fault", {"detail": event.detail})
                actions.append(Alert("barrier_fault", f"{self.id}: barrier fault {event.detail}".strip()))
            return actions
        self.barrier.fault_reported = False
        first = not self.barrier.known
        if event.position in (BarrierPosition.OPEN, BarrierPosition.CLOSED):
            self.barrier.known = True
        if first and event.position is BarrierPosition.OPEN and not self.barrier.expect_open:
            # Up before this edge knew it (a crash or power cut during an opening): not an opening of ours to
            # explain, but one to end once the devices have reported the loops.
            self.barrier_check_at = now + self.settings.barrier_check
            return actions
        if event.position is BarrierPosition.OPEN and previous is not BarrierPosition.OPEN:
            if not self.barrier.expect_open and not self.barrier.unexpected_reported:
                self.barrier.unexpected_reported = True
                actions += self._abnormal(now, "opened_without_command", {"detail": event.detail or "open limit"})
                actions.append(Alert("opened_without_command", f"{self.id}: barrier opened without a command"))
        elif event.position is BarrierPosition.CLOSED:
            self.barrier.unexpected_reported = False
            if self.passage is not None and self.passage.crossed:
                self.passage = None
        return actions

    def _on_barrier_failed(self, event: BarrierCommandFailed, now: datetime) -> list[LaneAction]:
        """The barrier did not take a command. An open that failed before any vehicle crossed is undone like a
        back-out (journalled, the session voided or reopened), and the vehicle is held as if refused: the booth can
        open by hand. A failed close is only told (the barrier watch and the close guard stay as they are)."""
        alert = Alert(f"barrier_{event.command}_failed", f"{self.id}: barrier did not {event.command}: {event.detail}")
        passage = self.passage
        if event.command != "open" or self.phase is not Phase.PASSING or passage is None or passage.safety_entries:
            return [alert]
        self.barrier.expect_open = False
        actions = self._back_out(now, "barrier_open_failed", close=False)
        self.phase = Phase.DENIED if self.arming else Phase.IDLE
        if self.phase is Phase.IDLE:
            self.binder.vehicle_left(now)
        return [*actions, alert]

    def _on_journal_failed(self, event: JournalFailed, now: datetime) -> list[LaneAction]:
        """The last urgent commit was not stored. If it was an opening's, the barrier was never commanded: the
        session opened (or closed) for it is taken back in memory only (there is nothing on disk to void), and the
        vehicle is held, with a message on the display and an alert at the booth. The next vehicle tries again."""
        passage = self.passage
        if self.phase is Phase.PASSING and passage is not None and not passage.safety_entries:
            self.barrier.expect_open = False
            self._undo_opening(passage, now)  # its records would fail as well, and there is nothing to undo on disk
            self.passage = None
            self._after_refused_commit(now)
        return [
            Display(("系统存储故障", "暂停通行 请联系岗亭")),
            Alert("journal", f"{self.id}: the journal cannot store records, vehicle held: {event.detail}"),
        ]

    def _after_refused_commit(self, now: datetime) -> None:
        """The phase of a lane whose opening could not be stored (an exit lane waits on with the fee due)."""
        self._reset()
        self.phase = Phase.DENIED if self.arming else Phase.IDLE
        if self.phase is Phase.IDLE:
            self.binder.vehicle_left(now)

    def _check_barrier_at_start(self, now: datetime) -> list[LaneAction]:
        """The barrier was found open at start: journal it and close it (at once if the safety loop is clear)."""
        if self.barrier.position is not BarrierPosition.OPEN or self.passage is not None or self.barrier.expect_open:
            return []
        details = {"detail": "barrier open when the edge started", "safety_occupied": self.safety,
                   "arming_occupied": self.arming}  # fmt: skip
        return [
            *self._abnormal(now, "barrier_open_at_start", details),
            Alert("barrier_open_at_start", f"{self.id}: barrier found open at start, closing it"),
            *self._close(now, "open at start"),
        ]

    def _open(
        self, now: datetime, reason: str, for_record: str, drafts: list[Draft], session: str | None
    ) -> list[LaneAction]:
        payload = {"command": "open", "for_record": for_record, "reason": reason, "session": session}
        command = self._draft(RecordKind.BARRIER_COMMAND, now, payload)
        self.barrier.expect_open = True
        self.close_pending = False
        self.passage = Passage(command.id, session, blind=self.safety)
        self.phase = Phase.PASSING
        self.read_deadline = None
        return [Commit((*drafts, command)), OpenBarrier(command.id, reason)]

    def _close(self, now: datetime, reason: str) -> list[LaneAction]:
        if self.safety or self.safety_faulted:
            self.close_pending = True
            return []
        self.close_pending = False
        self.barrier.expect_open = False
        record = self._draft(RecordKind.BARRIER_COMMAND, now, {"command": "close", "reason": reason})
        return [CloseBarrier(reason), Commit((record,), urgent=False)]

    # ---------------------------------------------------------------------------------------------- reads

    def _session_by_credential(self, identity: Identity) -> Session | None:
        """The open session of the pass or card that identified this vehicle (plates are matched by each lane)."""
        if identity.pass_record is not None:
            found = self.park.by_pass(identity.pass_record.id)
            if found is not None:
                return found
        if identity.card is not None:
            return self.park.by_card(identity.card)
        return None

    def evidence_image(self) -> str | None:
        """The evidence image of the vehicle in the lane, for a record made outside the lane (the booth's): a
        snapshot reserved here is taken at the lane's next event."""
        return self._evidence_image()

    def _evidence_image(self) -> str | None:
        """The image of the vehicle in the lane: its reads' newest, or the one kept from its decision."""
        image = next((r.image for _, r in reversed(self.binder.reads) if r.image), None) or self.evidence
        if image is None and self.settings.has_snapshot:
            if self.snapshot is None:
                self.snapshot = f"snapshots/{new_id()}.jpg"
                self._snapshots.append(self.snapshot)
            image = self.snapshot
        return image

    def _try_decide(self, now: datetime) -> list[LaneAction]:
        reads = self.binder.usable(now, self.settings.min_confidence)
        card = self.binder.usable_card(now)
        if not reads and card is None:
            return []
        agreed = consensus([PlateReadSample(r.plate, r.confidence) for r in reads], self.settings.min_confidence)
        colour = next((r.colour for r in reversed(reads) if r.colour), None)
        self.identity = identify(
            self.context.lists.directory, agreed, card, now, lane=self.id,
            min_confidence=self.settings.min_confidence, colour=colour,
        )  # fmt: skip
        self.evidence = next((r.image for r in reversed(reads) if r.image), None)  # this vehicle's only
        self.snapshot = None
        record = self.identity.pass_record
        # Decided on a pass's card before the camera read the car: the read that follows is this car's, not the next.
        self.binder.consume(now, tuple(record.plates) if record is not None and card is not None and not reads else ())
        return self._decide(self.identity, now)

    def _reset(self) -> None:
        self.identity = None
        self.read_deadline = None
        self.snapshot = None

    # -------------------------------------------------------------------------------------------- records

    @staticmethod
    def _new_id(now: datetime) -> str:
        return new_id(int(now.timestamp() * 1000))

    def _draft(self, kind: RecordKind, now: datetime, payload: dict[str, Any]) -> Draft:
        return Draft(self._new_id(now), kind, self.id, now, payload)

    def _abnormal(self, now: datetime, event: str, details: dict[str, Any]) -> list[LaneAction]:
        payload: dict[str, Any] = {"event": event, "evidence": self._evidence_image(), **details}
        if self.identity is not None:
            payload.setdefault("identity", self.identity.evidence())
        return [Commit((self._draft(RecordKind.ABNORMAL_EVENT, now, payload),))]

    def _manual_record(self, action: str, command: OperatorCommand, now: datetime, **extra: Any) -> Draft:
        payload: dict[str, Any] = {
            "action": action, "operator": command.operator, "reason": command.reason,
            "evidence": getattr(command, "evidence", None) or self._evidence_image(), **extra,
        }  # fmt: skip
        return self._draft(RecordKind.MANUAL_ACTION, now, payload)

    def _tailgating(self, now: datetime) -> list[LaneAction]:
        if self.passage is None or self.passage.tailgating_reported:
            return []
        self.passage.tailgating_reported = True
        session = self.passage.session_id
        return [
            *self._abnormal(now, "tailgating", {"session": session, "for_record": self.passage.record_id}),
            Alert("tailgating", f"{self.id}: two vehicles on one opening"),
        ]

    # ---------------------------------------------------------------------------------------- for subclasses

    def _decide(self, identity: Identity, now: datetime) -> list[LaneAction]:
        raise NotImplementedError

    def _on_window_expired(self, now: datetime) -> list[LaneAction]:
        raise NotImplementedError

    def _back_out(self, now: datetime, event: str = "back_out", *, close: bool = True) -> list[LaneAction]:
        """The vehicle of the current opening did not go through: undo the opening (:meth:`_undo_opening`),
        journal ``event``, and close the barrier again (unless it never opened)."""
        passage = self.passage
        assert passage is not None
        actions = self._undo_opening(passage, now)
        actions += self._abnormal(now, event, {"session": passage.session_id, "for_record": passage.record_id})
        self.passage = None
        self._reset()
        self.phase = Phase.IDLE
        return [*actions, *self._close(now, "vehicle backed out")] if close else actions

    def _undo_opening(self, passage: Passage, now: datetime) -> list[LaneAction]:
        """What the lane committed for an opening whose vehicle did not go through, taken back."""
        raise NotImplementedError

    def _manual_open(self, command: ManualOpen, now: datetime) -> list[LaneAction]:
        raise NotImplementedError

    def _on_other(self, event: LaneEvent, now: datetime) -> list[LaneAction]:
        return []
