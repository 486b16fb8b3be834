"""The office forms' number and month fields refuse digits of other scripts (``"²".isdigit()`` is true, but
``int("²")`` raises: such a field was a 500 on the office pages)."""

from __future__ import annotations

import pytest

from central.office.forms import Form


@pytest.mark.parametrize("typed", ["²", "٣", "１２"])
def test_a_whole_number_in_other_digits_is_refused(typed: str) -> None:
    form = Form({"n": typed})
    assert form.integer("n", low=0, high=100) is None
    assert not form.ok
    assert "n" in form.errors


@pytest.mark.parametrize("typed", ["２０２６-01", "2026-٠١", "2026-0²"])
def test_a_month_in_other_digits_is_refused(typed: str) -> None:
    form = Form({"m": typed})
    assert form.month("m") == ""
    assert not form.ok


def test_ascii_digits_still_work() -> None:
    form = Form({"n": "12", "m": "2026-11"})
    assert (form.integer("n", low=0, high=100), form.month("m")) == (12, "2026-11")
    assert form.ok
