"""What a lane asks for: journal commits, barrier commands, display and voice, the dispenser, alerts.

A lane returns actions in the order they must happen. A :class:`Commit` always comes before the
:class:`OpenBarrier` it justifies, and the runner sends an opening only after the commit returned (it stops
executing the list if a commit fails), so every opening is tied to a record already on disk.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from edge.lanes.park import Session
from parking.wire import RecordKind


@dataclass(frozen=True, slots=True)
class Draft:
    """A record not yet in the journal: the journal gives it its place in the chain (seq, prev_hash, hash)."""

    id: str
    kind: RecordKind
    lane: str | None
    at: datetime
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Commit:
    """Write these records to the journal in one transaction. ``urgent=False``: nothing waits for them (a close
    command), so the runner may write them with the next commit instead of waiting."""

    drafts: tuple[Draft, ...]
    urgent: bool = True


@dataclass(frozen=True, slots=True)
class OpenBarrier:
    """Raise the barrier; ``record_id`` is the committed barrier-command record that justifies it."""

    record_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class CloseBarrier:
    """Lower the barrier. A lane only emits this with its safety loop clear and not faulted."""

    reason: str


@dataclass(frozen=True, slots=True)
class Display:
    lines: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class TakeSnapshot:
    """Grab a frame from the lane's snapshot camera and store it as ``image`` (relative to the image folder): the
    evidence image a record already names."""

    image: str


@dataclass(frozen=True, slots=True)
class Voice:
    text: str


@dataclass(frozen=True, slots=True)
class DispenseCard:
    """Issue a temporary card from the lane's dispenser."""


@dataclass(frozen=True, slots=True)
class Alert:
    """Tell the booth: a blacklisted vehicle, a fault, an abnormal event, a vehicle waiting for an operator."""

    kind: str
    message: str
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Decided:
    """A decision was taken (for metrics and logs): ``outcome`` such as ``open``/``deny``/``wait``, with why."""

    outcome: str
    identity: str
    reason: str


@dataclass(frozen=True, slots=True)
class Passed:
    """The vehicle of the current opening crossed the barrier line (the lane's listeners are told: the booth ends
    its payment's reversal window). ``session`` is the session the opening was for, when there was one."""

    session: str | None


@dataclass(frozen=True, slots=True)
class Released:
    """An exit lane let a vehicle go: its transaction (and the closing of its session) is committed, the opening
    follows. ``transaction_kind`` as in the record (``payment``, ``pass``, ``waiver``, ``nothing_due``,
    ``manual_open``); ``by_booth`` when the transaction record is the booth's own (its shift counted it already);
    ``session`` the session closed, when the vehicle had one (the lane's listeners are told: the booth's shift counts
    the exit and a temporary card collected); ``free_pass`` (list, category) for a free or special vehicle the lane
    let through by itself (the shift counts it by category)."""

    transaction_kind: str
    session: Session | None
    by_booth: bool
    # a vehicle of the free or special list let through without the booth: the list and the vehicle's category
    free_pass: tuple[str, str] | None = None


LaneAction = (
    Commit
    | OpenBarrier
    | CloseBarrier
    | Display
    | Voice
    | DispenseCard
    | Alert
    | Decided
    | Passed
    | Released
    | TakeSnapshot
)
