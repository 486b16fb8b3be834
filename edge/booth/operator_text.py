"""Text an operator types (a manual-open reason, a waiver note, a reversal reason, the handover note): bounded and
free of control characters before anything records it.

A control character would be kept in the journal and sent to central as it is, where U+0000 cannot be stored at
all; the others garble receipts, the ESC/POS printer and reports. So they are refused where they are typed, with an
error naming the field: every C0 and C1 control (newline only in multi-line notes, ``\\r\\n`` read as a newline),
lone surrogates, the Unicode line and paragraph separators, and the bidirectional overrides that can make a
reason read differently from what it holds.
"""

from __future__ import annotations

import re

TEXT_MAX = 500  # as the booth records' Text
_OTHERS = "\\x7f-\\x9f\\u2028\\u2029\\u202a-\\u202e\\u2066-\\u2069\\ud800-\\udfff"  # C1, separators, bidi, surrogates
_REFUSED = re.compile(f"[\\x00-\\x1f{_OTHERS}]")
_REFUSED_IN_NOTES = re.compile(f"[\\x00-\\x09\\x0b-\\x1f{_OTHERS}]")  # a new line (U+000A) is allowed


class OperatorTextError(ValueError):
    """Typed text refused: ``code`` is ``input.bad_text`` or ``input.too_long``, ``field`` names what was typed."""

    def __init__(self, code: str, field: str, message: str) -> None:
        self.code, self.field = code, field
        super().__init__(message)


def operator_text(value: str, field: str, *, limit: int = TEXT_MAX, multiline: bool = False) -> str:
    """``value`` stripped, or :class:`OperatorTextError` when it holds a control character or is over ``limit``."""
    if multiline:
        value = value.replace("\r\n", "\n")
    value = value.strip()
    found = (_REFUSED_IN_NOTES if multiline else _REFUSED).search(value)
    if found:
        allowed = " (only new lines are allowed)" if multiline else ""
        raise OperatorTextError(
            "input.bad_text", field,
            f"{field} holds a control character U+{ord(found.group()):04X} at position {found.start() + 1}{allowed}",
        )  # fmt: skip
    if len(value) > limit:
        raise OperatorTextError("input.too_long", field, f"{field} is longer than {limit} characters")
    return value
