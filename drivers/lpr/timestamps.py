"""Camera timestamps: ISO 8601 with or without offset, "YYYY-MM-DD HH:MM:SS", Hikvision's compact absTime, epochs.

A time without an offset is read in the camera's configured zone (cameras in China usually send Beijing time without
saying so); the result is always timezone-aware.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, tzinfo

_COMPACT = re.compile(r"^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{0,6})$")


def real_now() -> datetime:
    """The real UTC clock: a driver's default for when a read arrived (the application hands in its own clock)."""
    return datetime.now(UTC)


def parse_camera_time(text: str | int | float | None, default_tz: tzinfo = UTC) -> datetime | None:
    """Parse a camera's time; ``None`` when absent or unreadable (the caller then uses the time of arrival)."""
    if text is None or isinstance(text, bool):
        return None
    if isinstance(text, int | float):
        return _from_epoch(float(text))
    value = text.strip()
    if not value:
        return None
    if re.fullmatch(r"\d{10}(\.\d+)?|\d{13}", value):
        return _from_epoch(float(value))
    compact = _COMPACT.match(value)
    if compact:
        y, mo, d, h, mi, s, frac = compact.groups()
        try:
            at = datetime(int(y), int(mo), int(d), int(h), int(mi), int(s), int((frac or "0").ljust(6, "0")[:6]))
        except ValueError:
            return None
        return at.replace(tzinfo=default_tz)
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    try:
        at = datetime.fromisoformat(value.replace("/", "-"))
    except ValueError:
        return None
    return at if at.tzinfo is not None else at.replace(tzinfo=default_tz)


def _from_epoch(seconds: float) -> datetime | None:
    if seconds > 1e11:  # milliseconds
        seconds /= 1000.0
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        return None
