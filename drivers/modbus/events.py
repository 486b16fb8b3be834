"""Typed events and commands of the Modbus drivers (barrier I/O module and loop detector)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from drivers.health import HealthChange


class LoopRole(StrEnum):
    ARMING = "arming_loop"  # before the barrier: a vehicle is waiting
    SAFETY = "safety_loop"  # under the barrier: never close while present


class BarrierPosition(StrEnum):
    OPEN = "open"
    CLOSED = "closed"
    MOVING = "moving"  # between the limits
    FAULT = "fault"  # fault input, or both limits at once
    UNKNOWN = "unknown"  # no limit switch wired


@dataclass(frozen=True, slots=True)
class BarrierStatus:
    """The barrier controller's status inputs; ``None`` where the point is not wired."""

    open_limit: bool | None = None
    closed_limit: bool | None = None
    fault: bool | None = None
    obstacle: bool | None = None

    @property
    def position(self) -> BarrierPosition:
        if self.fault or (self.open_limit and self.closed_limit):
            return BarrierPosition.FAULT
        if self.open_limit:
            return BarrierPosition.OPEN
        if self.closed_limit:
            return BarrierPosition.CLOSED
        if self.open_limit is None and self.closed_limit is None:
            return BarrierPosition.UNKNOWN
        return BarrierPosition.MOVING


@dataclass(frozen=True, slots=True)
class BarrierChanged:
    """A barrier status input changed (or the first reading after a (re)connect, with ``previous`` None)."""

    device: str
    status: BarrierStatus
    previous: BarrierStatus | None
    at: datetime  # UTC, when the poll that saw it returned
    mono: float  # time.monotonic() of the same moment, for elapsed-time measurements


@dataclass(frozen=True, slots=True)
class LoopChanged:
    """A loop's presence or fault changed. ``fault`` names the fault (open-circuit, short-circuit...) or is None."""

    device: str
    loop: LoopRole
    present: bool
    fault: str | None
    at: datetime
    mono: float

    @property
    def occupied_or_faulted(self) -> bool:
        """What safety logic must use: a faulty loop counts as occupied."""
        return self.present or self.fault is not None


@dataclass(frozen=True, slots=True)
class VehicleCounted:
    """A loop detector's vehicle counter advanced by ``delta`` to ``count``."""

    device: str
    loop: LoopRole
    count: int
    delta: int
    at: datetime
    mono: float


ModbusEvent = BarrierChanged | LoopChanged | VehicleCounted | HealthChange


@dataclass(frozen=True, slots=True)
class OpenBarrier:
    """Pulse the open contact."""


@dataclass(frozen=True, slots=True)
class CloseBarrier:
    """Pulse the close contact (refused while the safety loop is occupied, faulty or unknown)."""


@dataclass(frozen=True, slots=True)
class HoldOpen:
    """Hold the barrier open (``on``) or release it; idempotent."""

    on: bool = True


BarrierCommand = OpenBarrier | CloseBarrier | HoldOpen
