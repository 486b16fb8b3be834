"""Local wall-clock arithmetic in integer seconds for one IANA time zone.

Band edges and calendar-day resets are local wall-clock times, while durations are real elapsed time. Converting
with ``datetime`` and ``zoneinfo`` for every edge would dominate the cost of a quote, so each zone's UTC offset
transitions are found once (by sampling ``zoneinfo`` weekly and bisecting each change to the second) and the hot
path only does integer arithmetic and a bisection.

A wall-clock time that does not exist (the skipped hour when clocks go forward) maps to the moment the clock jumps
past it (the first instant whose wall clock shows that time or later); an ambiguous one (the repeated hour when
clocks go back) maps to its first occurrence, as with Python's ``fold=0``.
"""

from __future__ import annotations

from bisect import bisect_right
from datetime import UTC, datetime
from functools import cache
from zoneinfo import ZoneInfo

DAY = 86_400
WEEK = 7 * DAY
# The span in which transitions are tabulated; instants outside it fall back to zoneinfo itself.
_FIRST = int(datetime(1970, 1, 1, tzinfo=UTC).timestamp())
_LAST = int(datetime(2100, 1, 1, tzinfo=UTC).timestamp())


def _offset(zone: ZoneInfo, utc: int) -> int:
    offset = datetime.fromtimestamp(utc, zone).utcoffset()
    assert offset is not None
    return int(offset.total_seconds())


class WallClock:
    """UTC offsets of one zone as integer seconds: ``offset_at(utc)`` and ``to_utc(local)``.

    "Local seconds" count wall-clock seconds since 1970-01-01 00:00 local, so ``local // 86400`` is a local day
    number and ``local % 86400`` the time of day.
    """

    __slots__ = ("_offsets", "_thresholds", "_transitions", "constant", "key", "zone")

    def __init__(self, key: str) -> None:
        self.key = key
        self.zone = ZoneInfo(key)
        transitions: list[int] = []
        offsets: list[int] = [_offset(self.zone, _FIRST)]
        previous = offsets[0]
        t = _FIRST
        while t < _LAST:
            nxt = min(t + WEEK, _LAST)
            off = _offset(self.zone, nxt)
            if off != previous:
                lo, hi = t, nxt  # offset(lo) == previous, offset(hi) != previous
                while hi - lo > 1:
                    mid = (lo + hi) // 2
                    if _offset(self.zone, mid) == previous:
                        lo = mid
                    else:
                        hi = mid
                transitions.append(hi)
                offsets.append(_offset(self.zone, hi))
                previous = offsets[-1]
                # another change within the same week is caught on the next step from hi
                nxt = hi
            t = nxt
        self._transitions = transitions
        self._offsets = offsets
        # A local time below a transition's threshold still uses the offset before it (fold=0).
        self._thresholds = [t + max(offsets[i], offsets[i + 1]) for i, t in enumerate(transitions)]
        self.constant = not transitions

    def offset_at(self, utc: int) -> int:
        """The zone's UTC offset in seconds at the UTC instant ``utc`` (epoch seconds)."""
        if utc < _FIRST or utc >= _LAST:
            return _offset(self.zone, utc)
        return self._offsets[bisect_right(self._transitions, utc)]

    def to_local(self, utc: int) -> int:
        """Local wall-clock seconds of the UTC instant ``utc``."""
        return utc + self.offset_at(utc)

    def to_utc(self, local: int) -> int:
        """The UTC instant of the wall-clock time ``local`` (a skipped time is the moment of the jump, a repeated
        one its first occurrence)."""
        if local < _FIRST + DAY or local >= _LAST - DAY:
            day, second = divmod(local, DAY)
            naive = datetime.fromtimestamp(day * DAY, UTC).replace(tzinfo=None)
            wall = naive.replace(hour=second // 3600, minute=second // 60 % 60, second=second % 60)
            after_jump = int(wall.replace(tzinfo=self.zone).timestamp())
            before_jump = int(wall.replace(tzinfo=self.zone, fold=1).timestamp())
            if before_jump >= after_jump:
                return after_jump  # an existing (or repeated) time: fold=0 is its first occurrence
            low, high = before_jump, after_jump  # a skipped time: find the jump between the two readings
            while high - low > 1:
                mid = (low + high) // 2
                if _offset(self.zone, mid) == _offset(self.zone, low):
                    low = mid
                else:
                    high = mid
            return high
        i = bisect_right(self._thresholds, local)
        if i < len(self._transitions):
            moment, before = self._transitions[i], self._offsets[i]
            if self._offsets[i + 1] > before and local >= moment + before:
                return moment  # inside the skipped hour: the moment the clock jumps past it
        return local - self._offsets[i]

    def changes_between(self, low: int, high: int) -> list[int]:
        """The transitions (UTC epoch seconds) in ``[low, high]``; outside the tabulated years, one every 90 days
        is assumed (so callers treat that time as irregular)."""
        if low < _FIRST or high >= _LAST:
            return [*range(low, high + 1, 90 * DAY), high]
        i = bisect_right(self._transitions, low - 1)
        j = bisect_right(self._transitions, high)
        return self._transitions[i:j]

    def next_change(self, utc: int) -> int:
        """The first transition after ``utc`` (epoch seconds), or a far-future sentinel when there is none."""
        if utc < _FIRST:
            return utc  # not tabulated: assume a change at once, so callers take the careful path
        i = bisect_right(self._transitions, utc)
        return self._transitions[i] if i < len(self._transitions) else _LAST


@cache
def wall_clock(key: str) -> WallClock:
    """The (cached) :class:`WallClock` of the IANA zone ``key``; raises ``ZoneInfoNotFoundError`` if unknown."""
    return WallClock(key)
