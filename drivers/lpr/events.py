"""The one event every plate camera driver emits: :class:`PlateRead` (and :class:`CameraHeartbeat` for keep-alives).

The plate text is kept exactly as the camera read it (normalisation and look-alike handling belong to
``parking.plates``); a read the camera itself marks as failed ("unknown", "无车牌", confidence 0) has ``plate=None``.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from drivers.lpr.fields import NO_READ_MARKERS, is_no_read


class Direction(StrEnum):
    APPROACH = "approach"  # towards the camera (Hikvision "forward", Milesight "Approach")
    AWAY = "away"  # away from the camera (Hikvision "reverse", Milesight "Away")
    UNKNOWN = "unknown"


DIRECTION_WORDS: dict[str, Direction] = {
    "forward": Direction.APPROACH, "approach": Direction.APPROACH, "approaching": Direction.APPROACH,
    "in": Direction.APPROACH, "toward": Direction.APPROACH, "towards": Direction.APPROACH, "1": Direction.APPROACH,
    "reverse": Direction.AWAY, "away": Direction.AWAY, "leave": Direction.AWAY, "leaving": Direction.AWAY,
    "out": Direction.AWAY, "2": Direction.AWAY,
}  # fmt: skip

# The cameras' "no plate" markers, compared cleaned (lower case, without spaces or dashes): see drivers.lpr.fields.
NO_READ_PLATES = NO_READ_MARKERS


def direction_from(word: str | None) -> Direction:
    """Map a camera's direction word to :class:`Direction` (anything unknown is ``UNKNOWN``)."""
    if word is None:
        return Direction.UNKNOWN
    return DIRECTION_WORDS.get(word.strip().lower(), Direction.UNKNOWN)


def plate_or_none(text: str | None) -> str | None:
    """The plate as read, or ``None`` for the camera's "no plate" markers (no bounds: see ``fields.check_plate``)."""
    if text is None:
        return None
    stripped = text.strip()
    return None if is_no_read(stripped) else stripped


@dataclass(frozen=True, slots=True)
class PlateImage:
    """An image that came with a read: ``kind`` is "plate" (the plate crop), "vehicle" or "scene"."""

    kind: str
    name: str
    content_type: str = "image/jpeg"
    data: bytes | None = None
    path: str | None = None

    def as_dict(self, *, with_data: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "name": self.name, "content_type": self.content_type}
        if self.data is not None:
            out["size"] = len(self.data)
            if with_data:
                out["base64"] = base64.b64encode(self.data).decode("ascii")
        if self.path is not None:
            out["path"] = self.path
        return out


@dataclass(frozen=True, slots=True)
class PlateRead:
    """One plate read by a camera.

    ``confidence`` is 0..1 (``None`` when the camera did not say); ``at`` is the camera's time, timezone-aware;
    ``raw`` is the document exactly as received (the XML part of a multipart, or the JSON), kept as evidence.
    """

    camera: str
    plate: str | None
    confidence: float | None
    direction: Direction
    at: datetime
    source: str  # "hikvision-isapi" or "json"
    plate_color: str | None = None
    vehicle_type: str | None = None
    event_id: str | None = None
    images: tuple[PlateImage, ...] = ()
    raw: bytes = b""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def no_read(self) -> bool:
        return self.plate is None or self.confidence == 0

    def image(self, kind: str) -> PlateImage | None:
        return next((image for image in self.images if image.kind == kind), None)

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": "plate_read",
            "camera": self.camera,
            "plate": self.plate,
            "no_read": self.no_read,
            "confidence": self.confidence,
            "direction": self.direction.value,
            "at": self.at.isoformat(),
            "plate_color": self.plate_color,
            "vehicle_type": self.vehicle_type,
            "event_id": self.event_id,
            "source": self.source,
            "images": [image.as_dict() for image in self.images],
            "extra": self.extra,
        }


@dataclass(frozen=True, slots=True)
class CameraHeartbeat:
    """A camera said it is alive without reading a plate (an ISAPI heartbeat or a non-ANPR alert)."""

    camera: str
    at: datetime
    event_type: str
    raw: bytes = b""

    def as_dict(self) -> dict[str, Any]:
        return {"kind": "heartbeat", "camera": self.camera, "at": self.at.isoformat(), "event_type": self.event_type}


CameraEvent = PlateRead | CameraHeartbeat
