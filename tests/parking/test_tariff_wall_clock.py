"""The wall clock behind band edges: UTC offsets and local-to-UTC conversion agree with zoneinfo, DST included."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from parking.tariff.wall_clock import wall_clock

ZONES = ["Europe/Berlin", "Asia/Shanghai", "America/New_York", "Australia/Lord_Howe", "UTC"]


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> int:
    return int(datetime(year, month, day, hour, minute, tzinfo=UTC).timestamp())


@pytest.mark.parametrize("key", ZONES)
@settings(max_examples=200, deadline=None)
@given(instant=st.integers(utc(1971, 1, 1), utc(2099, 1, 1)))
def test_offsets_and_round_trips_agree_with_zoneinfo(key: str, instant: int) -> None:
    clock, zone = wall_clock(key), ZoneInfo(key)
    moment = datetime.fromtimestamp(instant, zone)
    offset = moment.utcoffset()
    assert offset is not None
    assert clock.offset_at(instant) == int(offset.total_seconds())
    local = clock.to_local(instant)
    # an existing wall-clock time maps back to its first occurrence, as zoneinfo's fold=0 does
    naive = datetime.fromtimestamp(local, UTC).replace(tzinfo=zone)
    assert clock.to_utc(local) == int(naive.timestamp())


def test_skipped_and_repeated_hours_in_berlin() -> None:
    clock = wall_clock("Europe/Berlin")
    # 29 March 2026: 02:00-03:00 does not exist; any time in it is the jump at 01:00Z
    assert clock.to_utc(utc(2026, 3, 29, 2, 30)) == utc(2026, 3, 29, 1, 0)
    assert clock.to_utc(utc(2026, 3, 29, 2, 0)) == utc(2026, 3, 29, 1, 0)
    assert clock.to_utc(utc(2026, 3, 29, 3, 0)) == utc(2026, 3, 29, 1, 0)
    assert clock.to_utc(utc(2026, 3, 29, 1, 59)) == utc(2026, 3, 29, 0, 59)
    # 25 October 2026: 02:00-03:00 happens twice; the first (summer time) is taken
    assert clock.to_utc(utc(2026, 10, 25, 2, 30)) == utc(2026, 10, 25, 0, 30)
    assert clock.to_utc(utc(2026, 10, 25, 3, 0)) == utc(2026, 10, 25, 2, 0)


def test_outside_the_table_zoneinfo_answers() -> None:
    clock = wall_clock("Europe/Berlin")
    assert clock.offset_at(utc(2150, 7, 1)) == 7200
    assert clock.to_utc(utc(2150, 7, 1, 12, 0)) == utc(2150, 7, 1, 10, 0)
    assert clock.offset_at(utc(1960, 1, 1)) == 3600
