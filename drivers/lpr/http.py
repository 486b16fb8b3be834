"""The HTTP listener plate cameras push to (aiohttp server).

Each camera posts to ``/lpr/<camera name>`` or to an exact path of its own (``HttpCameraConfig.path``, e.g. the site
file's ``/isapi/north-in``); firmware that cannot set a path posts to ``/lpr`` or ``/`` and is known by its IP address.
Hikvision ISAPI (XML or multipart) or JSON through the camera's field map. A camera that pushes is healthy while it
talks: it goes ``offline`` when no event or heartbeat arrived for its ``silence_timeout``, ``degraded`` while it sends
documents that cannot be read. ``GET /lpr`` lists the cameras' health (for the installer).

aiohttp is used because it is an asyncio server already installed for the project, handles multipart and large
bodies, and runs inside the edge's event loop without threads.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import Literal

from aiohttp import web

from drivers.health import Health, HealthTracker
from drivers.lpr.errors import LprError, LprProtocolError, LprTransportError
from drivers.lpr.events import CameraEvent, PlateRead
from drivers.lpr.isapi import decode_isapi
from drivers.lpr.jsonmap import MILESIGHT, FieldMap, decode_json
from drivers.lpr.metrics import ERRORS, FRAMES, LATENCY

_LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class HttpCameraConfig:
    """One pushing camera: its name (the URL path and the ``camera`` of its events) and how to read it."""

    name: str
    protocol: Literal["isapi", "json"] = "isapi"
    field_map: FieldMap = MILESIGHT
    silence_timeout: float = 60.0
    tz: tzinfo = UTC
    address: str | None = None  # the camera's IP, for firmware that can only post to "/" or the bare prefix
    path: str | None = None  # an exact path of its own (e.g. "/isapi/north-in"), instead of <prefix>/<name>


@dataclass(frozen=True, slots=True)
class PlateListenerConfig:
    """Where to listen; ``port=0`` picks a free port (see :attr:`PlateHttpListener.port`)."""

    cameras: tuple[HttpCameraConfig, ...]
    host: str = "0.0.0.0"
    port: int = 8099
    max_body: int = 8 << 20
    path_prefix: str = "/lpr"
    name: str = "lpr-http"


@dataclass
class _Camera:
    config: HttpCameraConfig
    health: HealthTracker
    last_seen: float | None = None
    errors_in_row: int = 0
    reasons: list[str] = field(default_factory=list)


class PlateHttpListener:
    """Receives pushes, puts :class:`PlateRead` / :class:`CameraHeartbeat` on :attr:`events`."""

    def __init__(self, config: PlateListenerConfig) -> None:
        self.config = config
        self.events: asyncio.Queue[CameraEvent] = asyncio.Queue()
        self._cameras = {c.name: _Camera(c, HealthTracker(c.name, reason="no event yet")) for c in config.cameras}
        self._by_address = {c.address: c.name for c in config.cameras if c.address}
        self._by_path = {c.path: c.name for c in config.cameras if c.path}
        self._runner: web.AppRunner | None = None
        self._watchdog: asyncio.Task[None] | None = None
        self.port: int = config.port

    def health(self, camera: str) -> HealthTracker:
        return self._cameras[camera].health

    async def start(self) -> None:
        if self._runner is not None:
            return
        app = web.Application(client_max_size=self.config.max_body)
        prefix = self.config.path_prefix.rstrip("/")
        for path in self._by_path:  # before the generic route, which would otherwise take them
            app.router.add_post(path, self._on_post)
        app.router.add_post(prefix + "/{camera}", self._on_post)
        app.router.add_post(prefix or "/", self._on_post)
        if prefix:
            app.router.add_post("/", self._on_post)
        app.router.add_get(prefix or "/", self._on_status)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, self.config.host, self.config.port)
        try:
            await site.start()
        except OSError as err:
            await runner.cleanup()
            raise LprTransportError(f"cannot listen on {self.config.host}:{self.config.port}: {err}") from err
        self._runner = runner
        for address in runner.addresses:
            if isinstance(address, tuple):
                self.port = int(address[1])
                break
        for camera in self._cameras.values():
            camera.last_seen = time.monotonic()  # the silence allowance starts now
        self._watchdog = asyncio.create_task(self._watch(), name=f"{self.config.name}-watchdog")
        _LOGGER.info("%s listening on %s:%s%s/<camera>", self.config.name, self.config.host, self.port, prefix)

    async def stop(self) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watchdog
            self._watchdog = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        for camera in self._cameras.values():
            camera.health.set(Health.OFFLINE, "listener stopped")

    async def __aenter__(self) -> PlateHttpListener:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _on_post(self, request: web.Request) -> web.Response:
        started = time.perf_counter()
        name = (
            self._by_path.get(request.path)
            or request.match_info.get("camera")
            or self._by_address.get(request.remote or "", "")
        )
        camera = self._cameras.get(name)
        if camera is None:
            ERRORS.labels(self.config.name, "unknown-camera").inc()
            _LOGGER.warning("%s: push for unknown camera %r from %s", self.config.name, name, request.remote)
            return web.Response(status=404, text=f"unknown camera {name or request.remote!r}\n")
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            ERRORS.labels(name, "too-large").inc()
            camera.health.set(Health.DEGRADED, "pushed a body larger than allowed")
            return web.Response(status=413, text="body too large\n")
        received = datetime.now(UTC)
        camera.last_seen = time.monotonic()
        try:
            event = self._decode(camera.config, body, request.headers.get("Content-Type"), received)
        except LprError as err:
            ERRORS.labels(name, "protocol").inc()
            _LOGGER.warning("%s: %s", name, err)
            if _LOGGER.isEnabledFor(logging.DEBUG):
                _LOGGER.debug("%s: rejected body %s", name, body[:256].hex(" "))
            camera.health.set(Health.DEGRADED, f"unreadable push: {str(err)[:120]}")
            return web.Response(status=400, text=f"{err}\n")
        camera.health.set(Health.ONLINE, "pushing events")
        FRAMES.labels(name, "plate" if isinstance(event, PlateRead) else "heartbeat").inc()
        self.events.put_nowait(event)
        LATENCY.labels(name).observe(time.perf_counter() - started)
        return web.Response(text="OK\n")

    @staticmethod
    def _decode(config: HttpCameraConfig, body: bytes, content_type: str | None, received: datetime) -> CameraEvent:
        if config.protocol == "isapi":
            return decode_isapi(body, content_type=content_type, camera=config.name, default_tz=config.tz,
                                received_at=received)  # fmt: skip
        if content_type and "multipart" in content_type.lower():
            raise LprProtocolError("multipart body where JSON was expected")
        return decode_json(body, config.field_map, camera=config.name, default_tz=config.tz, received_at=received)

    async def _on_status(self, request: web.Request) -> web.Response:
        return web.json_response(
            {n: {"health": c.health.health.value, "reason": c.health.reason} for n, c in self._cameras.items()}
        )

    async def _watch(self) -> None:
        period = max(0.02, min(1.0, min((c.config.silence_timeout for c in self._cameras.values()), default=1) / 5))
        while True:
            now = time.monotonic()
            for camera in self._cameras.values():
                timeout = camera.config.silence_timeout
                if camera.last_seen is not None and now - camera.last_seen > timeout:
                    if camera.health.health is not Health.OFFLINE:
                        ERRORS.labels(camera.config.name, "silent").inc()
                    camera.health.set(Health.OFFLINE, f"no event or heartbeat for {timeout:g} s")
            await asyncio.sleep(period)
