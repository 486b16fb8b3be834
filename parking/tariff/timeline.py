"""Where a stay is cut: band changes (local wall-clock edges), cycle starts, and runs of identical days.

All instants are UTC epoch seconds; local wall-clock seconds are used only to place edges, through the tariff's
:class:`~parking.tariff.wall_clock.WallClock`.
"""

from __future__ import annotations

from bisect import bisect_left

from parking.tariff.compile import Tariff
from parking.tariff.wall_clock import DAY


def band_changes(tariff: Tariff, start: int, end: int) -> tuple[int, list[int], list[int]]:
    """The band number at ``start``, then the instants in ``(start, end)`` where the band changes and the new bands.

    Consecutive days' occurrences of one band join (a night band 19:00-07:00 is one occurrence); a special date
    uses the special band set from its local midnight to the next.
    """
    normal, special, dates = tariff.normal_day, tariff.special_day, tariff.special_dates
    if len(normal) == 1 and not dates:
        return normal[0][1], [], []
    clock = tariff.clock
    # Within a span free of offset changes every edge is plain arithmetic; otherwise ask the clock for each.
    fixed: int | None = None
    if clock.next_change(start - 2 * DAY) > end + 2 * DAY:
        fixed = clock.offset_at(start)
        first_day, last_day = (start + fixed) // DAY, (end - 1 + fixed) // DAY
    else:
        first_day, last_day = clock.to_local(start) // DAY, clock.to_local(end - 1) // DAY
    if len(normal) == 1:
        specials = tariff.special_list
        i = bisect_left(specials, first_day)
        if i == len(specials) or specials[i] > last_day:
            return normal[0][1], [], []
    to_utc = clock.to_utc
    times: list[int] = []
    bands: list[int] = []
    current = -1
    at_start = normal[0][1]
    previous = start - 3 * DAY
    for day in range(first_day, last_day + 1):
        base = day * DAY
        for second, band in special if day in dates else normal:
            if band == current:
                continue
            current = band
            moment = base + second - fixed if fixed is not None else to_utc(base + second)
            if moment < previous:
                moment = previous  # an edge in a skipped hour never runs backwards
            previous = moment
            if moment <= start:
                at_start = band
            elif moment < end:
                times.append(moment)
                bands.append(band)
            else:
                return at_start, times, bands
    return at_start, times, bands


def cycle_starts(tariff: Tariff, anchor: int, start: int, end: int) -> list[int]:
    """The instants in ``(start, end)`` where a new cycle begins (a rolling cycle is anchored at the entry)."""
    kind = tariff.cycle_kind
    if kind is None:
        return []
    if kind == "rolling_24h":
        first = anchor + ((start - anchor) // DAY + 1) * DAY
        return list(range(first, end, DAY))
    clock = tariff.clock
    reset = tariff.cycle_reset
    first_day = clock.to_local(start) // DAY - 1
    last_day = clock.to_local(end) // DAY + 1
    if clock.next_change(start - 2 * DAY) > end + 2 * DAY:
        offset = clock.offset_at(start)
        moments = range(first_day * DAY + reset - offset, last_day * DAY + reset - offset + 1, DAY)
    else:
        moments = [clock.to_utc(day * DAY + reset) for day in range(first_day, last_day + 1)]  # type: ignore[assignment]
    return [m for m in moments if start < m < end]


def regular_runs(tariff: Tariff, anchor: int, start: int, end: int) -> list[tuple[int, int]]:
    """Runs of identical days inside the stay, as (first boundary, number of whole days) pairs.

    Away from DST changes and special days, band edges and cycle starts repeat every 24 hours, so each day from
    one cycle start (or band change, without cycles) to the next is priced the same. Days near a change of UTC
    offset or a special day are left to the piece-by-piece walk.
    """
    if end - start < 4 * DAY or (tariff.cycle_kind is None and len(tariff.normal_day) < 2):
        return []
    clock = tariff.clock
    offset = clock.offset_at(start)
    # Irregular stretches as (from, to) in UTC seconds: an hour around each change of offset (a run only needs one
    # offset throughout), and a special date's local day widened by a day each side (offsets are within +-14 h).
    irregular = [(t - 3600, t + 3600) for t in clock.changes_between(start - DAY, end + DAY)]
    specials = tariff.special_list
    if specials:
        i = bisect_left(specials, (start + offset) // DAY - 2)
        while i < len(specials) and specials[i] <= (end + offset) // DAY + 2:
            irregular.append((specials[i] * DAY - DAY, specials[i] * DAY + 2 * DAY))
            i += 1
        irregular.sort()
    runs: list[tuple[int, int]] = []
    cursor = start
    for low, high in [*irregular, (end, end)]:
        if low - cursor >= 3 * DAY:
            run = _run_from(tariff, anchor, cursor, min(low, end))
            if run is not None:
                runs.append(run)
        cursor = max(cursor, high)
        if cursor >= end:
            break
    return runs


def _run_from(tariff: Tariff, anchor: int, low: int, high: int) -> tuple[int, int] | None:
    """The run of whole identical days in ``[low, high)``, a stretch with one UTC offset and no special day."""
    offset = tariff.clock.offset_at(low)
    kind = tariff.cycle_kind
    if kind == "rolling_24h":
        first = anchor + ((low - anchor) // DAY + 1) * DAY
    elif kind == "calendar_day":
        local = low + offset
        first = local // DAY * DAY + tariff.cycle_reset
        if first <= local:
            first += DAY
        first -= offset
    else:
        first = band_changes(tariff, low, low + DAY + 1)[1][0]
    days = (high - first) // DAY
    return (first, days) if days >= 2 else None
