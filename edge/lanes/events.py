"""What a lane hears: device events (loops, reads, barrier) and operator commands, already normalised.

The device adapters (:mod:`edge.devices.wiring`) turn driver events into these; the booth console turns clicks into the
operator commands. Every operator command names the operator and a reason, so the record it produces says who,
when (the lane's clock) and why.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class Loop(StrEnum):
    ARMING = "arming"  # before the barrier: a vehicle is waiting
    SAFETY = "safety"  # under the barrier: never close on it


@dataclass(frozen=True, slots=True)
class LoopChanged:
    """A loop's presence changed; ``faulted`` (open circuit, detector fault) counts as presence."""

    loop: Loop
    occupied: bool
    faulted: bool = False


@dataclass(frozen=True, slots=True)
class PlateSeen:
    plate: str
    confidence: float
    colour: str | None = None
    camera: str = ""
    image: str | None = None  # a reference to the evidence image (file path or URL), when the camera gave one
    taken_at: datetime | None = None  # the camera's capture time (its own clock), when it gave one
    event_id: str | None = None  # the camera's id of this read: a repeated push carries the same one


@dataclass(frozen=True, slots=True)
class CardPresented:
    number: str
    reader: str = ""


class BarrierPosition(StrEnum):
    OPEN = "open"  # open limit switch made
    CLOSED = "closed"  # closed limit switch made
    MOVING = "moving"  # neither limit
    FAULT = "fault"  # the barrier's fault output, or both limits at once


@dataclass(frozen=True, slots=True)
class BarrierReport:
    position: BarrierPosition
    detail: str = ""


@dataclass(frozen=True, slots=True)
class BarrierCommandFailed:
    """The barrier's driver did not carry out a command (the device did not answer, or answered an error)."""

    command: str  # "open" or "close"
    detail: str = ""


@dataclass(frozen=True, slots=True)
class CardDispensed:
    """The driver took the temporary card (临时卡) the dispenser issued; ``number`` when the dispenser reads it."""

    number: str | None


@dataclass(frozen=True, slots=True)
class DispenserFailed:
    reason: str


@dataclass(frozen=True, slots=True)
class JournalFailed:
    """The journal could not store the lane's last urgent commit (disk full, file gone): nothing of it is stored and
    nothing after it was carried out, so the lane takes back what it did in memory and refuses the vehicle."""

    detail: str = ""


@dataclass(frozen=True, slots=True)
class Tick:
    """Time passed: lets a lane expire its read window and timers."""


@dataclass(frozen=True, slots=True)
class OperatorCommand:
    operator: str
    reason: str


@dataclass(frozen=True, slots=True)
class ManualOpen(OperatorCommand):
    """Open the barrier by hand for the vehicle in the lane (a record is made first, as for any opening)."""

    evidence: str | None = None


@dataclass(frozen=True, slots=True)
class ConfirmVehicle(OperatorCommand):
    """Let the free or special vehicle waiting in the lane through (operator-confirmed lists)."""


@dataclass(frozen=True, slots=True)
class WaiveFee(OperatorCommand):
    """Let the vehicle out without charge as a free or special vehicle of ``category``."""

    category: str = "special"
    evidence: str | None = None


@dataclass(frozen=True, slots=True)
class TakePayment(OperatorCommand):
    """The amount due was paid (cash at the booth, or a pay station / QR payment reported to the lane)."""

    amount: int = 0
    method: str = "cash"


@dataclass(frozen=True, slots=True)
class LostCard(OperatorCommand):
    """The driver lost the temporary card: quote the tariff's lost-card fee."""


@dataclass(frozen=True, slots=True)
class ApplyCoupon(OperatorCommand):
    """A coupon or validation (a shop's stamp, a voucher) the driver hands over at the exit: ``minutes`` free or
    ``amount`` (minor units) off; the lane quotes again with every coupon applied to this vehicle."""

    minutes: int = 0
    amount: int = 0
    code: str = ""


@dataclass(frozen=True, slots=True)
class AttachEntry(OperatorCommand):
    """The operator found the vehicle's entry (search by partial plate and time) and attaches that session."""

    session_id: str = ""


@dataclass(frozen=True, slots=True)
class ResetAntiPassback(OperatorCommand):
    """Void the open session of the credential in the lane, so it may enter (anti-passback reset)."""


@dataclass(frozen=True, slots=True)
class Refuse(OperatorCommand):
    """Send the vehicle away: the lane goes back to idle without opening."""


LaneEvent = (
    LoopChanged
    | PlateSeen
    | CardPresented
    | BarrierReport
    | BarrierCommandFailed
    | JournalFailed
    | CardDispensed
    | DispenserFailed
    | Tick
    | ManualOpen
    | ConfirmVehicle
    | WaiveFee
    | TakePayment
    | LostCard
    | ApplyCoupon
    | AttachEntry
    | ResetAntiPassback
    | Refuse
)
