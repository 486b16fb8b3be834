"""The edge's steady clock: the wall clock's slow corrections are followed, its steps are not (durations stay those of
the monotonic clock), and each step is reported once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from parking.clock import SteadyClock

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


class Sources:
    """A monotonic clock and a wall clock the test moves by hand (the wall one can also be stepped)."""

    def __init__(self) -> None:
        self.mono = 1000.0
        self.wall = T0

    def run(self, seconds: float, *, wall_drift: float = 0.0) -> None:
        self.mono += seconds
        self.wall += timedelta(seconds=seconds + wall_drift)

    def clock(self) -> SteadyClock:
        return SteadyClock(lambda: self.wall, lambda: self.mono)


def test_follows_the_wall_clock_and_its_slow_corrections() -> None:
    src = Sources()
    clock = src.clock()
    assert clock() == T0
    for _ in range(100):
        src.run(60, wall_drift=0.03)  # NTP slewing: 500 ppm
    assert clock() == src.wall
    assert clock.take_steps() == []


def test_a_step_either_way_is_reported_once_and_not_followed() -> None:
    src = Sources()
    clock = src.clock()
    entry = clock()
    src.run(600)
    src.wall += timedelta(hours=1)  # set forward by hand
    stepped_at = clock()
    assert stepped_at == entry + timedelta(seconds=600)  # ten real minutes, not an hour and ten
    [step] = clock.take_steps()
    assert step.offset_s == 3600
    assert step.wall == src.wall
    assert clock.take_steps() == []
    src.run(300)
    assert clock() - entry == timedelta(seconds=900)
    src.wall -= timedelta(hours=2)  # and back, past where it was
    src.run(60)
    now = clock()
    assert now - entry == timedelta(seconds=960)  # never backwards, a real minute later
    [back] = clock.take_steps()
    assert back.offset_s == -7200
    src.run(0.5, wall_drift=-0.4)  # a small backward slew does not make time run backwards either
    assert clock() >= now
