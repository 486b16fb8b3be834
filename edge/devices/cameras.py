"""Plate cameras for the lanes: the LPR drivers' listeners (HTTP push, MQTT) built from the site file, and their
reads routed to the lanes that use each camera (front ``camera`` or ``rear_camera``).

A read the camera marks as failed (no plate) is dropped here: the lane treats it as no read. A camera that does
not report a confidence is trusted as if it said 1.0 (such cameras apply their own threshold before pushing).

Pictures a camera sends with a read are the evidence of every record about that vehicle (its session, an abnormal
event, a manual action). They are stored under ``<journal dir>/images/<yyyy-mm-dd>/<read id>-<kind>.jpg`` (the
day in the car park's zone) and the lane gets the relative name: the name is made before the event is submitted,
and the file is written in a worker thread after, so the lane's decision never waits for the disk.

Retention: the site's ``[retention] images_days`` (:mod:`edge.store.retention`) drops the day folders older than it,
keeping the pictures of vehicles still inside.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import time
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

from drivers.health import HealthChange, HealthTracker
from drivers.lpr import MILESIGHT, PlateImage, PlateRead, load_field_map
from drivers.lpr.http import HttpCameraConfig, PlateHttpListener, PlateListenerConfig
from drivers.lpr.http_auth import Credentials
from drivers.lpr.mqtt import MqttCameraConfig, MqttPlateSubscriber, MqttTls
from drivers.tasks import cancel_and_wait
from edge.devices.lifecycle import stop_within
from edge.lanes.events import LaneEvent, PlateSeen
from edge.site import Device
from edge.site.network import HttpListenConnection, MqttConnection
from parking import clock
from parking.ids import new_id

_LOGGER = logging.getLogger(__name__)

Submit = Callable[[LaneEvent, float], None]


def _utc_now() -> datetime:
    return clock.now()


def evidence_image(read: PlateRead) -> PlateImage | None:
    """The picture that stands for a read: the plate crop, else the vehicle, else the first one."""
    return read.image("plate") or read.image("vehicle") or (read.images[0] if read.images else None)


def plate_seen(read: PlateRead, stored: Mapping[str, str] | None = None) -> PlateSeen | None:
    """The lane event for a camera read, or None for a failed read.

    ``stored`` maps an image's kind to the name it is stored under (see :func:`image_names`); an image not stored
    is referred to by the camera's own path or file name.
    """
    if read.no_read or read.plate is None:
        return None
    image = evidence_image(read)
    reference = None
    if image is not None:
        reference = (stored or {}).get(image.kind) or image.path or image.name
    return PlateSeen(
        plate=read.plate,
        confidence=1.0 if read.confidence is None else float(read.confidence),
        colour=read.plate_color,
        camera=read.camera,
        image=reference,
        taken_at=read.at,
        event_id=read.event_id,
    )


def image_names(read: PlateRead, day: str, read_id: str) -> dict[str, str]:
    """Where each picture of ``read`` that came with its bytes is stored, relative to the image folder."""
    names: dict[str, str] = {}
    for image in read.images:
        if image.data is None or image.kind in names:
            continue
        kind = re.sub(r"[^a-z0-9_]+", "_", image.kind.lower()) or "image"
        names[image.kind] = f"{day}/{read_id}-{kind}.jpg"
    return names


def write_image(path: Path, data: bytes) -> None:
    """Write a picture whole or not at all: the console never serves half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.part")
    partial.write_bytes(data)
    os.replace(partial, path)


@dataclass
class SiteCameras:
    timezone: str = "UTC"
    routes: dict[str, list[Submit]] = field(default_factory=lambda: defaultdict(list))
    http: dict[tuple[str, int], list[HttpCameraConfig]] = field(default_factory=lambda: defaultdict(list))
    mqtt: dict[str, MqttCameraConfig] = field(default_factory=dict)
    listeners: list[Any] = field(default_factory=list)
    trackers: dict[str, HealthTracker] = field(default_factory=dict)  # each camera's health, once started
    image_dir: Path | None = None  # where pictures that come with reads are stored (None: not stored)
    base_dir: Path = field(default_factory=Path)  # the site file's folder: TLS files are relative to it
    environ: Mapping[str, str] = field(default_factory=lambda: os.environ)  # where passwords are read
    clock: Callable[[], datetime] = field(default_factory=lambda: _utc_now)  # names the day folder
    _pumps: list[asyncio.Task[None]] = field(default_factory=list)
    _writes: set[asyncio.Task[None]] = field(default_factory=set)

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
            credentials = None
            if conn.username is not None:
                credentials = Credentials(conn.username, self._password(device_id, conn.password_env), conn.auth)
            self.http[(host, int(port))].append(
                HttpCameraConfig(
                    device_id, protocol, field_map or MILESIGHT, silence_timeout=conn.silence_timeout_s, tz=zone,
                    path=conn.path if conn.path != "/" else None,
                    allow_from=tuple(conn.allow_from) if conn.allow_from is not None else None,
                    credentials=credentials,
                )
            )  # fmt: skip
        elif isinstance(conn, MqttConnection):
            rest = conn.broker.split("://", 1)[1]
            host, _, port = rest.partition(":")
            tls = None
            if conn.tls:
                tls = MqttTls(*(str(self.base_dir / f) if f else None for f in (conn.ca_file, conn.cert_file,
                                                                                  conn.key_file)))  # fmt: skip
            password = self._password(device_id, conn.password_env) if conn.username is not None else None
            self.mqtt[device_id] = MqttCameraConfig(
                name=device_id, topic=tuple(conn.topics), host=host, port=int(port or (8883 if conn.tls else 1883)),
                field_map=field_map or MILESIGHT, camera=device_id, qos=conn.qos, tz=zone, username=conn.username,
                password=password, tls=tls,
            )  # fmt: skip
        else:
            _LOGGER.warning("camera %s: connection %s is not supported for plate reads", device_id, conn.type)

    def _password(self, device_id: str, variable: str | None) -> str:
        """A camera's password from the environment; unset, the camera is refused everything (fails closed)."""
        value = self.environ.get(variable or "")
        if value:
            return value
        _LOGGER.error("camera %s: environment variable %s holds no password: its pushes are refused", device_id,
                      variable)  # fmt: skip
        return os.urandom(24).hex()

    async def start(self, on_health: list[Callable[[HealthChange], None]]) -> None:
        for (host, port), cameras in self.http.items():
            listener = PlateHttpListener(PlateListenerConfig(tuple(cameras), host=host, port=port, clock=self.clock))
            for camera in cameras:
                self.trackers[camera.name] = listener.health(camera.name)
                self.trackers[camera.name].listeners.extend(on_health)
            await listener.start()
            self._start_pump(listener)
        for config in self.mqtt.values():
            subscriber = MqttPlateSubscriber(replace(config, clock=self.clock))
            self.trackers[config.name] = subscriber.health
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
            received = time.perf_counter()
            stored = self._image_names(event)
            seen = plate_seen(event, stored)
            if seen is None:
                continue
            for submit in self.routes.get(event.camera, ()):
                submit(seen, received)
            if stored:
                self._store(event, stored)

    def _image_names(self, read: PlateRead) -> dict[str, str]:
        if self.image_dir is None or read.no_read or read.plate is None:
            return {}
        day = self.clock().astimezone(ZoneInfo(self.timezone)).date().isoformat()
        return image_names(read, day, new_id())

    def _store(self, read: PlateRead, stored: Mapping[str, str]) -> None:
        """Write the pictures after the lane has the event (a worker thread: the event loop never waits)."""
        assert self.image_dir is not None
        folder = self.image_dir
        pictures = [(folder / stored[i.kind], i.data) for i in read.images if i.data is not None and i.kind in stored]

        def write_all() -> None:
            for path, data in pictures:
                try:
                    write_image(path, data)
                except OSError:
                    _LOGGER.warning("camera %s: cannot store the picture %s", read.camera, path, exc_info=True)

        task = asyncio.create_task(asyncio.to_thread(write_all), name="plate-images")
        self._writes.add(task)
        task.add_done_callback(self._writes.discard)

    async def stop(self) -> None:
        for task in self._pumps:
            await cancel_and_wait(task)
        if self._writes:  # pictures already named in records: finish writing them
            await asyncio.wait(set(self._writes), timeout=5.0)

        for source in self.listeners:
            await stop_within(source.stop(), getattr(source.config, "name", "camera listener"))
