"""Tariff files: the shipped ones load; each kind of mistake is reported with its key path, all at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.site import SiteError, load_site
from parking.cli import main
from parking.tariff import TariffFileError, load_tariff, parse_tariff

CONFIG = Path(__file__).resolve().parents[2] / "config"
TARIFF_FILES = sorted((CONFIG / "tariffs").glob("*.toml"))

GOOD = """
id = "t"
currency = "CNY"
timezone = "Asia/Shanghai"
free_minutes = 15

[[bands]]
name = "day"
from = "07:00"
to = "19:00"
cap = "32.00"
lines = [{ unit_minutes = 60, price = "4.00" }]

[[bands]]
name = "night"
from = "19:00"
to = "07:00"
cap = "6.00"
lines = [{ unit_minutes = 120, price = "2.00" }]
"""


def problems_of(text: str) -> list[str]:
    with pytest.raises(TariffFileError) as caught:
        parse_tariff(text, source="t.toml")
    return [str(p) for p in caught.value.problems]


@pytest.mark.parametrize("path", TARIFF_FILES, ids=lambda p: p.name)
def test_every_shipped_tariff_loads(path: Path) -> None:
    tariff = load_tariff(path)
    assert tariff.id == path.stem
    assert len(tariff.content_hash) == 64


def test_good_fixture_loads() -> None:
    tariff = parse_tariff(GOOD)
    assert tariff.band_names == ("day", "night")
    assert tariff.vehicle_classes == ("small",)


BROKEN: list[tuple[str, str, str, str]] = [
    ("unknown-key", "free_minutes = 15", "free_minutes = 15\ncolour = 1", "colour: unknown key"),
    ("unknown-band-key", 'name = "day"', 'name = "day"\nprice = "1.00"', "bands[0].price: unknown key"),
    ("missing-currency", 'currency = "CNY"\n', "", "currency: required key is missing"),
    ("bad-currency", 'currency = "CNY"', 'currency = "RMB"', "currency: unknown currency 'RMB'"),
    ("bad-zone", '"Asia/Shanghai"', '"Asia/Beijing"', "timezone: unknown time zone 'Asia/Beijing'"),
    ("negative-price", 'price = "4.00"', 'price = "-4.00"', "bands[0].lines[0].price: negative amount '-4.00'"),
    ("negative-cap", 'cap = "6.00"', 'cap = "-6.00"', "bands[1].cap: negative amount '-6.00'"),
    (
        "float-price",
        'price = "4.00"',
        "price = 4.0",
        'bands[0].lines[0].price: write amounts as decimal text such as "5.00"',
    ),
    ("int-price", 'price = "4.00"', "price = 4", "bands[0].lines[0].price: write amounts as decimal text"),
    (
        "too-many-decimals",
        'price = "4.00"',
        'price = "4.005"',
        "bands[0].lines[0].price: amount '4.005' has more decimals",
    ),
    ("overlap", 'from = "19:00"', 'from = "18:00"', "bands[1]: band 'night' overlaps band 'day' (18:00-19:00)"),
    ("gap", 'from = "19:00"', 'from = "20:00"', "bands[1]: no band covers 19:00-20:00 (bands must cover the day)"),
    ("gap-at-end", 'to = "07:00"', 'to = "24:00"', "no band covers 00:00-07:00"),
    ("bad-time", 'from = "07:00"', 'from = "7:00"', "bands[0].from: String should match pattern"),
    (
        "zero-unit",
        "unit_minutes = 60",
        "unit_minutes = 0",
        "bands[0].lines[0].unit_minutes: Input should be greater than 0",
    ),
    ("no-pricing", "[[bands]]", "[[nobands]]", "nobands: unknown key"),
    ("duplicate-band", 'name = "night"', 'name = "day"', "bands[1].name: band name 'day' is used twice"),
    (
        "rolling-reset",
        "free_minutes = 15",
        'free_minutes = 15\ncycle = { kind = "rolling_24h", resets_at = "06:00" }',
        "cycle.resets_at: only a calendar_day cycle resets at a time of day",
    ),
    (
        "cycle-kind",
        "free_minutes = 15",
        'free_minutes = 15\ncycle = { kind = "weekly" }',
        "cycle.kind: Input should be",
    ),
    (
        "negative-free",
        "free_minutes = 15",
        "free_minutes = -1",
        "free_minutes: Input should be greater than or equal to 0",
    ),
]


@pytest.mark.parametrize(("name", "old", "new", "expected"), BROKEN, ids=[b[0] for b in BROKEN])
def test_broken_tariff(name: str, old: str, new: str, expected: str) -> None:
    assert old in GOOD
    problems = problems_of(GOOD.replace(old, new, 1))
    assert any(expected in p for p in problems), problems


def test_lines_rules() -> None:
    text = 'id = "t"\ncurrency = "CNY"\ntimezone = "UTC"\n'
    problems = problems_of(
        text + 'lines = [{ unit_minutes = 60, price = "5.00" }, { unit_minutes = 60, price = "2.00", units = 3 }]'
    )
    assert "lines[0].units: a line followed by another needs 'units' (how many units it covers)" in problems
    assert "lines[1].units: the last line repeats to the end of the stay: leave out 'units'" in problems
    assert any("give either 'lines'" in p for p in problems_of(text))


def test_class_rules() -> None:
    head = GOOD + "\n[classes.small]\n"
    assert "classes.large.multiplier: give a multiplier or the class's own prices, not both" in problems_of(
        head + '[classes.large]\nmultiplier = 2\nbands.day.cap = "1.00"'
    )
    assert "classes.large.bands.evening: unknown band 'evening'; bands: day, night" in problems_of(
        head + '[classes.large.bands.evening]\ncap = "1.00"'
    )
    assert "classes.large.multiplier: the multiplier must be > 0, got -2" in problems_of(
        head + "[classes.large]\nmultiplier = -2"
    )
    assert "classes.ev.lines: this tariff has bands: give the class's prices under bands.<name>" in problems_of(
        head + '[classes.ev]\nlines = [{ unit_minutes = 60, price = "1.00" }]'
    )
    assert "default_class: unknown vehicle class 'car'; classes: small" in problems_of(
        head.replace("free_minutes = 15", 'free_minutes = 15\ndefault_class = "car"')
    )


def test_every_problem_is_reported_at_once() -> None:
    text = (
        GOOD.replace('"CNY"', '"RMB"')
        .replace('price = "4.00"', 'price = "-4.00"')
        .replace('to = "07:00"', 'to = "06:00"')
    )
    problems = problems_of(text)
    assert len(problems) == 3, problems


def test_toml_syntax_and_missing_file(tmp_path: Path) -> None:
    assert problems_of("id = ")[0].startswith("TOML syntax error")
    with pytest.raises(TariffFileError, match="cannot read the tariff file"):
        load_tariff(tmp_path / "none.toml")


def test_config_check_validates_the_tariff_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    site = (CONFIG / "small.toml").read_text()
    (tmp_path / "tariffs").mkdir()
    (tmp_path / "tariffs" / "residential.toml").write_text(
        (CONFIG / "tariffs" / "residential.toml").read_text().replace('price = "2.00"', 'price = "-2.00"')
    )
    (tmp_path / "site.toml").write_text(site)
    assert main(["config", "check", str(tmp_path / "site.toml")]) == 1
    err = capsys.readouterr().err
    assert "tariffs.residential.file: tariffs/residential.toml: lines[1].price: negative amount '-2.00'" in err


def test_config_check_compares_currency_and_zone(tmp_path: Path) -> None:
    (tmp_path / "tariffs").mkdir()
    (tmp_path / "tariffs" / "residential.toml").write_text(
        (CONFIG / "tariffs" / "residential.toml").read_text().replace('"Asia/Shanghai"', '"Asia/Hong_Kong"')
    )
    (tmp_path / "site.toml").write_text((CONFIG / "small.toml").read_text())
    with pytest.raises(SiteError) as caught:
        load_site(tmp_path / "site.toml")
    assert [str(p) for p in caught.value.problems] == [
        "tariffs.residential.file: tariffs/residential.toml: the tariff's timezone is Asia/Hong_Kong, "
        "the car park's Asia/Shanghai"
    ]


def test_special_days_rules() -> None:
    special = '\n[special_days]\ndates = [2026-10-01, 2026-10-01]\ncap = "5.00"\n'
    bands = '[[special_days.bands]]\nname = "holiday"\nfrom = "00:00"\nto = "24:00"\n'
    bands += 'lines = [{ unit_minutes = 60, price = "1.00" }]\n'
    problems = problems_of(GOOD + special + bands)
    assert "special_days.dates: a date is listed twice" in problems
    assert "special_days.cap: with special-day bands, give each band its own cap" in problems
    assert "special_days: give either 'lines' (one price all day) or 'bands', not both" in problems_of(
        GOOD + "\n[special_days]\ndates = [2026-10-01]\n"
    )
