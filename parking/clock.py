"""The time of day the whole system reads: the real UTC clock, or an accelerated one shared by the processes of a
simulated run.

An accelerated clock starts at a given instant and runs ``speed`` times faster than real time from a given real
instant (epoch seconds), so every process that is handed the same three figures (central, the edge, the
simulators) reads the same simulated time. They are handed them in the environment variable
:data:`CLOCK_ENV`, written by :meth:`AcceleratedClock.env_value` as ``START@REAL*SPEED``, for example
``2026-03-02T06:00:00+08:00@1764634000.25*120``. Processes that start before the run's real start is known are
handed a file instead of the real start (``START@/path/to/go*SPEED``, :class:`StartingClock`): the clock shows the
start, frozen, until the run writes the real start into the file.

:class:`SteadyClock` is the edge's clock of real time: the wall clock without its jumps (a step of the wall clock is
detected and reported, durations stay those of the monotonic clock).

Only the time of day is accelerated: tariffs, shifts, pass expiry and reports see simulated time, through
:func:`now` (edge's and central's default clocks call it). Monotonic timers (barrier travel, loop debounce, read
windows, poll intervals) are not touched and stay physical.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path

CLOCK_ENV = "PARKGATE_CLOCK"


class ClockError(ValueError):
    """The accelerated clock's setting is malformed: the message names the part that is wrong."""


@dataclass(frozen=True, slots=True)
class AcceleratedClock:
    """Simulated time ``start + (real - real_start) * speed``, ``real`` being epoch seconds of the real clock."""

    start: datetime
    real_start: float
    speed: float

    def __post_init__(self) -> None:
        if self.start.tzinfo is None:
            raise ClockError(f"{CLOCK_ENV}: the start {self.start.isoformat()} has no time zone")
        if not self.speed > 0:
            raise ClockError(f"{CLOCK_ENV}: the speed must be above 0, not {self.speed}")

    @classmethod
    def starting_now(cls, start: datetime, speed: float) -> AcceleratedClock:
        return cls(start, time.time(), speed)

    @classmethod
    def parse(cls, value: str) -> AcceleratedClock:
        """``START@REAL*SPEED``: an ISO 8601 instant with its offset, epoch seconds, a factor."""
        start_text, at, rest = value.partition("@")
        real_text, star, speed_text = rest.partition("*")
        if not at or not star:
            raise ClockError(f"{CLOCK_ENV}={value!r}: expected START@REAL*SPEED, e.g. 2026-03-02T06:00:00+08:00@"
                             "1764634000.25*120")  # fmt: skip
        try:
            start = datetime.fromisoformat(start_text)
        except ValueError:
            raise ClockError(f"{CLOCK_ENV}: the start {start_text!r} is not an ISO 8601 instant") from None
        try:
            real_start, speed = float(real_text), float(speed_text)
        except ValueError:
            raise ClockError(f"{CLOCK_ENV}: {real_text!r} (real start) and {speed_text!r} (speed) must be numbers"
                             ) from None  # fmt: skip
        return cls(start, real_start, speed)

    def env_value(self) -> str:
        return f"{self.start.isoformat()}@{self.real_start!r}*{self.speed!r}"

    def at_real(self, real: float) -> datetime:
        """The simulated instant (UTC) at real epoch seconds ``real``."""
        return (self.start + timedelta(seconds=(real - self.real_start) * self.speed)).astimezone(UTC)

    def now(self) -> datetime:
        return self.at_real(time.time())

    def real_at(self, simulated: datetime) -> float:
        """The real epoch seconds at which the simulated clock shows ``simulated``."""
        return self.real_start + (simulated - self.start).total_seconds() / self.speed

    def real_seconds(self, simulated_seconds: float) -> float:
        """How long ``simulated_seconds`` of simulated time last in real time."""
        return simulated_seconds / self.speed


class StartingClock:
    """An accelerated clock whose real start is written to a file when the run's system is up (``START@/path*SPEED``):
    until the file exists every process reads the scenario's start, frozen; from then on the clock runs."""

    def __init__(self, start: datetime, go_file: Path, speed: float) -> None:
        AcceleratedClock(start, 0.0, speed)  # the same checks
        self.start, self.go_file, self.speed = start, go_file, speed
        self.running: AcceleratedClock | None = None

    def go(self) -> AcceleratedClock:
        """Start the clock now, for every process reading this setting."""
        real = time.time()
        partial = self.go_file.with_suffix(".partial")
        partial.write_text(repr(real), encoding="utf-8")
        partial.replace(self.go_file)
        return self._started(real)

    def _started(self, real: float) -> AcceleratedClock:
        self.running = AcceleratedClock(self.start, real, self.speed)
        return self.running

    def now(self) -> datetime:
        if self.running is not None:
            return self.running.now()
        try:
            text = self.go_file.read_text(encoding="utf-8")
        except FileNotFoundError:
            return self.start.astimezone(UTC)
        try:
            return self._started(float(text)).now()
        except ValueError:
            raise ClockError(f"{CLOCK_ENV}: {self.go_file} holds {text[:40]!r}, not epoch seconds") from None

    def env_value(self) -> str:
        return f"{self.start.isoformat()}@{self.go_file}*{self.speed!r}"


Clock = AcceleratedClock | StartingClock


@cache
def _configured(value: str | None) -> Clock | None:
    if not value:
        return None
    start, at, rest = value.partition("@")
    if at and rest.startswith("/"):
        path, _, speed = rest.rpartition("*")
        parsed = AcceleratedClock.parse(f"{start}@0*{speed}")
        return StartingClock(parsed.start, Path(path), parsed.speed)
    return AcceleratedClock.parse(value)


def configured() -> Clock | None:
    """The accelerated clock set in this process's environment, if any."""
    return _configured(os.environ.get(CLOCK_ENV))


def now() -> datetime:
    """The current instant (UTC, timezone-aware): simulated when :data:`CLOCK_ENV` is set, real otherwise."""
    clock = configured()
    return datetime.now(UTC) if clock is None else clock.now()


def physical(span: timedelta) -> timedelta:
    """The span on :func:`now`'s clock that lasts ``span`` of real time: a timeout that protects hardware or a
    device's timing (a read window, loop settling, barrier travel) stays physical under an accelerated clock."""
    clock = configured()
    return span if clock is None else span * clock.speed


SLEW_PPM = 1000


@dataclass(frozen=True, slots=True)
class ClockStep:
    """The wall clock jumped by ``offset_s`` seconds (positive: forward) at ``at`` (on the steady clock)."""

    at: datetime
    offset_s: float
    wall: datetime  # what the wall clock read then


class SteadyClock:
    """The time of day that durations can trust: it follows the wall clock's slow corrections (NTP slewing) but not
    its jumps. Between two readings it expects the wall clock to have moved as far as the monotonic clock did; a
    difference over ``tolerance_s`` is a step (the clock set by hand, a bad NTP server, an hour of a wrong summer
    time), which is not followed: it is kept in :attr:`steps` for the edge to log and journal, and the time goes on
    from the monotonic clock. So a stay, a read window, a barrier timeout or a shift that spans the step lasts what it
    really lasted, and every record keeps one consistent time line. A restart adopts the wall clock as it then is.

    ``wall`` and ``monotonic`` are the sources (the real ones by default; a test hands in a wall clock it can step).
    """

    def __init__(
        self, wall: Callable[[], datetime] | None = None, monotonic: Callable[[], float] = time.monotonic, *,
        tolerance_s: float = 2.0,
    ) -> None:  # fmt: skip
        self._wall = wall or (lambda: datetime.now(UTC))
        self._monotonic = monotonic
        self.tolerance = timedelta(seconds=tolerance_s)
        self.stepped = timedelta(0)  # the sum of the steps not followed: wall time minus this time
        self.steps: list[ClockStep] = []  # not yet taken by :meth:`take_steps`
        self._lock = threading.Lock()
        self._last = self._wall().astimezone(UTC)
        self._last_mono = self._monotonic()

    def __call__(self) -> datetime:
        with self._lock:
            wall = self._wall().astimezone(UTC)
            mono = self._monotonic()
            elapsed = timedelta(seconds=mono - self._last_mono)
            expected = self._last + elapsed
            observed = wall - self.stepped
            # a slew of up to 1000 ppm (NTP's is at most 500) is a correction, not a step
            if abs(observed - expected) > self.tolerance + abs(elapsed) * SLEW_PPM / 1_000_000:
                jump = observed - expected
                self.stepped += jump
                self.steps.append(ClockStep(expected, jump.total_seconds(), wall))
                observed = expected
            self._last, self._last_mono = max(self._last, observed), mono
            return self._last

    def take_steps(self) -> list[ClockStep]:
        """The steps detected since the last call (the edge journals each once)."""
        with self._lock:
            steps, self.steps = self.steps, []
            return steps
