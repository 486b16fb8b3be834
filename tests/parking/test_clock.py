"""The accelerated clock of simulated runs: the same setting gives every process the same simulated time, it runs
``speed`` times faster than real time, and physical spans stretch on its dial so they last as long as before."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from parking import clock
from parking.clock import CLOCK_ENV, AcceleratedClock, ClockError, StartingClock

START = datetime(2026, 3, 2, 6, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


def test_runs_speed_times_faster_from_its_start() -> None:
    sim = AcceleratedClock(START, real_start=1_000.0, speed=120)
    assert sim.at_real(1_000.0) == START
    assert sim.at_real(1_030.0) == START + timedelta(hours=1)
    assert sim.at_real(1_030.0).tzinfo is UTC
    assert sim.real_at(START + timedelta(hours=2)) == pytest.approx(1_060.0)
    assert sim.real_seconds(3_600) == pytest.approx(30.0)


def test_the_setting_round_trips_and_names_what_is_wrong() -> None:
    sim = AcceleratedClock(START, real_start=1_764_634_000.25, speed=144)
    assert AcceleratedClock.parse(sim.env_value()) == sim
    with pytest.raises(ClockError, match="START@REAL\\*SPEED"):
        AcceleratedClock.parse("2026-03-02T06:00:00+08:00")
    with pytest.raises(ClockError, match="'yesterday' is not an ISO 8601"):
        AcceleratedClock.parse("yesterday@1.0*2")
    with pytest.raises(ClockError, match="'fast' \\(speed\\) must be numbers"):
        AcceleratedClock.parse("2026-03-02T06:00:00+08:00@1.0*fast")
    with pytest.raises(ClockError, match="no time zone"):
        AcceleratedClock.parse("2026-03-02T06:00:00@1.0*2")
    with pytest.raises(ClockError, match="above 0"):
        AcceleratedClock.parse("2026-03-02T06:00:00+08:00@1.0*0")


def test_now_is_real_without_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(CLOCK_ENV, raising=False)
    before = datetime.now(UTC)
    assert before <= clock.now() <= datetime.now(UTC)
    assert clock.physical(timedelta(seconds=3)) == timedelta(seconds=3)


def test_now_and_physical_spans_follow_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    sim = AcceleratedClock.starting_now(START, speed=60)
    monkeypatch.setenv(CLOCK_ENV, sim.env_value())
    first = clock.now()
    assert abs(first - START) < timedelta(seconds=60)  # well under a real second has passed
    time.sleep(0.2)
    elapsed = clock.now() - first
    assert timedelta(seconds=11) < elapsed < timedelta(seconds=30)  # 0.2 s real is some 12 s simulated
    assert clock.physical(timedelta(milliseconds=1500)) == timedelta(seconds=90)


def test_processes_given_the_same_setting_read_the_same_time() -> None:
    sim = AcceleratedClock.starting_now(START, speed=100)
    env = os.environ | {CLOCK_ENV: sim.env_value()}
    code = "import time; from parking import clock; print(time.time(), clock.now().isoformat())"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    real, seen = out.split()
    assert abs(datetime.fromisoformat(seen) - sim.at_real(float(real))) < timedelta(seconds=1)


def test_edge_and_central_default_clocks_read_it(monkeypatch: pytest.MonkeyPatch) -> None:
    from central.core.db import utcnow
    from edge.runner import utc_now

    monkeypatch.setenv(CLOCK_ENV, AcceleratedClock.starting_now(START, speed=2).env_value())
    for source in (utcnow, utc_now):
        assert abs(source() - START) < timedelta(seconds=5)


def test_a_starting_clock_is_frozen_at_its_start_until_the_run_says_go(tmp_path: Path) -> None:
    pending = StartingClock(START, tmp_path / "clock.go", speed=60)
    env = os.environ | {CLOCK_ENV: pending.env_value()}
    code = "from parking import clock; print(clock.now().isoformat())"
    before = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert datetime.fromisoformat(before.stdout.strip()) == START
    running = pending.go()
    after = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    seen = datetime.fromisoformat(after.stdout.strip())
    assert START < seen < running.now() + timedelta(seconds=1)
    (tmp_path / "clock.go").write_text("soon", encoding="utf-8")
    with pytest.raises(ClockError, match="not epoch seconds"):
        StartingClock(START, tmp_path / "clock.go", speed=60).now()
