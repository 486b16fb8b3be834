"""Bounds on every field a plate camera sends, checked in the codec before a :class:`PlateRead` exists.

A camera is a device on the network: whatever it sends is bounded here, so nothing unbounded reaches the lanes, the
journal or the open sessions' look-alike index. A field out of bounds is a :class:`LprFieldError` naming the field,
the device and a short ``reason`` (the label of ``parkgate_lpr_rejected_total``); the read is refused as a whole,
never decided on. A camera's own "no plate" markers ("无牌", "No plate", "unknown", empty) are not errors: they are
a no-read (``plate=None``).

Plates: the characters and lengths of real plates (GA 36 and the plates GA 36 does not cover), leniently, because
cameras drop or add a character and misread a letter as a digit: a province abbreviation, the authority letter (or
the digit it is misread as) and 4 to 7 serial characters, optionally a suffix (警 police, 学 learner, 挂 trailer,
港/澳 cross-border, 领 consulate, 试 test, 超 oversize) or 应急 (emergency); embassy plates (使 first or last);
military and armed police plates (军/海/空/北/沈/兰/济/南/广/成 + letter, WJ + province); 民航 (civil aviation); and
4 to 9 ASCII letters and digits with at least one digit (new military plates, Hong Kong and Macau registrations,
reads without the province). Any of these with spaces, dots or dashes, full-width or lower case. At most
:data:`MAX_PLATE_TEXT` characters are looked at: a longer text is refused before any normalisation is tried.
"""

from __future__ import annotations

import logging
import math
import re
import time
import unicodedata
from datetime import UTC, datetime, timedelta
from typing import Any

from drivers.lpr.errors import LprProtocolError

_LOGGER = logging.getLogger(__name__)

MAX_PLATE_TEXT = 16  # characters of a plate as sent, spaces included
MAX_NAME = 64  # a device or camera id (from a document, a topic or a URL)
MAX_WORD = 32  # plate colour, vehicle type, direction word
MAX_EVENT_ID = 128
MAX_URL = 1024  # a picture the camera gives by URL or path instead of its bytes
MAX_EXTRA_TEXT = 128  # a value kept in ``extra`` (longer ones are cut: extra is information, not identity)
MAX_IMAGES = 8
MAX_IMAGE = 4 << 20  # bytes of one picture
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)
MAX_CLOCK_SKEW = timedelta(days=1)  # camera time against arrival time, when the arrival is known

# The same abbreviations as parking.plates.PROVINCES (drivers import nothing of ours; a test keeps them equal).
PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
SUFFIXES = "警学挂港澳领试超"
_SEPARATORS = str.maketrans("", "", " \t\r\n·•.-_")
_SHAPES = tuple(
    re.compile(pattern)
    for pattern in (
        rf"[{PROVINCES}][A-Z0-9][A-Z0-9]{{4,7}}",  # standard (5), new energy (6), one character dropped or added
        rf"[{PROVINCES}][A-Z0-9][A-Z0-9]{{3,6}}[{SUFFIXES}]",  # 粤B1234警, 粤Z1234港, 粤A1234领, 粤B1234学
        rf"[{PROVINCES}][A-Z0-9][A-Z0-9]{{3,6}}应急",  # emergency (GA 36-2018)
        r"使[A-Z0-9]{5,7}|[A-Z0-9]{5,7}使",  # embassy
        r"[军海空北沈兰济南广成][A-Z][A-Z0-9]{4,6}",  # military, old style
        rf"WJ[{PROVINCES}]?[A-Z0-9]{{4,6}}[警消边通森金电]?",  # armed police
        r"民航[A-Z0-9]{4,6}",  # civil aviation
        r"(?=[A-Z]*[0-9])[A-Z0-9]{4,9}",  # new military, Hong Kong, Macau, foreign; reads without the province
    )
)
# What cameras send when they saw a vehicle but no plate; compared after cleaning (lower case, no separators).
NO_READ_MARKERS = frozenset(
    {"", "unknown", "无车牌", "无牌车", "无牌", "车牌", "未识别", "未知", "noplate", "none", "null", "nil", "n/a",
     "na", "notdefined", "noread", "nolicenseplate"}
)  # fmt: skip
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


class LprFieldError(LprProtocolError):
    """A field a camera sent is out of bounds; ``field`` names it, ``reason`` is the metrics label."""

    def __init__(self, field: str, reason: str, message: str, *, device: str | None) -> None:
        self.field = field
        self.reason = reason
        super().__init__(f"field {field!r} {message}", device=device)


def shown(text: str, limit: int = 24) -> str:
    """A value as it may appear in a log line or an error: repr, cut to ``limit`` characters."""
    return repr(text[:limit]) + (f"... ({len(text)} characters)" if len(text) > limit else "")


def clean_plate(text: str) -> str:
    """A plate as compared for shape: full-width to ASCII, upper case, separators removed."""
    return unicodedata.normalize("NFKC", text).upper().translate(_SEPARATORS)


def is_no_read(text: str) -> bool:
    """True for a camera's "no plate" marker ("无牌", "No plate", "unknown", "-", empty...)."""
    return unicodedata.normalize("NFKC", text).lower().translate(_SEPARATORS) in NO_READ_MARKERS


def is_plate_shape(text: str) -> bool:
    """True when ``text`` (at most :data:`MAX_PLATE_TEXT` characters) has the characters and length of a plate."""
    if len(text) > MAX_PLATE_TEXT:
        return False
    cleaned = clean_plate(text)
    return any(shape.fullmatch(cleaned) for shape in _SHAPES)


def check_plate(text: str | None, *, device: str | None, field: str = "plate") -> str | None:
    """The plate as read (stripped), ``None`` for a no-read; raise :class:`LprFieldError` for anything else."""
    if text is None:
        return None
    stripped = text.strip()
    if len(stripped) > MAX_PLATE_TEXT:
        raise LprFieldError(field, "plate-too-long", f"is {len(stripped)} characters, more than {MAX_PLATE_TEXT} "
                            f"a plate can have: {shown(text)}", device=device)  # fmt: skip
    if is_no_read(stripped):
        return None
    if not is_plate_shape(stripped):
        raise LprFieldError(field, "plate-shape", f"{shown(stripped)} has not the characters and length of a plate",
                            device=device)  # fmt: skip
    return stripped


def check_confidence(value: float, *, scale: float, device: str | None, field: str, raw: object) -> float:
    """A confidence in 0..1 from ``value`` out of ``scale``; NaN, infinities and values outside 0..scale refused."""
    if not math.isfinite(value):
        raise LprFieldError(field, "confidence-not-finite", f"is {shown(str(raw))}, not a finite number",
                            device=device)  # fmt: skip
    if not 0.0 <= value <= scale:
        raise LprFieldError(field, "confidence-range", f"is {value:g}, outside 0..{scale:g}", device=device)
    return value / scale


def confidence_number(raw: object, *, device: str | None, field: str) -> float | None:
    """A confidence as the camera wrote it (number or text, "93%" allowed); ``None`` when absent or empty."""
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        raise LprFieldError(field, "confidence-not-number", f"is a {type(raw).__name__}, not a number", device=device)
    if isinstance(raw, str):
        text = raw.strip()
        if not text:
            return None
        if len(text) > MAX_WORD:
            raise LprFieldError(field, "confidence-not-number", f"is {shown(text)}, not a number", device=device)
        try:
            return float(text.rstrip("%"))
        except ValueError:
            raise LprFieldError(field, "confidence-not-number", f"is {shown(text)}, not a number",
                                device=device) from None  # fmt: skip
    try:
        return float(raw)
    except OverflowError:
        raise LprFieldError(field, "confidence-range", f"is {shown(str(raw))}, not 0..100", device=device) from None


def check_time(at: datetime, *, device: str | None, field: str, received: datetime | None) -> datetime | None:
    """The camera's time if it can be a time at all: between 2000 and 2100. A read whose camera clock is outside that
    is still a read: with its arrival known, ``None`` says "use the arrival time" (logged once per camera an hour);
    without it (a capture decoded offline) it is an error. A time far from the arrival (a clock that is off, or an
    event the camera stored and sends late) is passed on as it is: the lane judges it against the camera's other
    reads (``edge.lanes.reads``)."""
    try:
        sane = EARLIEST <= at < LATEST
    except OverflowError:
        sane = False
    if sane:
        if received is not None and abs(at - received) > MAX_CLOCK_SKEW:
            _log_clock_off(device or "unknown", at)
        return at
    if received is not None:
        _log_clock_off(device or "unknown", at)
        return None
    raise LprFieldError(field, "time-range", f"is {at.isoformat()}, not between 2000 and 2100 (is the camera's clock "
                        "set?)", device=device)  # fmt: skip


_CLOCK_WARNED: dict[str, float] = {}


def _log_clock_off(device: str, at: datetime) -> None:
    now = time.monotonic()
    if len(_CLOCK_WARNED) > 1024:
        _CLOCK_WARNED.clear()
    if now - _CLOCK_WARNED.get(device, -1e9) >= 3600:
        _CLOCK_WARNED[device] = now
        _LOGGER.warning("camera %s: its clock says %s, far from the time its read arrived (set the camera's clock)",
                        device, at.isoformat())  # fmt: skip


def check_text(value: str | None, *, device: str | None, field: str, limit: int = MAX_WORD) -> str | None:
    """A short text field (colour, vehicle type, event id, device id): at most ``limit`` characters, no controls."""
    if value is None:
        return None
    if len(value) > limit:
        raise LprFieldError(field, "text-too-long", f"is {len(value)} characters, more than {limit}: {shown(value)}",
                            device=device)  # fmt: skip
    if _CONTROL.search(value):
        raise LprFieldError(field, "control-characters", f"holds control characters: {shown(value)}", device=device)
    return value


def check_image(name: str, size: int, count: int, *, device: str | None) -> None:
    """One more picture of ``size`` bytes, the ``count``-th of its read: at most :data:`MAX_IMAGE` bytes, at most
    :data:`MAX_IMAGES` pictures."""
    if count > MAX_IMAGES:
        raise LprFieldError("images", "too-many-images", f"has more than {MAX_IMAGES} pictures", device=device)
    if size > MAX_IMAGE:
        raise LprFieldError(f"images.{name[:MAX_NAME]}", "image-too-large",
                            f"is {size} bytes, more than {MAX_IMAGE}", device=device)  # fmt: skip


def bounded_extra(value: Any) -> Any:
    """A value kept in ``extra``: scalars only, text cut to :data:`MAX_EXTRA_TEXT`; ``None`` when not keepable."""
    if isinstance(value, str):
        return _CONTROL.sub("", value[:MAX_EXTRA_TEXT])
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return value if -(2**63) <= value < 2**63 else None
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    return None
