"""Snapshot cameras as the lanes' evidence: when a lane names a snapshot in a record (its reads brought no picture),
the lane's ``snapshot`` device is asked for one frame, stored under that name in the image folder the pushed JPEGs
use, so the console and the evidence upload find it like any other picture.

OpenCV is heavy: :mod:`drivers.snapshot` (and with it ``cv2``) is imported only when a site configures a snapshot
device, never at the edge's start-up otherwise.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from drivers.health import HealthChange
from edge.devices.cameras import write_image
from edge.site import SiteConfig, lane_devices
from edge.site.model import UrlConnection

_LOGGER = logging.getLogger(__name__)

TakeSnapshot = Callable[[str], Awaitable[None]]


@dataclass
class SiteSnapshots:
    """One grabber per snapshot device (a camera may serve several lanes), writing into ``image_dir``."""

    image_dir: Path
    on_health: list[Callable[[HealthChange], None]] = field(default_factory=list)
    grabbers: dict[str, Any] = field(default_factory=dict)

    def for_lane(self, site: SiteConfig, index: int) -> TakeSnapshot | None:
        """What takes the lane's snapshots (None: the lane has no snapshot device)."""
        resolved = lane_devices(site, index).get("snapshot")
        if resolved is None or not isinstance(resolved.device.connection, UrlConnection):
            return None
        grabber = self.grabbers.get(resolved.id)
        if grabber is None:
            from drivers.snapshot import SnapshotConfig, SnapshotGrabber  # OpenCV: only for a configured camera

            connection = resolved.device.connection
            config = SnapshotConfig(resolved.id, connection.url, timeout=connection.timeout_ms / 1000)
            grabber = self.grabbers[resolved.id] = SnapshotGrabber(config)
            grabber.health.listeners.extend(self.on_health)
        return self._taker(grabber)

    def _taker(self, grabber: Any) -> TakeSnapshot:
        from drivers.snapshot import SnapshotError

        async def take(image: str) -> None:
            try:
                shot = await grabber.grab()
            except SnapshotError as err:  # the record keeps the name; the picture is missing, and the health says why
                _LOGGER.warning("snapshot %s for %s not taken: %s", grabber.config.name, image, err)
                return
            await asyncio.to_thread(write_image, self.image_dir / image, shot.jpeg)

        return take
