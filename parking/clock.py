"""The time of day the whole system reads: the real UTC clock, or an accelerated one shared by the processes of a
simulated run.

An accelerated clock starts at a given instant and runs ``speed`` times faster than real time from a given real
instant (epoch seconds), so every process that is handed the same three figures (central, the edge, the
simulators) reads the same simulated time. They are handed them in the environment variable
:data:`CLOCK_ENV`, written by :meth:`AcceleratedClock.env_value` as ``START@REAL*SPEED``, for example
``2026-03-02T06:00:00+08:00@1764634000.25*120``. Processes that start before the run's real start is known are
handed a file instead of the real start (``START@/path/to/go*SPEED``, :class:`StartingClock`): the clock shows the
start, frozen, until the run writes the real start into the file.

Only the time of day is accelerated: tariffs, shifts, pass expiry and reports see simulated time, through
:func:`now` (edge's and central's default clocks call it). Monotonic timers (barrier travel, loop debounce, read
windows, poll intervals) are not touched and stay physical.
"""

from __future__ import annotations

import os
import time
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
