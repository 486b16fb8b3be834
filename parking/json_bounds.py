"""How deep a JSON text nests, found without parsing it: a parser given 100,000 nested brackets runs out of stack
(or time), so every JSON endpoint of edge and central checks this first."""

from __future__ import annotations

import re

_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET = re.compile(rb"[\[\]{}]")


def json_depth_over(body: bytes, limit: int) -> bool:
    """True when ``body`` nests objects and arrays deeper than ``limit``. Brackets inside strings do not count;
    stops at the first level over the limit."""
    depth = 0
    for match in _BRACKET.finditer(_STRING.sub(b'""', body)):
        if match.group() in (b"[", b"{"):
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False
