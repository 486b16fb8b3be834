"""JSON plate events over MQTT (aiomqtt 2.x): subscribe, decode through the field map, reconnect with backoff.

Health is the broker connection: ``online`` while subscribed, ``offline`` at once when the connection drops, and
again ``online`` after the automatic reconnection. With ``silence_timeout`` set, a camera that sends nothing for that
long also makes the subscriber ``degraded`` (the broker is fine, the camera is not talking).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime, tzinfo

import aiomqtt

from drivers.health import Backoff, Health, HealthTracker
from drivers.lpr.errors import LprError
from drivers.lpr.events import PlateRead
from drivers.lpr.jsonmap import MILESIGHT, FieldMap, decode_json
from drivers.lpr.metrics import ERRORS, FRAMES, LATENCY, RECONNECTS

_LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class MqttCameraConfig:
    """A broker and the topic filter(s) the cameras publish on.

    The camera of a read is ``camera`` when set (one camera on these topics, e.g. the site file's ``camera_id``);
    else the topic level ``camera_topic_level`` (``parkgate/lpr/<camera>`` -> 2); else the field map's camera field;
    else ``name``.
    """

    name: str
    topic: str | tuple[str, ...]
    host: str = "127.0.0.1"
    port: int = 1883
    field_map: FieldMap = MILESIGHT
    camera_topic_level: int | None = None
    camera: str | None = None
    username: str | None = None
    password: str | None = None
    keepalive: int = 10
    qos: int = 1
    silence_timeout: float | None = None
    max_backoff: float = 5.0
    tz: tzinfo = UTC


class MqttPlateSubscriber:
    """Subscribes to plate events; :class:`PlateRead` arrive on :attr:`events`."""

    def __init__(self, config: MqttCameraConfig) -> None:
        self.config = config
        self.health = HealthTracker(config.name)
        self.events: asyncio.Queue[PlateRead] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._backoff = Backoff(initial=0.05, maximum=config.max_backoff)
        self._last_message = time.monotonic()
        self.connections = 0
        self.topics: tuple[str, ...] = (config.topic,) if isinstance(config.topic, str) else tuple(config.topic)

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"mqtt-{self.config.name}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self.health.set(Health.OFFLINE, "stopped")

    async def __aenter__(self) -> MqttPlateSubscriber:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _run(self) -> None:
        cfg = self.config
        identifier = f"parkgate-{cfg.name}-{uuid.uuid4().hex[:8]}"
        while True:
            try:
                async with aiomqtt.Client(
                    cfg.host, cfg.port, identifier=identifier, username=cfg.username, password=cfg.password,
                    keepalive=cfg.keepalive, timeout=2.0,
                ) as client:  # fmt: skip
                    for topic in self.topics:
                        await client.subscribe(topic, qos=cfg.qos)
                    self.connections += 1
                    if self.connections > 1:
                        RECONNECTS.labels(cfg.name).inc()
                    self._backoff.reset()
                    self._last_message = time.monotonic()
                    self.health.set(Health.ONLINE, f"subscribed to {', '.join(self.topics)} on {cfg.host}:{cfg.port}")
                    watchdog = asyncio.create_task(self._watch_silence()) if cfg.silence_timeout else None
                    try:
                        async for message in client.messages:
                            self._on_message(str(message.topic), message.payload)
                    finally:
                        if watchdog is not None:
                            watchdog.cancel()
            except aiomqtt.MqttError as err:
                ERRORS.labels(cfg.name, "transport").inc()
                self.health.set(Health.OFFLINE, f"broker {cfg.host}:{cfg.port}: {err}")
            await asyncio.sleep(self._backoff.next_delay())

    def _on_message(self, topic: str, payload: object) -> None:
        started = time.perf_counter()
        self._last_message = time.monotonic()
        cfg = self.config
        if not isinstance(payload, bytes | bytearray):
            payload = str(payload).encode()
        camera = cfg.camera
        if camera is None and cfg.camera_topic_level is not None:
            levels = topic.split("/")
            if cfg.camera_topic_level < len(levels):
                camera = levels[cfg.camera_topic_level]
        try:
            read = decode_json(bytes(payload), cfg.field_map, camera=camera, default_tz=cfg.tz,
                               received_at=datetime.now(UTC))  # fmt: skip
        except LprError as err:
            ERRORS.labels(cfg.name, "protocol").inc()
            _LOGGER.warning("%s: message on %s: %s", cfg.name, topic, err)
            return
        if camera is None and read.camera == "unknown":
            read = replace(read, camera=cfg.name)
        read.extra["topic"] = topic
        FRAMES.labels(cfg.name, "plate").inc()
        self.events.put_nowait(read)
        LATENCY.labels(cfg.name).observe(time.perf_counter() - started)
        if self.health.health is Health.DEGRADED:
            self.health.set(Health.ONLINE, f"subscribed to {', '.join(self.topics)}")

    async def _watch_silence(self) -> None:
        timeout = self.config.silence_timeout
        assert timeout is not None
        while True:
            await asyncio.sleep(max(0.02, timeout / 5))
            if time.monotonic() - self._last_message > timeout and self.health.health is Health.ONLINE:
                self.health.set(Health.DEGRADED, f"broker connected but no plate event for {timeout:g} s")
