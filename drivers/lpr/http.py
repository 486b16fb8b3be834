"""The HTTP listener plate cameras push to (aiohttp server).

Each camera posts to ``/lpr/<camera name>`` or to an exact path of its own (``HttpCameraConfig.path``, e.g. the site
file's ``/isapi/north-in``); firmware that cannot set a path posts to ``/lpr`` or ``/`` and is known by its IP address.
Hikvision ISAPI (XML or multipart) or JSON through the camera's field map. A camera that pushes is healthy while it
talks: it goes ``offline`` when no event or heartbeat arrived for its ``silence_timeout``, ``degraded`` while it sends
documents that cannot be read. ``GET /lpr`` lists the cameras' health (for the installer; loopback only).

Who may push: each camera accepts only its ``allow_from`` addresses (by default loopback, or any address when it has
credentials) and, with ``credentials``, only pushes with HTTP digest (or basic) credentials
(:mod:`drivers.lpr.http_auth`). A refused push is answered 403 or 401, counted in ``parkgate_lpr_refused_total``
and logged once per source and reason; it never reaches the decoder.

Limits (:class:`ListenerLimits`): connections per listener and per source (past them: 503 and closed), a request
head must arrive within ``header_timeout`` of the connection or of the previous response (idle connections are
closed then too), a body within ``body_timeout`` (408), a body of at most ``max_body`` bytes (413). Bodies larger
than ``off_loop_bytes`` are decoded in a worker thread, so a costly document never holds the event loop the lanes
run on; the codecs bound the rest (XML depth and elements, every field: :mod:`drivers.lpr.fields`).

aiohttp is used because it is an asyncio server already installed for the project, handles multipart and large
bodies, and runs inside the edge's event loop.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import Literal

from aiohttp import web
from multidict import CIMultiDict

from drivers.health import Health, HealthTracker
from drivers.lpr.errors import LprError, LprProtocolError, LprTransportError
from drivers.lpr.events import CameraEvent, PlateRead
from drivers.lpr.fields import LprFieldError
from drivers.lpr.http_auth import LOOPBACK, CameraGuard, Credentials, address_allowed, networks
from drivers.lpr.http_guard import ConnectionGate, FloodFilter, OncePerKey
from drivers.lpr.isapi import decode_isapi
from drivers.lpr.jsonmap import MILESIGHT, FieldMap, decode_json
from drivers.lpr.metrics import ERRORS, FRAMES, LATENCY, REFUSED, REJECTED
from drivers.lpr.timestamps import real_now
from drivers.tasks import cancel_and_wait

_LOGGER = logging.getLogger(__name__)
_SERVER_LOGGER = logging.getLogger(f"{__name__}.server")  # aiohttp's own messages (malformed requests), filtered
_SERVER_LOGGER.addFilter(FloodFilter())
ANYWHERE = networks(["0.0.0.0/0", "::/0"])


@dataclass(frozen=True, slots=True)
class HttpCameraConfig:
    """One pushing camera: its name (the URL path and the ``camera`` of its events), how to read it, who it is.

    ``allow_from`` lists the addresses or networks it pushes from; ``None`` means its ``address`` when set, else
    loopback only, or anywhere when ``credentials`` are set (the credentials then identify it).
    """

    name: str
    protocol: Literal["isapi", "json"] = "isapi"
    field_map: FieldMap = MILESIGHT
    silence_timeout: float = 60.0
    tz: tzinfo = UTC
    address: str | None = None  # the camera's IP, for firmware that can only post to "/" or the bare prefix
    path: str | None = None  # an exact path of its own (e.g. "/isapi/north-in"), instead of <prefix>/<name>
    allow_from: tuple[str, ...] | None = None
    credentials: Credentials | None = None


@dataclass(frozen=True, slots=True)
class ListenerLimits:
    """What one listener accepts; see the module docstring."""

    max_body: int = 4 << 20
    max_connections: int = 64
    max_connections_per_source: int = 16
    header_timeout: float = 10.0
    body_timeout: float = 15.0
    decode_timeout: float = 2.0
    off_loop_bytes: int = 16 << 10
    log_interval: float = 300.0  # a refusal of one source for one reason is logged once in this window


@dataclass(frozen=True, slots=True)
class PlateListenerConfig:
    """Where to listen; ``port=0`` picks a free port (see :attr:`PlateHttpListener.port`)."""

    cameras: tuple[HttpCameraConfig, ...]
    host: str = "0.0.0.0"
    port: int = 8099
    path_prefix: str = "/lpr"
    name: str = "lpr-http"
    limits: ListenerLimits = ListenerLimits()
    # When a push arrived: the read's time when the camera gives none, and what its own time is checked against. The
    # edge hands in its clock (simulated under an accelerated run), so reads line up with the lanes' time.
    clock: Callable[[], datetime] = field(default=real_now)


@dataclass
class _Camera:
    config: HttpCameraConfig
    health: HealthTracker
    guard: CameraGuard
    last_seen: float | None = None
    errors_in_row: int = 0
    reasons: list[str] = field(default_factory=list)


class _GatedSite(web.BaseSite):
    """A TCP site whose connections pass the listener's :class:`ConnectionGate` before aiohttp sees them."""

    __slots__ = ("_gate", "_host", "_port")

    def __init__(self, runner: web.BaseRunner, host: str, port: int, gate: ConnectionGate) -> None:
        super().__init__(runner, backlog=512)
        self._host, self._port, self._gate = host, port, gate

    @property
    def name(self) -> str:
        return f"http://{self._host}:{self._port}"

    async def start(self) -> None:
        await super().start()
        server = self._runner.server
        assert server is not None
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(self._gate.wrap(server), self._host, self._port, backlog=512)


class PlateHttpListener:
    """Receives pushes, puts :class:`PlateRead` / :class:`CameraHeartbeat` on :attr:`events`."""

    def __init__(self, config: PlateListenerConfig) -> None:
        self.config = config
        self.limits = config.limits
        self.events: asyncio.Queue[CameraEvent] = asyncio.Queue()
        self._cameras = {c.name: self._camera(c) for c in config.cameras}
        self._by_address = {c.address: c.name for c in config.cameras if c.address}
        self._by_path = {c.path: c.name for c in config.cameras if c.path}
        self._log = OncePerKey(_LOGGER, config.limits.log_interval)
        self._gate = ConnectionGate(config.name, config.limits.max_connections,
                                    config.limits.max_connections_per_source, self._log)  # fmt: skip
        self._executor: ThreadPoolExecutor | None = None
        self._runner: web.AppRunner | None = None
        self._watchdog: asyncio.Task[None] | None = None
        self.port: int = config.port

    @staticmethod
    def _camera(config: HttpCameraConfig) -> _Camera:
        if config.allow_from is not None:
            allowed = networks(config.allow_from)
        elif config.address is not None:
            allowed = networks([config.address])  # a camera known by its address comes from it
        else:
            allowed = ANYWHERE if config.credentials is not None else LOOPBACK
        return _Camera(
            config, HealthTracker(config.name, reason="no event yet"), CameraGuard(allowed, config.credentials)
        )

    def health(self, camera: str) -> HealthTracker:
        return self._cameras[camera].health

    @property
    def open_connections(self) -> int:
        """Connections open now (admitted by the gate)."""
        return self._gate.open

    async def start(self) -> None:
        if self._runner is not None:
            return
        limits = self.limits
        app = web.Application(client_max_size=limits.max_body)
        prefix = self.config.path_prefix.rstrip("/")
        for path in self._by_path:  # before the generic route, which would otherwise take them
            app.router.add_post(path, self._on_post)
        app.router.add_post(prefix + "/{camera}", self._on_post)
        app.router.add_post(prefix or "/", self._on_post)
        if prefix:
            app.router.add_post("/", self._on_post)
        app.router.add_get(prefix or "/", self._on_status)
        # keepalive_timeout closes a connection whose request head has not arrived in time (idle or half-sent)
        runner = web.AppRunner(app, access_log=None, handle_signals=False, keepalive_timeout=limits.header_timeout,
                               lingering_time=1.0, max_line_size=4096, max_field_size=4096, max_headers=64,
                               shutdown_timeout=1.0, logger=_SERVER_LOGGER)  # fmt: skip
        await runner.setup()
        site = _GatedSite(runner, self.config.host, self.config.port, self._gate)
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
        self._executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix=f"{self.config.name}-decode")
        for camera in self._cameras.values():
            camera.last_seen = time.monotonic()  # the silence allowance starts now
        self._watchdog = asyncio.create_task(self._watch(), name=f"{self.config.name}-watchdog")
        _LOGGER.info("%s listening on %s:%s%s/<camera>", self.config.name, self.config.host, self.port, prefix)

    async def stop(self) -> None:
        if self._watchdog is not None:
            await cancel_and_wait(self._watchdog)
            self._watchdog = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None
        for camera in self._cameras.values():
            camera.health.set(Health.OFFLINE, "listener stopped")

    async def __aenter__(self) -> PlateHttpListener:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def _refuse(self, request: web.Request, status: int, reason: str, text: str, *, level: int = logging.WARNING,
                headers: CIMultiDict[str] | None = None) -> web.Response:  # fmt: skip
        source = request.remote or "?"
        REFUSED.labels(self.config.name, reason).inc()
        self._log.log(level, f"{source} {reason}", "%s: push to %r from %s refused (%s): %s", self.config.name,
                      request.path[:80], source, reason, text)  # fmt: skip
        response = web.Response(status=status, text=f"{text}\n", headers=headers)
        if status in (408, 413):
            response.force_close()
        return response

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
            return self._refuse(request, 404, "unknown-camera", "unknown camera")
        verdict = camera.guard.check(request.remote, request.method, request.raw_path,
                                     request.headers.get("Authorization"))  # fmt: skip
        if verdict.status != 200:
            headers = CIMultiDict(("WWW-Authenticate", value) for value in verdict.challenge)
            level = logging.INFO if verdict.reason == "credentials-missing" else logging.WARNING
            return self._refuse(request, verdict.status, verdict.reason, f"camera {name}: not authorised",
                                level=level, headers=headers)  # fmt: skip
        if (request.content_length or 0) > self.limits.max_body:
            camera.health.set(Health.DEGRADED, "pushed a body larger than allowed")
            return self._refuse(request, 413, "body-too-large", f"body over {self.limits.max_body} bytes")
        try:
            async with asyncio.timeout(self.limits.body_timeout):
                body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            camera.health.set(Health.DEGRADED, "pushed a body larger than allowed")
            return self._refuse(request, 413, "body-too-large", f"body over {self.limits.max_body} bytes")
        except TimeoutError:
            return self._refuse(request, 408, "body-timeout", f"body not sent within {self.limits.body_timeout:g} s")
        received = self.config.clock()
        content_type = request.headers.get("Content-Type")
        try:
            event = await self._decode_bounded(camera.config, body, content_type, received)
        except LprError as err:
            return self._unreadable(camera, err, body)
        camera.last_seen = time.monotonic()
        camera.health.set(Health.ONLINE, "pushing events")
        FRAMES.labels(name, "plate" if isinstance(event, PlateRead) else "heartbeat").inc()
        self.events.put_nowait(event)
        LATENCY.labels(name).observe(time.perf_counter() - started)
        return web.Response(text="OK\n")

    def _unreadable(self, camera: _Camera, err: LprError, body: bytes) -> web.Response:
        name = camera.config.name
        camera.last_seen = time.monotonic()  # it talks, however badly
        reason = err.reason if isinstance(err, LprFieldError) else "protocol"
        if isinstance(err, LprFieldError):
            REJECTED.labels(name, err.reason).inc()
        ERRORS.labels(name, "protocol").inc()
        self._log.log(logging.WARNING, f"{name} {reason}", "%s: push refused: %s", name, str(err)[:300])
        if _LOGGER.isEnabledFor(logging.DEBUG):
            _LOGGER.debug("%s: rejected body %s", name, body[:256].hex(" "))
        camera.health.set(Health.DEGRADED, f"unreadable push: {str(err)[:120]}")
        return web.Response(status=400, text=f"{str(err)[:300]}\n")

    async def _decode_bounded(
        self, config: HttpCameraConfig, body: bytes, content_type: str | None, received: datetime
    ) -> CameraEvent:
        """Small bodies on the loop (microseconds); larger ones in a worker thread, within ``decode_timeout``."""
        if len(body) <= self.limits.off_loop_bytes or self._executor is None:
            return self._decode(config, body, content_type, received)
        loop = asyncio.get_running_loop()
        work = loop.run_in_executor(self._executor, self._decode, config, body, content_type, received)
        try:
            async with asyncio.timeout(self.limits.decode_timeout):
                return await work
        except TimeoutError:
            raise LprProtocolError(f"document not decoded within {self.limits.decode_timeout:g} s",
                                   device=config.name) from None  # fmt: skip

    @staticmethod
    def _decode(config: HttpCameraConfig, body: bytes, content_type: str | None, received: datetime) -> CameraEvent:
        if config.protocol == "isapi":
            return decode_isapi(body, content_type=content_type, camera=config.name, default_tz=config.tz,
                                received_at=received)  # fmt: skip
        if content_type and "multipart" in content_type.lower():
            raise LprProtocolError("multipart body where JSON was expected")
        return decode_json(body, config.field_map, camera=config.name, default_tz=config.tz, received_at=received)

    async def _on_status(self, request: web.Request) -> web.Response:
        if not address_allowed(request.remote, LOOPBACK):
            return self._refuse(request, 403, "address", "camera status is for the installer on this host")
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
