"""How deep a JSON text nests, found without parsing it: a parser given 100,000 nested brackets runs out of stack
(or time), so every JSON endpoint of edge and central checks this first."""

from __future__ import annotations

import re

# A JSON string, unrolled (no alternation per character): several times faster on a batch of records.
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKETS = bytes(c for c in range(256) if c not in b"[]{}")
_OPENING = frozenset(b"[{")


def json_depth_over(body: bytes, limit: int) -> bool:
    """True when ``body`` nests objects and arrays deeper than ``limit``. Brackets inside strings do not count;
    stops at the first level over the limit."""
    depth = 0
    for byte in _STRING.sub(b"", body).translate(None, _NOT_BRACKETS):
        if byte in _OPENING:
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False
