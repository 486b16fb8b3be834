"""Text an operator types: control characters refused with the field and position named, new lines only in notes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge.booth.operator_text import OperatorTextError, operator_text


@pytest.mark.parametrize(
    ("value", "multiline", "code"),
    [
        ("gate\u0000stuck", False, "input.bad_text"), ("gate\u0000stuck", True, "input.bad_text"),
        ("two\nlines", False, "input.bad_text"), ("tab\there", True, "input.bad_text"),
        ("esc\u001b[2J", True, "input.bad_text"), ("c1\u0085x", False, "input.bad_text"),
        ("\u202egnp.exe", False, "input.bad_text"), ("line\u2028sep", True, "input.bad_text"),
        ("lone\ud800", False, "input.bad_text"), ("x" * 501, False, "input.too_long"),
    ],
)  # fmt: skip
def test_refused(value: str, multiline: bool, code: str) -> None:
    with pytest.raises(OperatorTextError) as info:
        operator_text(value, "reason", multiline=multiline)
    assert (info.value.code, info.value.field) == (code, "reason")
    assert "reason" in str(info.value)


def test_accepted() -> None:
    assert operator_text("  救护车, reader down  ", "reason") == "救护车, reader down"
    assert operator_text("第一行\r\n第二行", "note", multiline=True) == "第一行\n第二行"
    assert operator_text("x" * 500, "reason") == "x" * 500


@given(st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), max_size=40))
def test_printable_text_is_kept_stripped(value: str) -> None:
    bidi = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
    if bidi & set(value):
        with pytest.raises(OperatorTextError):
            operator_text(value, "reason")
    else:
        assert operator_text(value, "reason") == value.strip()
