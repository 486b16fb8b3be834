"""JSON plate events (HTTP POST or MQTT) read through a field map.

A :class:`FieldMap` says where each field of :class:`PlateRead` sits in the camera's JSON (dotted paths for nested
objects, ``[0]`` style indexes for lists). :data:`MILESIGHT` is the map for Milesight LPR cameras::

    {"device": "LPR-Entry-1", "time": "2026-11-27 10:15:02", "plate": "粤B3R7K2", "confidence": "0.93",
     "direction": "Approach", "plate_color": "Blue", "vehicle_type": "Car", "coordinate_x1": 812, ...,
     "plate_image": "<base64 JPEG>", "full_image": "<base64 JPEG>"}

A map file is JSON with the same keys as :class:`FieldMap` (see :func:`load_field_map`).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any

from drivers.lpr.errors import LprProtocolError
from drivers.lpr.events import Direction, PlateImage, PlateRead, direction_from
from drivers.lpr.fields import (
    MAX_EVENT_ID,
    MAX_NAME,
    MAX_URL,
    LprFieldError,
    bounded_extra,
    check_confidence,
    check_image,
    check_plate,
    check_text,
    check_time,
    confidence_number,
)
from drivers.lpr.timestamps import parse_camera_time

MAX_DOCUMENT = 16 << 20
SOURCE = "json"
_INDEX = re.compile(r"^(.*)\[(\d+)\]$")


@dataclass(frozen=True, slots=True)
class FieldMap:
    """Where a camera's JSON keeps each field. ``None`` means the camera does not send it.

    ``confidence_scale`` divides the confidence (100 for percentages); ``"auto"`` treats values above 1 as percent.
    ``images`` maps a path holding a base64 image (or a URL/path string) to its kind ("plate", "vehicle", "scene").
    ``keep`` lists paths copied into ``extra`` (coordinates, list type, speed...).
    """

    name: str = "custom"
    plate: str = "plate"
    confidence: str | None = "confidence"
    confidence_scale: float | str = "auto"
    direction: str | None = "direction"
    directions: Mapping[str, str] = field(default_factory=dict)  # camera word -> approach / away / unknown
    plate_color: str | None = "plate_color"
    vehicle_type: str | None = "vehicle_type"
    time: str | None = "time"
    camera: str | None = "device"
    event_id: str | None = None
    images: Mapping[str, str] = field(default_factory=dict)
    keep: tuple[str, ...] = ()


MILESIGHT = FieldMap(
    name="milesight",
    directions={"approach": "approach", "away": "away"},
    images={"plate_image": "plate", "full_image": "vehicle"},
    keep=("type", "speed", "region", "vehicle_color", "detection_region", "resolution_width", "resolution_height",
          "coordinate_x1", "coordinate_y1", "coordinate_x2", "coordinate_y2", "coordinates", "time_msec"),
)  # fmt: skip
BUILTIN_MAPS: dict[str, FieldMap] = {"milesight": MILESIGHT, "default": FieldMap(name="default")}


def load_field_map(spec: str | Mapping[str, Any]) -> FieldMap:
    """A built-in map by name (``milesight``), a JSON map file's path, or a table with :class:`FieldMap`'s keys
    (as a site file gives it). Raises :class:`LprProtocolError`."""
    if isinstance(spec, Mapping):
        return _map_from_table(dict(spec), "inline")
    if spec in BUILTIN_MAPS:
        return BUILTIN_MAPS[spec]
    try:
        data = json.loads(Path(spec).read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise LprProtocolError(
            f"field map {spec!r} is neither built in ({', '.join(BUILTIN_MAPS)}) nor a JSON file: {err}"
        ) from err
    if not isinstance(data, dict):
        raise LprProtocolError(f"field map {spec!r} must be a JSON object")
    return _map_from_table(data, Path(spec).stem)


def _map_from_table(data: dict[str, Any], name: str) -> FieldMap:
    known = {f.name for f in fields(FieldMap)}
    unknown = set(data) - known
    if unknown:
        raise LprProtocolError(f"field map {name!r} has unknown keys: {', '.join(sorted(unknown))}")
    if "keep" in data:
        data["keep"] = tuple(data["keep"])
    try:
        return FieldMap(**{"name": name, **data})
    except TypeError as err:
        raise LprProtocolError(f"field map {name!r}: {err}") from err


def lookup(document: Any, path: str | None) -> Any:
    """The value at a dotted path (``a.b[0].c``), or ``None``."""
    if path is None:
        return None
    node = document
    for step in path.split("."):
        index = None
        match = _INDEX.match(step)
        if match:
            step, index = match.group(1), int(match.group(2))
        if step:
            if not isinstance(node, dict):
                return None
            node = node.get(step)
        if index is not None:
            if not isinstance(node, list) or index >= len(node):
                return None
            node = node[index]
    return node


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, dict | list):
        return None
    text = str(value).strip()
    return text or None


def _confidence(value: Any, scale: float | str, device: str, field: str) -> float | None:
    """0..1 from the camera's number: finite, within 0..scale ("auto": above 1 is a percentage), or refused."""
    number = confidence_number(value, device=device, field=field)
    if number is None:
        return None
    divisor = (100.0 if number > 1.0 else 1.0) if scale == "auto" else float(scale)
    return check_confidence(number, scale=divisor, device=device, field=field, raw=value)


def _direction(value: Any, words: Mapping[str, str]) -> Direction:
    text = _text(value)
    if text is None:
        return Direction.UNKNOWN
    mapped = {k.lower(): v for k, v in words.items()}.get(text.lower())
    if mapped is not None:
        return direction_from("approach" if mapped == "approach" else "away" if mapped == "away" else None)
    return direction_from(text)


def _image(kind: str, path: str, value: Any, device: str, count: int) -> PlateImage | None:
    text = _text(value)
    if text is None:
        return None
    check_image(path, len(text) * 3 // 4, count, device=device)
    if text.startswith(("http://", "https://", "file://")):
        return PlateImage(kind, path, path=check_text(text, device=device, field=path, limit=MAX_URL))
    if text.startswith("data:"):
        text = text.split(",", 1)[-1]
    try:
        data = base64.b64decode(text, validate=True)  # JPEG in base64 starts with "/9j/": try this before paths
    except (binascii.Error, ValueError):
        if not text.startswith("/"):
            return None
        return PlateImage(kind, path, path=check_text(text, device=device, field=path, limit=MAX_URL))
    return PlateImage(kind, path, "image/jpeg", data) if data else None


def decode_json(
    body: bytes | str | Mapping[str, Any], field_map: FieldMap = MILESIGHT, *, camera: str | None = None,
    default_tz: tzinfo = UTC, received_at: datetime | None = None,
) -> PlateRead:  # fmt: skip
    """Decode one JSON plate event through ``field_map``. Raises :class:`LprProtocolError`, and its subclass
    :class:`~drivers.lpr.fields.LprFieldError` for a field out of bounds (:mod:`drivers.lpr.fields`; with
    ``received_at`` the camera's time must be within a day of it)."""
    if isinstance(body, Mapping):
        document: Any = body
        raw = json.dumps(body, ensure_ascii=False).encode()
    else:
        raw = body.encode() if isinstance(body, str) else body
        if len(raw) > MAX_DOCUMENT:
            raise LprProtocolError(f"JSON document of {len(raw)} bytes is larger than {MAX_DOCUMENT}")
        try:
            document = json.loads(raw.decode("utf-8-sig"))
        except (UnicodeDecodeError, ValueError, RecursionError) as err:
            raise LprProtocolError(f"not JSON: {err}", data=raw[:64]) from err
    if not isinstance(document, dict):
        raise LprProtocolError("a JSON plate event must be an object", data=raw[:64])
    plate_value = lookup(document, field_map.plate)
    if field_map.plate not in document and plate_value is None and "." not in field_map.plate:
        raise LprProtocolError(f"no {field_map.plate!r} field: not a {field_map.name} plate event", data=raw[:64])
    extra: dict[str, Any] = {}
    named = camera or check_text(_text(lookup(document, field_map.camera)), device=None,
                                 field=field_map.camera or "device", limit=MAX_NAME)  # fmt: skip
    camera_name = named or "unknown"
    if plate_value is not None and not isinstance(plate_value, str | int):
        raise LprFieldError(field_map.plate, "plate-shape", f"is a {type(plate_value).__name__}, not a text",
                            device=camera_name)  # fmt: skip
    plate = check_plate(_text(plate_value), device=camera_name, field=field_map.plate)
    camera_time = parse_camera_time(_time_value(lookup(document, field_map.time)), default_tz)
    if camera_time is not None:
        camera_time = check_time(camera_time, device=camera_name, field=field_map.time or "time", received=received_at)
    at = camera_time or received_at or datetime.now(UTC)
    extra["time_source"] = "camera" if camera_time else "received"
    direction_value = lookup(document, field_map.direction)
    direction_text = check_text(_text(direction_value), device=camera_name, field=field_map.direction or "direction")
    if direction_text is not None:
        extra["direction_raw"] = direction_text
    for path in field_map.keep:
        value = bounded_extra(lookup(document, path))
        if value is not None:
            extra[path] = value
    images: list[PlateImage] = []
    for path, kind in field_map.images.items():
        if image := _image(kind, path, lookup(document, path), camera_name, len(images) + 1):
            images.append(image)
    return PlateRead(
        camera=camera_name,
        plate=plate,
        confidence=_confidence(
            lookup(document, field_map.confidence),
            field_map.confidence_scale,
            camera_name,
            field_map.confidence or "confidence",
        ),
        direction=_direction(direction_text, field_map.directions),
        at=at,
        source=SOURCE,
        plate_color=check_text(
            _text(lookup(document, field_map.plate_color)),
            device=camera_name,
            field=field_map.plate_color or "plate_color",
        ),
        vehicle_type=check_text(
            _text(lookup(document, field_map.vehicle_type)),
            device=camera_name,
            field=field_map.vehicle_type or "vehicle_type",
        ),
        event_id=check_text(
            _text(lookup(document, field_map.event_id)),
            device=camera_name,
            field=field_map.event_id or "event_id",
            limit=MAX_EVENT_ID,
        ),
        images=tuple(images),
        raw=raw,
        extra=extra,
    )


def _time_value(value: Any) -> str | int | float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float | str):
        return value
    return None


def encode_milesight(
    *, plate: str, confidence: float, direction: str, at: datetime, device: str, plate_color: str = "Blue",
    vehicle_type: str = "Car", plate_image: bytes | None = None, full_image: bytes | None = None,
) -> bytes:  # fmt: skip
    """A Milesight-style JSON event (the camera's side, for the simulator and tests)."""
    doc: dict[str, Any] = {
        "device": device, "time": at.strftime("%Y-%m-%d %H:%M:%S"), "time_msec": at.microsecond // 1000,
        "plate": plate, "type": "Visitor", "speed": "-", "direction": direction, "detection_region": 1,
        "region": "CHN", "resolution_width": 1920, "resolution_height": 1080, "coordinate_x1": 812,
        "coordinate_y1": 644, "coordinate_x2": 1016, "coordinate_y2": 702, "confidence": f"{confidence:.2f}",
        "plate_color": plate_color, "vehicle_type": vehicle_type, "vehicle_color": "White",
    }  # fmt: skip
    if plate_image is not None:
        doc["plate_image"] = base64.b64encode(plate_image).decode("ascii")
    if full_image is not None:
        doc["full_image"] = base64.b64encode(full_image).decode("ascii")
    return json.dumps(doc, ensure_ascii=False).encode("utf-8")
