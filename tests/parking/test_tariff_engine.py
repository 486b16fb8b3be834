"""Hand-computed quotes for every feature of the tariff engine; each expected amount is worked out in a comment."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from parking.tariff import (
    Coupon,
    CouponError,
    ExitBeforeEntryError,
    LostCardError,
    NaiveDatetimeError,
    Quote,
    StayError,
    Tariff,
    UnknownVehicleClassError,
    load_tariff,
    parse_tariff,
    quote,
)

CONFIG = Path(__file__).resolve().parents[2] / "config" / "tariffs"
SHANGHAI = ZoneInfo("Asia/Shanghai")
BERLIN = ZoneInfo("Europe/Berlin")


def make_tariff(body: str, *, zone: str = "Asia/Shanghai", currency: str = "CNY", head: str = "") -> Tariff:
    """A tariff from TOML: ``head`` keys, then the id, currency and zone, then ``body``."""
    return parse_tariff(f'{head}\nid = "t"\ncurrency = "{currency}"\ntimezone = "{zone}"\n{body}', source="test")


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0, zone: ZoneInfo = SHANGHAI) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=zone)


def balanced(q: Quote) -> bool:
    """The breakdown explains the total: line amounts (times their repeat) add up to it."""
    return sum(line.amount * line.repeat for line in q.lines) == q.total


HOURLY = 'lines = [{ unit_minutes = 60, price = "1.00" }]'
DAYNIGHT_BANDS = """
[[bands]]
name = "day"
from = "08:00"
to = "20:00"
lines = [{ unit_minutes = 60, price = "2.00" }]
[[bands]]
name = "night"
from = "20:00"
to = "08:00"
lines = [{ unit_minutes = 60, price = "1.00" }]
"""


@pytest.fixture(scope="module")
def residential() -> Tariff:
    return load_tariff(CONFIG / "residential.toml")


@pytest.fixture(scope="module")
def daynight() -> Tariff:
    return load_tariff(CONFIG / "daynight.toml")


# --- the residential tariff: free period, lines, rolling 24 h cycles with caps, classes ---


@pytest.mark.parametrize(
    ("minutes", "vehicle_class", "expected"),
    [
        (30, "small", 0),  # exactly the free period: free
        (25, "small", 0),
        (31, "small", 500),  # charged from entry: first hour 5.00
        (60, "small", 500),  # exactly one unit
        (61, "small", 700),  # 5.00 + one started hour 2.00
        (190, "small", 1100),  # 5.00 + 3 x 2.00
        (24 * 60, "small", 3000),  # 5.00 + 23 x 2.00 = 51.00, capped at 30.00
        (24 * 60 + 20, "small", 3500),  # a full cycle 30.00 + a new cycle's first hour 5.00 (no free period per cycle)
        (48 * 60 + 61, "small", 6700),  # two capped cycles + 1 h 01 min: 5.00 + 2.00
        (190, "large", 2200),  # every price doubled
        (24 * 60 + 20, "large", 7000),  # the cap doubles too
    ],
)
def test_residential(residential: Tariff, minutes: int, vehicle_class: str, expected: int) -> None:
    entry = at(2026, 3, 2, 8, 0)
    q = quote(residential, entry, entry + timedelta(minutes=minutes), vehicle_class)
    assert q.total == expected
    assert q.currency == "CNY"
    assert balanced(q)


def test_a_unit_starts_after_its_last_second(residential: Tariff) -> None:
    entry = at(2026, 3, 2, 8, 0)
    assert quote(residential, entry, entry + timedelta(minutes=120)).total == 700
    assert quote(residential, entry, entry + timedelta(minutes=120, seconds=1)).total == 900
    # fractions of a second are dropped from both times
    assert quote(residential, entry, entry + timedelta(minutes=120, microseconds=999_999)).total == 700


def test_breakdown_names_units_prices_caps_and_the_tariff(residential: Tariff) -> None:
    entry = at(2026, 3, 2, 8, 0)
    q = quote(residential, entry, entry + timedelta(hours=24, minutes=20))
    first, second = q.lines
    assert (first.kind, first.band, first.cycle, first.items) == ("stay", "all_day", 0, ((1, 60, 500), (23, 60, 200)))
    assert (first.charged, first.amount, first.cap) == (5100, 3000, 3000)
    assert (second.cycle, second.items, second.amount, second.cap) == (1, ((1, 60, 500),), 500, None)
    assert q.tariff_id == "residential"
    assert q.tariff_hash == __import__("hashlib").sha256((CONFIG / "residential.toml").read_bytes()).hexdigest()
    data = q.to_json()
    assert data["total"] == 3500
    assert data["lines"][0]["start"] == "2026-03-02T08:00:00+08:00"
    assert data["lines"][0]["cap_applied"] == 3000
    assert data["lines"][0]["units"][1] == {"units": 23, "unit_minutes": 60, "unit_price": 200, "amount": 4600}


def test_a_year_long_stay_is_folded_into_repeated_cycles(residential: Tariff) -> None:
    entry = at(2026, 3, 2, 8, 0)
    q = quote(residential, entry, entry + timedelta(days=365, minutes=20))
    assert q.total == 365 * 3000 + 500
    assert len(q.lines) == 2
    assert (q.lines[0].repeat, q.lines[0].every) == (365, 86_400)
    assert balanced(q)


# --- bands ---


@pytest.mark.parametrize(
    ("entry", "exit", "expected"),
    [
        ((2026, 3, 2, 10, 0), (2026, 3, 2, 12, 30), 1200),  # day: 3 started hours x 4.00
        ((2026, 3, 2, 18, 30), (2026, 3, 2, 20, 0), 600),  # day 30 min 4.00 + night 60 min 2.00
        ((2026, 3, 2, 18, 0), (2026, 3, 3, 8, 0), 1400),  # day 4.00 + night 6 x 2.00 capped 6.00 + day 4.00
        ((2026, 3, 2, 6, 50), (2026, 3, 3, 7, 20), 200 + 3200 + 600 + 400),  # night, day capped, night capped, day
        ((2026, 3, 2, 6, 50), (2026, 3, 2, 7, 20), 600),  # night 10 min 2.00 + day 20 min 4.00
        ((2026, 3, 2, 7, 0), (2026, 3, 2, 7, 15), 0),  # within 15 free minutes
        ((2026, 3, 2, 7, 0), (2026, 3, 2, 7, 16), 400),
        ((2026, 3, 2, 23, 0), (2026, 3, 3, 1, 0), 200),  # one night occurrence across midnight: 2 h = one unit
    ],
)
def test_daynight(
    daynight: Tariff, entry: tuple[int, int, int, int, int], exit: tuple[int, int, int, int, int], expected: int
) -> None:
    q = quote(daynight, at(*entry), at(*exit))
    assert q.total == expected
    assert balanced(q)


def test_a_night_is_one_occurrence_with_one_cap(daynight: Tariff) -> None:
    q = quote(daynight, at(2026, 3, 2, 18, 0), at(2026, 3, 3, 8, 0))
    assert [(line.band, line.amount, line.cap) for line in q.lines] == [
        ("day", 400, None),
        ("night", 600, 600),
        ("day", 400, None),
    ]
    assert q.lines[1].items == ((6, 120, 200),)


# --- cycles on the local calendar day ---

CALENDAR = """
[cycle]
kind = "calendar_day"
resets_at = "{reset}"
cap = "30.00"
[[lines]]
unit_minutes = 60
units = 1
price = "5.00"
[[lines]]
unit_minutes = 60
price = "2.00"
"""


def test_calendar_day_cycle_restarts_the_lines_at_midnight() -> None:
    tariff = make_tariff(CALENDAR.format(reset="00:00"))
    # 23:30 -> 00:30: two cycles of 30 minutes, each starting with its first hour (5.00)
    assert quote(tariff, at(2026, 3, 2, 23, 30), at(2026, 3, 3, 0, 30)).total == 1000
    # 08:00 -> next day 10:00: 16 h capped 30.00; then 10 h: 5.00 + 9 x 2.00 = 23.00
    assert quote(tariff, at(2026, 3, 2, 8, 0), at(2026, 3, 3, 10, 0)).total == 5300


def test_calendar_day_cycle_resets_at_the_configured_time() -> None:
    tariff = make_tariff(CALENDAR.format(reset="06:00"))
    # 05:00 -> 07:30: 05:00-06:00 is 5.00; 06:00-07:30 is 5.00 + 2.00
    assert quote(tariff, at(2026, 3, 2, 5, 0), at(2026, 3, 2, 7, 30)).total == 1200
    # 23:30 -> 00:30 no longer crosses a reset: 5.00
    assert quote(tariff, at(2026, 3, 2, 23, 30), at(2026, 3, 3, 0, 30)).total == 500


def test_cycle_cap_over_several_bands_gets_its_own_line() -> None:
    tariff = make_tariff(DAYNIGHT_BANDS + '[cycle]\nkind = "rolling_24h"\ncap = "20.00"')
    # 06:00 -> 21:00: night 2 h 2.00 + day 12 h 24.00 + night 1 h 1.00 = 27.00 > 20.00
    q = quote(tariff, at(2026, 3, 2, 6, 0), at(2026, 3, 2, 21, 0))
    assert q.total == 2000
    assert q.lines[-1].kind == "cycle_cap"
    assert q.lines[-1].amount == -700
    assert balanced(q)


# --- DST in Europe/Berlin: durations are real time, band edges wall-clock time ---


def test_spring_forward_charges_real_elapsed_time() -> None:
    tariff = make_tariff(HOURLY, zone="Europe/Berlin", currency="EUR")
    # 01:30 CET -> 03:30 CEST is one real hour on 29 March 2026
    assert quote(tariff, at(2026, 3, 29, 1, 30, zone=BERLIN), at(2026, 3, 29, 3, 30, zone=BERLIN)).total == 100


def test_fall_back_charges_real_elapsed_time() -> None:
    tariff = make_tariff(HOURLY, zone="Europe/Berlin", currency="EUR")
    # 01:30 CEST -> 03:30 CET is three real hours on 25 October 2026
    assert quote(tariff, at(2026, 10, 25, 1, 30, zone=BERLIN), at(2026, 10, 25, 3, 30, zone=BERLIN)).total == 300


def test_bands_follow_the_wall_clock_across_dst() -> None:
    tariff = make_tariff(DAYNIGHT_BANDS, zone="Europe/Berlin", currency="EUR")
    # the short night 28->29 March 20:00-08:00 lasts 11 real hours; then one day hour
    q = quote(tariff, at(2026, 3, 28, 20, 0, zone=BERLIN), at(2026, 3, 29, 9, 0, zone=BERLIN))
    assert [(line.band, line.items[0][0]) for line in q.lines] == [("night", 11), ("day", 1)]
    assert q.total == 1100 + 200
    # the long night 24->25 October lasts 13 real hours
    q = quote(tariff, at(2026, 10, 24, 20, 0, zone=BERLIN), at(2026, 10, 25, 8, 0, zone=BERLIN))
    assert q.total == 1300


def test_calendar_days_of_23_and_25_hours() -> None:
    tariff = make_tariff(
        HOURLY + '\n[cycle]\nkind = "calendar_day"\nresets_at = "00:00"\ncap = "24.50"',
        zone="Europe/Berlin",
        currency="EUR",
    )
    spring = quote(tariff, at(2026, 3, 29, 0, 0, zone=BERLIN), at(2026, 3, 30, 0, 0, zone=BERLIN))
    assert spring.total == 2300  # 23 real hours, below the cap
    autumn = quote(tariff, at(2026, 10, 25, 0, 0, zone=BERLIN), at(2026, 10, 26, 0, 0, zone=BERLIN))
    assert autumn.total == 2450  # 25 real hours = 25.00, capped at 24.50
    assert len(autumn.lines) == 1


def test_band_edge_in_the_skipped_hour_is_the_moment_of_the_jump() -> None:
    body = """
[[bands]]
name = "early"
from = "00:00"
to = "02:30"
lines = [{ unit_minutes = 30, price = "1.00" }]
[[bands]]
name = "late"
from = "02:30"
to = "24:00"
lines = [{ unit_minutes = 30, price = "0.00" }]
"""
    tariff = make_tariff(body, zone="Europe/Berlin", currency="EUR")
    # 29 March: 02:30 does not exist; "early" runs 00:00 CET -> 03:00 CEST = 2 real hours = 4 half hours
    q = quote(tariff, at(2026, 3, 29, 0, 0, zone=BERLIN), at(2026, 3, 29, 4, 0, zone=BERLIN))
    assert q.total == 400
    assert q.lines[0].end == int(datetime(2026, 3, 29, 1, 0, tzinfo=UTC).timestamp())
    # 25 October: 02:30 happens twice; the edge is its first occurrence (CEST): 00:00 -> 02:30 CEST = 2.5 h
    q = quote(tariff, at(2026, 10, 25, 0, 0, zone=BERLIN), at(2026, 10, 25, 4, 0, zone=BERLIN))
    assert q.total == 500


# --- special days ---

SPECIAL = """
[special_days]
dates = [2026-10-01]
cap = "5.00"
lines = [{ unit_minutes = 60, price = "1.00" }]
"""


def test_special_day_is_priced_by_its_own_bands() -> None:
    tariff = parse_tariff((CONFIG / "daynight.toml").read_text() + SPECIAL)
    # 30 Sep 18:00 -> 2 Oct 08:00: day 1 h 4.00; night 19:00-24:00 (cut by the holiday) 3 units 6.00;
    # holiday 24 h capped 5.00; night 00:00-07:00 4 units 8.00 capped 6.00; day 1 h 4.00
    q = quote(tariff, at(2026, 9, 30, 18, 0), at(2026, 10, 2, 8, 0))
    assert [line.band for line in q.lines] == ["day", "night", "special_day", "night", "day"]
    assert q.total == 400 + 600 + 500 + 600 + 400
    # the same stay a week later knows no holiday: day 4.00, night 6.00, day 32.00, night 6.00, day 4.00
    assert quote(tariff, at(2026, 10, 7, 18, 0), at(2026, 10, 9, 8, 0)).total == 400 + 600 + 3200 + 600 + 400


def test_special_day_band_set() -> None:
    body = (
        HOURLY
        + """
[special_days]
dates = [2026-05-01]
[[special_days.bands]]
name = "holiday_day"
from = "10:00"
to = "18:00"
lines = [{ unit_minutes = 60, price = "3.00" }]
[[special_days.bands]]
name = "holiday_rest"
from = "18:00"
to = "10:00"
lines = [{ unit_minutes = 60, price = "0.50" }]
"""
    )
    tariff = make_tariff(body)
    # 30 Apr 23:00 -> 1 May 11:00: normal 1 h 1.00; holiday_rest 00:00-10:00 10 x 0.50; holiday_day 1 h 3.00
    assert quote(tariff, at(2026, 4, 30, 23, 0), at(2026, 5, 1, 11, 0)).total == 100 + 500 + 300


# --- vehicle classes ---


def test_class_with_its_own_lines_and_a_fractional_multiplier() -> None:
    body = (
        CALENDAR.format(reset="00:00")
        + """
[classes.small]
[classes.ev]
lines = [{ unit_minutes = 60, price = "1.00" }]
cycle_cap = "10.00"
[classes.van]
multiplier = "1.25"
"""
    )
    tariff = make_tariff(body)
    entry = at(2026, 3, 2, 8, 0)
    assert quote(tariff, entry, entry + timedelta(minutes=190), "ev").total == 400  # 4 started hours x 1.00
    assert quote(tariff, entry, entry + timedelta(hours=14), "ev").total == 1000  # capped at its own 10.00
    assert quote(tariff, entry, entry + timedelta(minutes=190), "van").total == 625 + 3 * 250  # 5.00 and 2.00 x 1.25
    assert quote(tariff, entry, entry + timedelta(minutes=190)).total == 1100  # default class: small
    with pytest.raises(UnknownVehicleClassError, match="no vehicle class 'bus'; classes: small, ev, van"):
        quote(tariff, entry, entry + timedelta(hours=1), "bus")


def test_class_overrides_one_band() -> None:
    tariff = load_tariff(CONFIG / "city-berlin.toml")
    entry = at(2026, 6, 2, 9, 0, zone=BERLIN)
    # free minutes deducted: charged 09:10-12:10 in the day band
    assert quote(tariff, entry, entry + timedelta(hours=3, minutes=10), "small").total == 150 + 150 + 250 + 250
    assert quote(tariff, entry, entry + timedelta(hours=3, minutes=10), "motorcycle").total == 300


# --- lost card ---


def test_lost_card_flat_fee_or_computed_if_more(residential: Tariff) -> None:
    exit = at(2026, 3, 5, 12, 0)
    unknown = quote(residential, None, exit, lost_card=True)
    assert (unknown.total, unknown.flags) == (5000, ("lost_card", "entry_unknown"))
    assert quote(residential, None, exit, "large", lost_card=True).total == 10000
    short = quote(residential, exit - timedelta(minutes=190), exit, lost_card=True)
    assert short.total == 5000  # flat 50.00 beats the computed 11.00
    assert balanced(short)
    long = quote(residential, exit - timedelta(days=3, hours=1), exit, lost_card=True)
    assert long.total == 3 * 3000 + 500  # the computed 95.00 beats 50.00
    with pytest.raises(StayError, match="only a lost-card quote"):
        quote(residential, None, exit)


def test_lost_card_flat_only_and_no_fee() -> None:
    flat = make_tariff(HOURLY + '\n[lost_card]\nfee = "20.00"\ncomputed_if_more = false')
    exit = at(2026, 3, 5, 12, 0)
    assert quote(flat, exit - timedelta(days=2), exit, lost_card=True).total == 2000
    none = make_tariff(HOURLY)
    with pytest.raises(LostCardError, match="no lost-card fee"):
        quote(none, None, exit, lost_card=True)


# --- grace after payment, payments ---


def test_grace_after_payment(residential: Tariff) -> None:
    entry = at(2026, 3, 2, 8, 0)
    paid_at = at(2026, 3, 2, 11, 10)
    assert quote(residential, entry, paid_at, paid=0).total == 1100
    within = quote(residential, entry, paid_at + timedelta(minutes=15), paid=1100, paid_at=paid_at)
    assert (within.total, within.flags) == (0, ("within_grace",))
    # 4 h 20 min: 5.00 + 4 x 2.00 = 13.00, minus 11.00 paid
    late = quote(residential, entry, at(2026, 3, 2, 12, 20), paid=1100, paid_at=paid_at)
    assert (late.total, late.fee) == (200, 1300)
    assert balanced(late)
    # paid more than the fee: never below zero
    assert quote(residential, entry, at(2026, 3, 2, 12, 20), paid=5000, paid_at=paid_at).total == 0


def test_payment_errors(residential: Tariff) -> None:
    entry = at(2026, 3, 2, 8, 0)
    exit = at(2026, 3, 2, 12, 0)
    with pytest.raises(StayError, match="paid_at"):
        quote(residential, entry, exit, paid=100)
    with pytest.raises(StayError, match="after the exit"):
        quote(residential, entry, exit, paid=100, paid_at=exit + timedelta(minutes=1))
    with pytest.raises(StayError, match="before the entry"):
        quote(residential, entry, exit, paid=100, paid_at=entry - timedelta(minutes=1))
    with pytest.raises(StayError, match="negative"):
        quote(residential, entry, exit, paid=-1, paid_at=exit)


# --- coupons ---


def test_coupons(residential: Tariff) -> None:
    entry = at(2026, 3, 2, 8, 0)
    exit = entry + timedelta(minutes=190)
    assert quote(residential, entry, exit, coupons=[Coupon(minutes=60)]).total == 900  # charged 2 h 10 min
    assert quote(residential, entry, exit, coupons=[Coupon(amount=500)]).total == 600
    assert quote(residential, entry, exit, coupons=[Coupon(amount=5000)]).total == 0  # never below zero
    both = quote(residential, entry, exit, coupons=[Coupon(minutes=60), Coupon(amount=100)])
    assert both.total == 800
    assert balanced(both)
    # after caps: 24 h 20 min is 35.00; 10.00 off gives 25.00 (the cap is not applied again)
    day = quote(residential, entry, entry + timedelta(hours=24, minutes=20), coupons=[Coupon(amount=1000)])
    assert day.total == 2500
    # a free-time coupon longer than the stay charges nothing, and the free period looks at the real stay
    assert quote(residential, entry, exit, coupons=[Coupon(minutes=600)]).total == 0
    assert quote(residential, entry, entry + timedelta(minutes=40), coupons=[Coupon(minutes=15)]).total == 500


def test_coupon_parsing() -> None:
    assert Coupon.parse("30min", "CNY") == Coupon(minutes=30, code="30min")
    assert Coupon.parse("2h", "CNY").minutes == 120
    assert Coupon.parse("5.00", "CNY").amount == 500
    with pytest.raises(CouponError):
        Coupon.parse("five", "CNY")
    with pytest.raises(CouponError):
        Coupon(minutes=-5)


# --- free minutes deducted, maximum session ---


def test_free_minutes_deducted() -> None:
    body = CALENDAR.format(reset="00:00").replace("[cycle]", "free_minutes = 30\nfree_minutes_deducted = true\n[cycle]")
    tariff = make_tariff(body)
    entry = at(2026, 3, 2, 8, 0)
    assert quote(tariff, entry, entry + timedelta(minutes=30)).total == 0
    assert quote(tariff, entry, entry + timedelta(minutes=31)).total == 500  # 1 minute charged
    assert quote(tariff, entry, entry + timedelta(minutes=90)).total == 500  # 60 minutes charged: 5.00
    assert quote(tariff, entry, entry + timedelta(minutes=91)).total == 700  # 61 minutes charged: 5.00 + 2.00
    q = quote(tariff, entry, entry + timedelta(minutes=91))
    assert q.lines[0].kind == "free_period"
    assert balanced(q)


def test_max_session_is_flagged_not_hidden(residential: Tariff) -> None:
    entry = at(2026, 3, 2, 8, 0)
    assert residential.max_stay == timedelta(days=30)
    ok = quote(residential, entry, entry + timedelta(days=30))
    assert "max_session_exceeded" not in ok.flags
    long = quote(residential, entry, entry + timedelta(days=30, minutes=1))
    assert "max_session_exceeded" in long.flags
    assert long.total == 30 * 3000 + 500  # still computed, for the operator to decide


# --- stays that make no sense ---


def test_exit_before_entry(residential: Tariff) -> None:
    with pytest.raises(ExitBeforeEntryError):
        quote(residential, at(2026, 3, 2, 8, 0), at(2026, 3, 2, 7, 59))
    assert quote(residential, at(2026, 3, 2, 8, 0), at(2026, 3, 2, 8, 0)).total == 0


def test_naive_datetimes_are_refused(residential: Tariff) -> None:
    naive = datetime(2026, 3, 2, 8, 0)
    with pytest.raises(NaiveDatetimeError, match="entry"):
        quote(residential, naive, at(2026, 3, 2, 9, 0))
    with pytest.raises(NaiveDatetimeError, match="exit"):
        quote(residential, at(2026, 3, 2, 8, 0), naive)
    with pytest.raises(NaiveDatetimeError, match="paid_at"):
        quote(residential, at(2026, 3, 2, 8, 0), at(2026, 3, 2, 9, 0), paid=1, paid_at=naive)


def test_errors_are_value_errors(residential: Tariff) -> None:
    with pytest.raises(ValueError, match="before entry"):
        quote(residential, at(2026, 3, 2, 8, 0), at(2026, 3, 2, 7, 0))
