"""Plate cameras for the lanes: the LPR drivers' listeners (HTTP push, MQTT) built from the site file, and their
reads routed to the lanes that use each camera (front ``camera`` or ``rear_camera``).

A read the camera marks as failed (no plate) is dropped here: the lane treats it as no read. A camera that does
not report a confidence is trusted as if it said 1.0 (such cameras apply their own threshold before pushing).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal
from zoneinfo import ZoneInfo

from drivers.health import HealthChange
from drivers.lpr import MILESIGHT, PlateRead, load_field_map
from drivers.lpr.http import HttpCameraConfig, PlateHttpListener, PlateListenerConfig
from drivers.lpr.mqtt import MqttCameraConfig, MqttPlateSubscriber
from edge.events import LaneEvent, PlateSeen
from parking.site import Device, HttpListenConnection, MqttConnection

_LOGGER = logging.getLogger(__name__)

Submit = Callable[[LaneEvent, float], None]


def plate_seen(read: PlateRead) -> PlateSeen | None:
    """The lane event for a camera read, or None for a failed read."""
    if read.no_read or read.plate is None:
        return None
    image = read.image("plate") or read.image("vehicle") or (read.images[0] if read.images else None)
    return PlateSeen(
        plate=read.plate,
        confidence=1.0 if read.confidence is None else float(read.confidence),
        colour=read.plate_color,
        camera=read.camera,
        image=(image.path or image.name) if image else None,
    )


@dataclass
class SiteCameras:
    timezone: str = "UTC"
    routes: dict[str, list[Submit]] = field(default_factory=lambda: defaultdict(list))
    http: dict[tuple[str, int], list[HttpCameraConfig]] = field(default_factory=lambda: defaultdict(list))
    mqtt: dict[str, MqttCameraConfig] = field(default_factory=dict)
    listeners: list[Any] = field(default_factory=list)
    _pumps: list[asyncio.Task[None]] = field(default_factory=list)

    def add(self, device_id: str, device: Device, submit: Submit) -> None:
        """Route ``device``'s reads to a lane (a camera may serve several lanes)."""
        first = device_id not in self.routes
        self.routes[device_id].append(submit)
        if not first:
            return
        conn = device.connection
        field_map = load_field_map(device.field_map) if device.field_map is not None else None
        zone = ZoneInfo(self.timezone)
        if isinstance(conn, HttpListenConnection):
            host, _, port = conn.listen.rpartition(":")
            protocol: Literal["isapi", "json"] = "isapi" if device.driver == "hikvision_isapi" else "json"
            self.http[(host, int(port))].append(
                HttpCameraConfig(
                    device_id, protocol, field_map or MILESIGHT, tz=zone, path=conn.path if conn.path != "/" else None
                )
            )
        elif isinstance(conn, MqttConnection):
            rest = conn.broker.split("://", 1)[1]
            host, _, port = rest.partition(":")
            self.mqtt[device_id] = MqttCameraConfig(
                name=device_id, topic=tuple(conn.topics), host=host, port=int(port or 1883),
                field_map=field_map or MILESIGHT, camera=device_id, qos=conn.qos, tz=zone,
            )  # fmt: skip
        else:
            _LOGGER.warning("camera %s: connection %s is not supported for plate reads", device_id, conn.type)

    async def start(self, on_health: list[Callable[[HealthChange], None]]) -> None:
        for (host, port), cameras in self.http.items():
            listener = PlateHttpListener(PlateListenerConfig(tuple(cameras), host=host, port=port))
            for camera in cameras:
                listener.health(camera.name).listeners.extend(on_health)
            await listener.start()
            self._start_pump(listener)
        for config in self.mqtt.values():
            subscriber = MqttPlateSubscriber(config)
            subscriber.health.listeners.extend(on_health)
            await subscriber.start()
            self._start_pump(subscriber)

    def _start_pump(self, source: Any) -> None:
        self.listeners.append(source)
        self._pumps.append(asyncio.create_task(self._pump(source), name="plate-reads"))

    async def _pump(self, source: Any) -> None:
        while True:
            event = await source.events.get()
            if not isinstance(event, PlateRead):
                continue  # heartbeats: the driver keeps the camera's health
            seen = plate_seen(event)
            if seen is None:
                continue
            received = time.perf_counter()
            for submit in self.routes.get(event.camera, ()):
                submit(seen, received)

    async def stop(self) -> None:
        for task in self._pumps:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        from edge.devices import stop_within  # the shared bounded stop (devices imports this module)

        for source in self.listeners:
            await stop_within(source.stop(), getattr(source.config, "name", "camera listener"))
