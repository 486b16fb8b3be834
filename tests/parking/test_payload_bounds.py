"""The record bounds on ``payload``: the quick check ingest runs on every record (:func:`parking.wire.payload_fits`)
says a payload fits exactly when the full walk (:func:`parking.wire.payload_problem`) finds no problem to name."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from parking.wire import (
    PAYLOAD_DEPTH_MAX,
    PAYLOAD_NODES_MAX,
    PAYLOAD_TEXT_MAX,
    JournalRecord,
    RecordKind,
    payload_fits,
    payload_problem,
    seal,
)


def nested(depth: int) -> dict[str, Any]:
    payload: dict[str, Any] = {"leaf": 1}
    for _ in range(depth):
        payload = {"in": payload}
    return payload


class Mapping(dict[str, Any]):
    pass


CASES: list[tuple[str, Any, str | None]] = [
    ("a fee transaction", {"amount": 500, "currency": "CNY", "plate": "粤B3R7K2", "lines": [{"n": 1}]}, None),
    ("nothing", {}, None),
    ("nested to the limit", nested(PAYLOAD_DEPTH_MAX - 1), None),
    ("nested beyond it", nested(PAYLOAD_DEPTH_MAX), "too_deep"),
    ("a list beyond it", {"a": [[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]}, "too_deep"),
    ("text at the limit", {"note": "x" * PAYLOAD_TEXT_MAX}, None),
    ("text beyond it", {"note": "x" * (PAYLOAD_TEXT_MAX + 1)}, "too_long"),
    ("a key beyond it", {"k" * (PAYLOAD_TEXT_MAX + 1): 1}, "too_long"),
    ("NUL in a text", {"plate": "粤B\x00"}, "text_not_storable"),
    ("NUL in a key", {"pl\x00ate": 1}, "text_not_storable"),
    ("a lone surrogate deep down", {"a": [{"b": "\ud800"}]}, "text_not_storable"),
    ("NaN", {"amount": math.nan}, "not_finite"),
    ("infinity in a list", {"a": [1.5, -math.inf]}, "not_finite"),
    ("values at the limit", {"a": list(range(PAYLOAD_NODES_MAX - 2))}, None),
    ("values beyond it", {"a": list(range(PAYLOAD_NODES_MAX))}, "too_large"),
    ("a key that is not text", {1: "x"}, None),
    ("a dict subclass", Mapping(a=Mapping(b="\x00")), "text_not_storable"),
]


@pytest.mark.parametrize(("payload", "problem"), [(p, e) for _, p, e in CASES], ids=[c[0] for c in CASES])
def test_the_quick_check_and_the_full_walk_agree(payload: Any, problem: str | None) -> None:
    found = payload_problem(payload)
    assert (found[0] if found else None) == problem
    if problem is not None:
        assert not payload_fits(payload)  # a problem is never let through by the quick check
    elif type(next(iter(payload), "")) is str and type(payload) is dict:
        assert payload_fits(payload)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(alphabet=st.characters(codec=None, exclude_categories=()), max_size=8),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(alphabet=st.characters(exclude_categories=()), max_size=6), children, max_size=4),
    max_leaves=40,
)  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(st.text(max_size=6), json_values, max_size=5))
def test_for_any_json_payload_the_quick_check_fits_exactly_when_no_problem_is_found(payload: dict[str, Any]) -> None:
    assert payload_fits(payload) == (payload_problem(payload) is None)


def test_a_record_outside_the_bounds_is_still_refused_by_name() -> None:
    at = datetime(2026, 12, 3, 8, tzinfo=UTC)
    record = seal(id="r1", seq=1, kind=RecordKind.TRANSACTION, car_park="p", lane="l", at=at,
                  payload={"a": [{"b": "ok"}]}, prev_hash="0" * 64)  # fmt: skip
    raw = record.model_dump(mode="json") | {"payload": {"a": [{"b": "ok"}, {"c": "\x00"}]}}
    with pytest.raises(ValueError, match=r"payload\.a\[1\]\.c: text holds U\+0000"):
        JournalRecord.model_validate(raw)
