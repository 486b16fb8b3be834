"""The physics behind a simulated lane: a barrier gate, its arming and safety loops, and vehicles crossing.

Everything is driven by the time passed in (``now``, seconds on any monotonic clock): nothing sleeps or reads a
clock here, so tests can run a day of traffic in milliseconds and the device simulators (``io_module``,
``loop_detector``) advance the model to the real time only when a Modbus request reads it.

Lane geometry (metres along the lane, vehicles move towards +x)::

    -1.0        2.0  2.5  2.8  3.0       4.8
      [ arming loop ]  |    [ safety loop ]
                  stop line  boom / photo-eye

A vehicle drives up, stops with its front at the stop line until the barrier is fully open, then drives through.
A vehicle told to :meth:`~LaneModel.back_out` reverses (negative speed) instead: it ignores the stop line, keeps a
metre from the vehicle behind it, and leaves the lane once its front is back past ``LANE_START``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

ARMING_LOOP = (-1.0, 2.0)
SAFETY_LOOP = (2.8, 4.8)
STOP_LINE = 2.5
BOOM = 3.0
LANE_END = 14.0
LANE_START = -10.0  # a reversing vehicle whose front is back past here has left the lane
STEP = 0.01  # physics sub-step, seconds


class Motion(StrEnum):
    STOPPED = "stopped"
    OPENING = "opening"
    CLOSING = "closing"


@dataclass(frozen=True)
class BarrierConfig:
    """Travel time 1-6 s as on real barriers; ``allow_short_travel`` lets tests use e.g. 0.2 s."""

    travel_time_s: float = 3.0
    watchdog_s: float | None = None  # motor-run limit; default 1.5 x travel + 0.5 s
    allow_short_travel: bool = False

    def __post_init__(self) -> None:
        low = 0.05 if self.allow_short_travel else 1.0
        if not low <= self.travel_time_s <= 6.0:
            raise ValueError(f"travel time {self.travel_time_s} s outside {low}..6 s")

    @property
    def watchdog(self) -> float:
        return self.watchdog_s if self.watchdog_s is not None else 1.5 * self.travel_time_s + 0.5


class BarrierModel:
    """A boom moving between 0 (closed) and 1 (open) at constant speed, with limit switches, obstacle reversal,
    injected faults and a motor-run watchdog (a jammed boom that never reaches its limit trips a fault)."""

    def __init__(self, config: BarrierConfig | None = None, *, now: float = 0.0, position: float = 0.0) -> None:
        self.config = config or BarrierConfig()
        self.position = position
        self.motion = Motion.STOPPED
        self.fault: str | None = None
        self.jammed = False
        self.hold = False
        self.obstacle = False  # what stops a closing boom: photo-eye, safety loop
        self.reversals = 0
        self.commands: list[tuple[float, str]] = []  # every command seen, with its time
        self._motor_since = now
        self._last = now

    @property
    def open_limit(self) -> bool:
        return self.position >= 1.0

    @property
    def closed_limit(self) -> bool:
        return self.position <= 0.0

    def _run(self, now: float, motion: Motion) -> None:
        if self.motion is not motion:
            self._motor_since = now
        self.motion = motion

    def command(self, now: float, name: str) -> None:
        """``open``, ``close``, ``hold`` or ``release`` as the controller's contact inputs ask."""
        self.advance(now)
        self.commands.append((now, name))
        if name == "hold":
            self.hold = True
        elif name == "release":
            self.hold = False
            return
        if self.fault is not None:
            return
        if name in ("open", "hold") and not self.open_limit:
            self._run(now, Motion.OPENING)
        elif name == "close" and not self.hold and not self.obstacle and not self.closed_limit:
            self._run(now, Motion.CLOSING)

    def inject_fault(self, now: float, reason: str = "injected fault") -> None:
        self.advance(now)
        self.fault = reason
        self.motion = Motion.STOPPED

    def clear_fault(self, now: float) -> None:
        self.advance(now)
        self.fault = None

    def advance(self, now: float) -> None:
        """Move the boom up to ``now``."""
        dt = now - self._last
        if dt <= 0:
            return
        self._last = now
        if self.motion is Motion.STOPPED:
            return
        if self.motion is Motion.CLOSING and self.obstacle:
            self.reversals += 1
            self._run(now - dt, Motion.OPENING)
        if not self.jammed:
            step = dt / self.config.travel_time_s
            self.position += step if self.motion is Motion.OPENING else -step
        arrived = self.position >= 1.0 if self.motion is Motion.OPENING else self.position <= 0.0
        self.position = min(max(self.position, 0.0), 1.0)
        if arrived:
            self.motion = Motion.STOPPED
        elif now - self._motor_since > self.config.watchdog:
            self.fault = f"motor ran {now - self._motor_since:.1f} s without reaching a limit"
            self.motion = Motion.STOPPED


@dataclass
class LoopModel:
    """An inductive loop as its detector reports it: presence, faults (fail-safe: a fault reads as presence on
    the output), limited presence (the output drops after ``presence_limit_s`` of continuous occupancy) and a
    vehicle counter (counted when the loop becomes occupied)."""

    name: str
    start: float
    end: float
    fault: str | None = None  # "open-circuit", "short-circuit"
    presence_limit_s: float | None = None
    stuck: bool = False  # the detector holds presence with no vehicle on the loop (drift, metal in the slot)
    occupied: bool = False
    occupied_since: float = 0.0
    count: int = 0

    def update(self, now: float, occupied: bool) -> None:
        if occupied and not self.occupied:
            self.occupied_since = now
            self.count += 1
        self.occupied = occupied

    def presence_limited(self, now: float) -> bool:
        limit = self.presence_limit_s
        return self.occupied and limit is not None and now - self.occupied_since > limit

    def output(self, now: float) -> bool:
        """The detect output: presence, or a fault (fail-safe), but not a presence past its time limit; a stuck
        detector reports presence whatever is on the loop."""
        if self.fault is not None or self.stuck:
            return True
        return self.occupied and not self.presence_limited(now)

    def frequency_hz(self) -> int:
        if self.fault == "open-circuit":
            return 0
        return 48_000 if self.fault is None else 250_000


@dataclass
class Vehicle:
    front: float = -8.0
    length: float = 4.5
    speed: float = 4.0  # m/s; negative while reversing

    @property
    def rear(self) -> float:
        return self.front - self.length

    @property
    def reversing(self) -> bool:
        return self.speed < 0

    def back_out(self, speed: float = 2.0) -> None:
        """Reverse at ``speed`` m/s (the driver changed their mind, or was refused)."""
        self.speed = -abs(speed)

    def covers(self, start: float, end: float) -> bool:
        return self.rear < end and self.front > start


@dataclass
class LaneModel:
    """A barrier, an arming loop, a safety loop and the vehicles on the lane; advance it with :meth:`advance`."""

    barrier: BarrierModel = field(default_factory=BarrierModel)
    arming: LoopModel = field(default_factory=lambda: LoopModel("arming_loop", *ARMING_LOOP))
    safety: LoopModel = field(default_factory=lambda: LoopModel("safety_loop", *SAFETY_LOOP))
    vehicles: list[Vehicle] = field(default_factory=list)
    forced_obstacle: bool = False
    passed: int = 0
    backed_out: int = 0  # vehicles that reversed out of the lane
    _last: float | None = None

    def add_vehicle(self, now: float, *, speed: float = 4.0, front: float = -5.0) -> Vehicle:
        """A vehicle appears before the arming loop and drives up to the stop line."""
        self.advance(now)
        vehicle = Vehicle(front=front, speed=speed)
        self.vehicles.append(vehicle)
        return vehicle

    def back_out(self, now: float, vehicle: Vehicle, speed: float = 2.0) -> None:
        """From ``now`` on, ``vehicle`` reverses out of the lane at ``speed`` m/s."""
        self.advance(now)
        vehicle.back_out(speed)

    def photo_eye(self) -> bool:
        return self.forced_obstacle or any(v.covers(BOOM - 0.05, BOOM + 0.05) for v in self.vehicles)

    def obstacle_input(self) -> bool:
        """What the controller's obstacle output reports (photo-eye blocked)."""
        return self.photo_eye()

    def _step(self, t: float, dt: float) -> None:
        self.barrier.obstacle = self.photo_eye() or self.safety.output(t)
        self.barrier.advance(t)
        ahead: Vehicle | None = None
        queue = sorted(self.vehicles, key=lambda v: -v.front)
        for index, vehicle in enumerate(queue):
            if vehicle.reversing:
                behind = queue[index + 1] if index + 1 < len(queue) else None
                floor = -1e9 if behind is None else behind.front + 1.0 + vehicle.length
                vehicle.front = min(vehicle.front, max(vehicle.front + vehicle.speed * dt, floor))
                ahead = vehicle
                continue
            limit = LANE_END + 100 if ahead is None else ahead.rear - 1.0
            if not self.barrier.open_limit and vehicle.front <= STOP_LINE:
                limit = min(limit, STOP_LINE)
            vehicle.front = max(vehicle.front, min(vehicle.front + vehicle.speed * dt, limit))
            ahead = vehicle
        gone = [v for v in self.vehicles if v.rear > LANE_END]
        self.passed += len(gone)
        left = [v for v in self.vehicles if v.reversing and v.front < LANE_START]
        self.backed_out += len(left)
        self.vehicles = [v for v in self.vehicles if v.rear <= LANE_END and v not in left]
        for loop in (self.arming, self.safety):
            loop.update(t, any(v.covers(loop.start, loop.end) for v in self.vehicles))

    def advance(self, now: float) -> None:
        """Run the physics up to ``now`` in small steps."""
        if self._last is None:
            self._last = now
            self.barrier.advance(now)
            return
        t = self._last
        while t < now:
            dt = min(STEP, now - t)
            t += dt
            self._step(t, dt)
        self._last = max(self._last, now)

    def contact(self, now: float, name: str) -> None:
        """The controller saw a contact: ``open``/``close`` pulses, ``hold``/``release`` for hold-open."""
        self.advance(now)
        self.barrier.obstacle = self.photo_eye() or self.safety.output(now)
        self.barrier.command(now, name)

    def inputs(self, now: float) -> dict[str, bool]:
        """Every status point of the lane at ``now`` (what an I/O module's inputs see)."""
        self.advance(now)
        return {
            "open_limit": self.barrier.open_limit,
            "closed_limit": self.barrier.closed_limit,
            "fault": self.barrier.fault is not None,
            "obstacle": self.obstacle_input(),
            "arming_loop": self.arming.output(now),
            "safety_loop": self.safety.output(now),
        }
