"""Properties of the tariff engine, checked with Hypothesis against the shipped tariffs (DST in Europe/Berlin).

The strongest one compares the engine with a deliberately naive model that walks the stay minute by minute, asks
``zoneinfo`` for each minute's wall-clock time, and counts units one by one.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from unittest.mock import patch
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import parking.tariff.engine as engine
from parking.money import parse_amount
from parking.tariff import Coupon, Tariff, load_tariff, parse_tariff, quote
from parking.tariff.spec import BandSpec, LineSpec

TARIFFS = Path(__file__).resolve().parents[2] / "config" / "tariffs"
RESIDENTIAL = load_tariff(TARIFFS / "residential.toml")
DAYNIGHT = load_tariff(TARIFFS / "daynight.toml")
BERLIN = load_tariff(TARIFFS / "city-berlin.toml")
# the day band cut in two at 12:00, each half with the same lines and cap
DAYNIGHT_SPLIT = parse_tariff(
    (TARIFFS / "daynight.toml")
    .read_text()
    .replace('name = "day"\nfrom = "07:00"\nto = "19:00"', 'name = "day"\nfrom = "07:00"\nto = "12:00"')
    + '\n[[bands]]\nname = "day_pm"\nfrom = "12:00"\nto = "19:00"\ncap = "32.00"\n'
    'lines = [{ unit_minutes = 60, price = "4.00" }]\n'
)
# local calendar days resetting at 06:00 on top of bands, in a zone with DST
BERLIN_RESET = parse_tariff(
    (TARIFFS / "city-berlin.toml").read_text().replace('resets_at = "00:00"', 'resets_at = "06:00"'), source="reset"
)
# bands under rolling 24 h cycles with a cap, and holidays with their own band set
DAYNIGHT_ROLLING = parse_tariff(
    (TARIFFS / "daynight.toml")
    .read_text()
    .replace("max_session_days = 30", "max_session_days = 30\nfree_minutes_deducted = true")
    + """
[cycle]
kind = "rolling_24h"
cap = "35.00"

[special_days]
dates = [2026-02-17, 2026-02-18, 2026-10-01, 2027-02-06]
[[special_days.bands]]
name = "holiday"
from = "09:00"
to = "21:00"
cap = "10.00"
lines = [{ unit_minutes = 30, units = 2, price = "0.00" }, { unit_minutes = 60, price = "3.00" }]
[[special_days.bands]]
name = "holiday_night"
from = "21:00"
to = "09:00"
lines = [{ unit_minutes = 60, price = "0.50" }]
""",
    source="rolling",
)
ALL = {
    "residential": RESIDENTIAL,
    "daynight": DAYNIGHT,
    "city-berlin": BERLIN,
    "berlin-reset": BERLIN_RESET,
    "daynight-rolling": DAYNIGHT_ROLLING,
}

FIRST = int(datetime(2026, 1, 1, tzinfo=UTC).timestamp()) // 60
LAST = int(datetime(2027, 12, 31, tzinfo=UTC).timestamp()) // 60
PROPERTIES = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def moment(minute: int) -> datetime:
    return datetime.fromtimestamp(minute * 60, UTC)


# --- the naive model ---


def naive_cost(lines: list[LineSpec], minutes: int, currency: str, factor: int) -> int:
    """Unit by unit: each line's units in turn, the last line repeating, a started unit paid in full."""
    cost, left = 0, minutes
    for line in lines:
        price = parse_amount(line.price, currency) * factor
        count = 0
        while left > 0 and (line.units is None or count < line.units):
            cost += price
            left -= line.unit_minutes
            count += 1
    return cost


def naive_band(bands: list[BandSpec], minute_of_day: int) -> BandSpec:
    for band in bands:
        start = int(band.start[:2]) * 60 + int(band.start[3:])
        end = int(band.end[:2]) * 60 + int(band.end[3:])
        inside = start <= minute_of_day < end if start < end else minute_of_day >= start or minute_of_day < end
        if inside or start == end:
            return band
    raise AssertionError("bands do not cover the day")


def naive_total(tariff: Tariff, entry: int, exit: int, vehicle_class: str) -> int:
    """The fee of a stay between two whole minutes (epoch minutes), walked minute by minute."""
    spec = tariff.spec
    zone = ZoneInfo(spec.timezone)
    factor = int(spec.classes[vehicle_class].multiplier or 1)
    currency = spec.currency
    if exit - entry <= spec.free_minutes:
        return 0
    start = entry + spec.free_minutes if spec.free_minutes_deducted else entry
    special: set[date] = set(spec.special_days.dates) if spec.special_days else set()
    pieces: list[tuple[str, object, int, list[LineSpec], str | None]] = []
    for minute in range(start, exit):
        local = datetime.fromtimestamp(minute * 60, zone)
        if local.date() in special and spec.special_days is not None:
            if spec.special_days.bands:
                band = naive_band(spec.special_days.bands, local.hour * 60 + local.minute)
                key, lines, cap = band.name, band.lines, band.cap
            else:
                key, lines, cap = "special", spec.special_days.lines or [], spec.special_days.cap
        elif spec.bands:
            band = naive_band(spec.bands, local.hour * 60 + local.minute)
            key, lines, cap = band.name, band.lines, band.cap
        else:
            key, lines, cap = "all", spec.lines or [], None
        cycle: object = 0
        if spec.cycle is not None and spec.cycle.kind == "rolling_24h":
            cycle = (minute - entry) // 1440
        elif spec.cycle is not None:
            reset = spec.cycle.resets_at or "00:00"
            cycle = (local.replace(tzinfo=None) - timedelta(hours=int(reset[:2]), minutes=int(reset[3:]))).date()
        if pieces and pieces[-1][0] == key and pieces[-1][1] == cycle:
            pieces[-1] = (key, cycle, pieces[-1][2] + 1, lines, cap)
        else:
            pieces.append((key, cycle, 1, lines, cap))
    cycle_cap = spec.cycle.cap if spec.cycle else None
    sums: dict[object, int] = {}
    for _key, cycle, minutes, lines, cap in pieces:
        cost = naive_cost(lines, minutes, currency, factor)
        if cap is not None:
            cost = min(cost, parse_amount(cap, currency) * factor)
        sums[cycle] = sums.get(cycle, 0) + cost
    if cycle_cap is not None:
        return sum(min(s, parse_amount(cycle_cap, currency) * factor) for s in sums.values())
    return sum(sums.values())


@pytest.mark.parametrize("name", list(ALL))
@PROPERTIES
@given(
    entry=st.integers(FIRST, LAST),
    minutes=st.one_of(st.integers(0, 240), st.integers(0, 3 * 1440)),
    large=st.booleans(),
)
def test_engine_agrees_with_the_minute_by_minute_model(name: str, entry: int, minutes: int, large: bool) -> None:
    tariff = ALL[name]
    vehicle_class = (
        "large"
        if large and "large" in tariff.classes and name not in ("city-berlin", "berlin-reset")
        else tariff.default_class
    )
    got = quote(tariff, moment(entry), moment(entry + minutes), vehicle_class).total
    assert got == naive_total(tariff, entry, entry + minutes, vehicle_class)


@pytest.mark.parametrize(
    "stay",
    [
        # across both Berlin DST changes of 2026, with a holiday in between
        ((2026, 3, 27, 19, 3), (2026, 3, 30, 9, 1)),
        ((2026, 10, 23, 22, 59), (2026, 10, 26, 1, 0)),
        ((2026, 4, 30, 12, 0), (2026, 5, 2, 12, 0)),
    ],
)
def test_engine_agrees_with_the_model_across_dst(stay: tuple[tuple[int, int, int, int, int], ...]) -> None:
    zone = ZoneInfo("Europe/Berlin")
    entry, exit = (int(datetime(y, mo, d, h, mi, tzinfo=zone).timestamp()) // 60 for y, mo, d, h, mi in stay)
    for tariff in (BERLIN, BERLIN_RESET):
        assert quote(tariff, moment(entry), moment(exit)).total == naive_total(tariff, entry, exit, "small")


# --- monotone, bounded by the caps, unchanged by a split it does not cross ---


@pytest.mark.parametrize("name", list(ALL))
@PROPERTIES
@given(entry=st.integers(FIRST, LAST), minutes=st.integers(0, 10 * 1440), later=st.integers(1, 2 * 1440))
def test_fee_never_decreases_as_the_exit_moves_later(name: str, entry: int, minutes: int, later: int) -> None:
    tariff = ALL[name]
    for vehicle_class in tariff.classes:
        sooner = quote(tariff, moment(entry), moment(entry + minutes), vehicle_class).total
        assert quote(tariff, moment(entry), moment(entry + minutes + later), vehicle_class).total >= sooner


def daynight_caps(entry: datetime, exit: datetime) -> int:
    """The sum of the caps of every day band (32.00) and night band (6.00) the stay overlaps."""
    zone = ZoneInfo("Asia/Shanghai")
    total = 0
    day = entry.astimezone(zone).date() - timedelta(days=1)
    while day <= exit.astimezone(zone).date():
        seven = datetime(day.year, day.month, day.day, 7, tzinfo=zone)
        for begin, end, cap in (
            (seven, seven + timedelta(hours=12), 3200),
            (seven + timedelta(hours=12), seven + timedelta(days=1), 600),
        ):
            if begin < exit and end > entry:
                total += cap
        day += timedelta(days=1)
    return total


@PROPERTIES
@given(entry=st.integers(FIRST, LAST), minutes=st.integers(0, 20 * 1440))
def test_fee_never_exceeds_the_caps_of_what_the_stay_touches(entry: int, minutes: int) -> None:
    begin, end = moment(entry), moment(entry + minutes)
    cycles = -(-minutes // 1440)
    assert quote(RESIDENTIAL, begin, end).total <= cycles * 3000
    assert quote(RESIDENTIAL, begin, end, "large").total <= cycles * 6000
    assert quote(DAYNIGHT, begin, end).total <= daynight_caps(begin, end)
    berlin = ZoneInfo("Europe/Berlin")
    days = (end.astimezone(berlin).date() - begin.astimezone(berlin).date()).days + 1
    assert quote(BERLIN, begin, end).total <= days * 2400


@PROPERTIES
@given(entry=st.integers(FIRST, LAST), minutes=st.integers(0, 3 * 1440))
def test_a_split_the_stay_does_not_cross_changes_nothing(entry: int, minutes: int) -> None:
    begin, end = moment(entry), moment(entry + minutes)
    zone = ZoneInfo("Asia/Shanghai")
    local_begin = begin.astimezone(zone)
    noon = local_begin.replace(hour=12, minute=0, second=0)
    if noon <= local_begin:
        noon += timedelta(days=1)
    whole, split = quote(DAYNIGHT, begin, end), quote(DAYNIGHT_SPLIT, begin, end)
    if end <= noon:  # no 12:00 inside the stay
        assert split.total == whole.total
    else:
        assert split.total >= whole.total  # a band cut in two can only add a started unit or a second cap


# --- the fast paths agree with the plain walk; the breakdown always adds up ---


@pytest.mark.parametrize("name", list(ALL))
@settings(max_examples=25, deadline=None)
@given(entry=st.integers(FIRST, LAST), minutes=st.integers(4 * 1440, 400 * 1440))
def test_runs_of_identical_days_are_priced_like_the_walk(name: str, entry: int, minutes: int) -> None:
    tariff = ALL[name]
    folded = quote(tariff, moment(entry), moment(entry + minutes))
    with patch.object(engine, "regular_runs", lambda *args: []):
        walked = quote(tariff, moment(entry), moment(entry + minutes))
    assert folded.total == walked.total
    assert len(folded.lines) <= len(walked.lines)


@pytest.mark.parametrize("name", list(ALL))
@PROPERTIES
@given(
    entry=st.integers(FIRST, LAST),
    minutes=st.integers(0, 30 * 1440),
    coupon_minutes=st.integers(0, 300),
    coupon_amount=st.integers(0, 5000),
    paid=st.integers(0, 20000),
    paid_before_exit=st.integers(0, 120),
    lost_card=st.booleans(),
)
def test_breakdown_adds_up_to_the_total(
    name: str,
    entry: int,
    minutes: int,
    coupon_minutes: int,
    coupon_amount: int,
    paid: int,
    paid_before_exit: int,
    lost_card: bool,
) -> None:
    tariff = ALL[name]
    exit = entry + minutes
    q = quote(
        tariff,
        moment(entry),
        moment(exit),
        lost_card=lost_card,
        paid=paid,
        paid_at=moment(max(entry, exit - paid_before_exit)),
        coupons=[Coupon(minutes=coupon_minutes), Coupon(amount=coupon_amount)],
    )
    assert q.total >= 0
    assert sum(line.amount * line.repeat for line in q.lines) == q.total


@pytest.mark.parametrize(
    "stay",
    [
        ((2026, 2, 16, 20, 7), (2026, 2, 19, 10, 0)),  # into, through and out of two holidays
        ((2026, 9, 30, 8, 59), (2026, 10, 2, 9, 1)),
        ((2026, 10, 1, 9, 0), (2026, 10, 1, 21, 0)),  # exactly the holiday day band
    ],
)
def test_engine_agrees_with_the_model_across_holidays(stay: tuple[tuple[int, int, int, int, int], ...]) -> None:
    zone = ZoneInfo("Asia/Shanghai")
    entry, exit = (int(datetime(y, mo, d, h, mi, tzinfo=zone).timestamp()) // 60 for y, mo, d, h, mi in stay)
    for vehicle_class in ("small", "large"):
        got = quote(DAYNIGHT_ROLLING, moment(entry), moment(exit), vehicle_class)
        assert got.total == naive_total(DAYNIGHT_ROLLING, entry, exit, vehicle_class)
        assert any(line.band in ("holiday", "holiday_night") for line in got.lines)
