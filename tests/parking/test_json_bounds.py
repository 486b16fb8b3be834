"""The JSON depth check without parsing agrees with the parsed document's depth, brackets inside strings (escaped
quotes included) never count, and 100,000 levels are answered at once."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from parking.json_bounds import json_depth_over

TEXT = st.text(alphabet=st.sampled_from('[]{}"\\ab\u0000粤,:'), max_size=8)
DOCUMENTS = st.recursive(
    st.none() | st.booleans() | st.integers() | TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=30,
)


def depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((depth(v) for v in value), default=0)
    return 0


@given(DOCUMENTS, st.integers(min_value=0, max_value=8), st.booleans())
def test_agrees_with_the_parsed_depth(document: Any, limit: int, ascii_only: bool) -> None:
    body = json.dumps(document, ensure_ascii=ascii_only).encode()
    assert json_depth_over(body, limit) == (depth(document) > limit)


def test_a_hundred_thousand_levels() -> None:
    assert json_depth_over(b"[" * 100_000 + b"]" * 100_000, 64)
    assert not json_depth_over(b'["' + b"[" * 100_000 + b'"]', 1)
