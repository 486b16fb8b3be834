"""The office console's catalogues: every message of its templates and code is translated in every language (so
a language is one file, and a new message cannot ship untranslated), placeholders kept; the money and time
filters; the sign-in throttle."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from central.office.catalogues import available_locales, catalogue_path, choose_locale
from central.office.rendering import local_time, money
from central.office.throttle import FailureWindow, SignInThrottle

OFFICE = Path(__file__).resolve().parents[2] / "central" / "office"
REPORTS = OFFICE.parent / "reports"  # the reports' tables and labels are msgids too
METHODS = [("**/templates/**.html", "jinja2"), ("**.py", "python")]
OPTIONS = {"**/templates/**.html": {"extensions": "jinja2.ext.i18n"}}
_PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def extracted() -> set[str]:
    messages = set()
    for directory in (OFFICE, REPORTS):
        for _file, _line, message, _comments, _context in extract_from_dir(
            directory, METHODS, options_map=OPTIONS, keywords={"_": None, "gettext": None, "N_": None}
        ):
            messages.add(message if isinstance(message, str) else message[0])
    return messages


def test_the_extraction_finds_the_templates_and_the_code() -> None:
    messages = extracted()
    assert {"Sign in", "Mark lost", "Say why: the reason goes into the audit log.", "Police"} <= messages
    assert len(messages) > 200


@pytest.mark.parametrize("locale", available_locales())
def test_every_message_is_translated_with_its_placeholders(locale: str) -> None:
    with catalogue_path(locale).open("rb") as source:
        catalogue = read_po(source, locale=locale)
    missing, broken = [], []
    for msgid in sorted(extracted()):
        entry = catalogue.get(msgid)
        if entry is None or not entry.string or entry.fuzzy:
            missing.append(msgid)
        elif set(_PLACEHOLDER.findall(msgid)) != set(_PLACEHOLDER.findall(str(entry.string))):
            broken.append(msgid)
    assert missing == [], f"{locale}: untranslated (pybabel extract + update, then translate)"
    assert broken == [], f"{locale}: placeholders differ"


def test_the_languages_are_chinese_first_then_english() -> None:
    assert available_locales() == ["zh_CN", "en"]
    locales = available_locales()
    assert choose_locale(None, None, locales) == "zh_CN"
    assert choose_locale(None, "en-US,en;q=0.9", locales) == "en"
    assert choose_locale(None, "de;q=0.9, en;q=0.1", locales) == "en"
    assert choose_locale(None, "zh-CN", locales) == "zh_CN"
    assert choose_locale(None, "zh", locales) == "zh_CN"
    assert choose_locale(None, "en;q=bad", locales) == "zh_CN"
    assert choose_locale("en", "zh-CN", locales) == "en"


def test_money_groups_thousands_in_minor_units() -> None:
    assert money(123456, "CNY") == "1,234.56 CNY"
    assert money(-5, "CNY") == "-0.05 CNY"
    assert money(100000000, "CNY", with_code=False) == "1,000,000.00"
    assert money(1500, "JPY") == "1,500 JPY"
    assert money(None, "CNY") == ""


def test_times_show_in_the_car_parks_zone() -> None:
    instant = datetime(2026, 1, 31, 16, 30, tzinfo=UTC)
    assert local_time(instant) == "2026-02-01 00:30"  # the operator's zone, Asia/Shanghai
    assert local_time(instant, ZoneInfo("Europe/London")) == "2026-01-31 16:30"
    assert local_time(None) == ""


def test_the_throttle_counts_failures_in_a_sliding_window() -> None:
    now = [1000.0]
    window = FailureWindow(3, 60, clock=lambda: now[0])
    for _ in range(3):
        assert window.retry_after("a") == 0
        window.fail("a")
    assert window.retry_after("a") == pytest.approx(60)
    now[0] += 30
    assert window.retry_after("a") == pytest.approx(30)
    assert window.retry_after("b") == 0
    now[0] += 31
    assert window.retry_after("a") == 0
    throttle = SignInThrottle(2, 60, clock=lambda: now[0])
    throttle.failed("Front_Desk", "10.0.0.1")
    throttle.failed("front_desk", "10.0.0.2")
    assert throttle.retry_after("FRONT_DESK", "10.0.0.3") > 0  # per account, whatever the case
    throttle.succeeded("front_desk")
    assert throttle.retry_after("front_desk", "10.0.0.3") == 0
    for number in range(40):  # per address: 20 times the account limit, across accounts
        throttle.failed(f"user{number}", "10.0.0.9")
    assert throttle.retry_after("someone", "10.0.0.9") > 0
    assert throttle.retry_after("someone", "10.0.0.8") == 0
