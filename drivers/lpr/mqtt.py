"""JSON plate events over MQTT (aiomqtt 2.x): subscribe, decode through the field map, reconnect with backoff.

Each camera (or the edge, for a group of cameras) has its own broker account (``username``/``password``) and, with
``tls``, the connection is TLS: the broker's certificate checked against ``ca_file`` (or the system's CAs) and, with
``cert_file``/``key_file``, a client certificate presented. See config/mosquitto/ for the broker's side.

Reads are not lost across a broker restart or a dropped connection: the subscriber connects with MQTT 5 and a
persistent session (``clean_start`` off, the session kept ``session_expiry_s`` after a disconnection) and subscribes at
QoS 1, so the broker keeps the reads published meanwhile and delivers them on the reconnection (across a restart of
the broker itself when it has ``persistence true``, see config/mosquitto/). QoS 1 is at least once: a read the broker
delivers again (its acknowledgement was lost with the connection), or a camera resending one it was not sure of, is
dropped here by the camera's event id, or else by topic, plate and capture time, so each read reaches the lane once.

Health is the broker connection: ``online`` while subscribed, ``offline`` at once when the connection drops, and
again ``online`` after the automatic reconnection. With ``silence_timeout`` set, a camera that sends nothing for that
long also makes the subscriber ``degraded`` (the broker is fine, the camera is not talking).
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, tzinfo

import aiomqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from drivers.health import Backoff, Health, HealthTracker
from drivers.lpr.errors import LprError, LprTransportError
from drivers.lpr.events import PlateRead
from drivers.lpr.fields import MAX_NAME, LprFieldError, check_text
from drivers.lpr.jsonmap import MILESIGHT, FieldMap, decode_json
from drivers.lpr.metrics import ERRORS, FRAMES, LATENCY, RECONNECTS, REJECTED
from drivers.lpr.timestamps import real_now
from drivers.tasks import DriverTask

_LOGGER = logging.getLogger(__name__)


MAX_MESSAGE = 4 << 20  # bytes of one plate event (two base64 pictures fit well)
SEEN_READS = 1024  # the last reads remembered to drop a redelivery (QoS 1 redelivers within seconds, not hours)


@dataclass(frozen=True, slots=True)
class MqttTls:
    """TLS to the broker: the CA that signed its certificate (``None``: the system's) and our client certificate."""

    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None

    def context(self) -> ssl.SSLContext:
        """The client context; raises :class:`LprTransportError` when a file cannot be read."""
        try:
            context = ssl.create_default_context(cafile=self.ca_file)
            if self.cert_file is not None:
                context.load_cert_chain(self.cert_file, self.key_file)
        except (OSError, ssl.SSLError) as err:
            raise LprTransportError(f"TLS files ({self.ca_file}, {self.cert_file}): {err}") from err
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        return context


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
    tls: MqttTls | None = None
    clock: Callable[[], datetime] = field(default=real_now)  # when a message arrived (see http.py)
    session_expiry_s: int = 3600  # how long the broker keeps our session (and queues reads) while we are away
    client_id: str | None = None  # a fixed id also keeps the session across restarts of the edge


def _kept_in(inboxes: list[asyncio.Queue[aiomqtt.Message]]) -> type[asyncio.Queue[aiomqtt.Message]]:
    """A queue class for aiomqtt's incoming messages whose instance lands in ``inboxes``, so the messages it still
    holds when the connection drops can be taken (aiomqtt stops its iteration at once, with messages left)."""

    class KeptInbox(asyncio.Queue[aiomqtt.Message]):
        def __init__(self, maxsize: int = 0) -> None:
            super().__init__(maxsize)
            inboxes.append(self)

    return KeptInbox


class MqttPlateSubscriber:
    """Subscribes to plate events; :class:`PlateRead` arrive on :attr:`events`."""

    def __init__(self, config: MqttCameraConfig) -> None:
        self.config = config
        self.health = HealthTracker(config.name)
        self.events: asyncio.Queue[PlateRead] = asyncio.Queue()
        self._task = DriverTask(f"mqtt-{config.name}")
        self._backoff = Backoff(initial=0.05, maximum=config.max_backoff)
        self._last_message = time.monotonic()
        self._last_refusal_log = -1e9
        self.connections = 0
        self.duplicates = 0  # reads dropped as delivered before
        self._seen: OrderedDict[tuple[object, ...], None] = OrderedDict()
        self.topics: tuple[str, ...] = (config.topic,) if isinstance(config.topic, str) else tuple(config.topic)

    async def start(self) -> None:
        self._task.start(self._run)

    async def stop(self) -> None:
        await self._task.stop()
        self.health.set(Health.OFFLINE, "stopped")

    async def __aenter__(self) -> MqttPlateSubscriber:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _run(self) -> None:
        cfg = self.config
        # one id for every connection of this subscriber: the broker resumes its session on each reconnection
        identifier = cfg.client_id or f"parkgate-{cfg.name}-{uuid.uuid4().hex[:8]}"
        session = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        session.SessionExpiryInterval = cfg.session_expiry_s
        while True:
            inboxes: list[asyncio.Queue[aiomqtt.Message]] = []
            try:
                tls_context = cfg.tls.context() if cfg.tls is not None else None
                async with aiomqtt.Client(
                    cfg.host, cfg.port, identifier=identifier, username=cfg.username, password=cfg.password,
                    keepalive=cfg.keepalive, timeout=2.0, tls_context=tls_context,
                    protocol=aiomqtt.ProtocolVersion.V5, clean_start=False, properties=session,
                    queue_type=_kept_in(inboxes),
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
            except (aiomqtt.MqttError, LprTransportError) as err:
                ERRORS.labels(cfg.name, "transport").inc()
                self.health.set(Health.OFFLINE, f"broker {cfg.host}:{cfg.port}: {err}")
            # Reads received (and so acknowledged to the broker) but not taken yet when the connection dropped: the
            # client forgets them, the broker will not send them again, so they are taken now.
            for inbox in inboxes:
                while not inbox.empty():
                    message = inbox.get_nowait()
                    self._on_message(str(message.topic), message.payload)
            await asyncio.sleep(self._backoff.next_delay())

    def _on_message(self, topic: str, payload: object) -> None:
        started = time.perf_counter()
        self._last_message = time.monotonic()
        cfg = self.config
        if not isinstance(payload, bytes | bytearray):
            payload = str(payload).encode()
        if len(payload) > MAX_MESSAGE:
            ERRORS.labels(cfg.name, "too-large").inc()
            self._log_refusal(topic, f"message of {len(payload)} bytes, more than {MAX_MESSAGE}")
            return
        camera = cfg.camera
        try:
            if camera is None and cfg.camera_topic_level is not None:
                levels = topic.split("/")
                if cfg.camera_topic_level < len(levels):
                    camera = check_text(levels[cfg.camera_topic_level], device=cfg.name, field="topic", limit=MAX_NAME)
            read = decode_json(bytes(payload), cfg.field_map, camera=camera, default_tz=cfg.tz,
                               received_at=cfg.clock())  # fmt: skip
        except LprError as err:
            ERRORS.labels(cfg.name, "protocol").inc()
            if isinstance(err, LprFieldError):
                REJECTED.labels(cfg.name, err.reason).inc()
            self._log_refusal(topic, str(err)[:300])
            return
        if camera is None and read.camera == "unknown":
            read = replace(read, camera=cfg.name)
        read.extra["topic"] = topic[:256]
        if self._delivered_before(topic, read):
            self.duplicates += 1
            FRAMES.labels(cfg.name, "duplicate").inc()
            return
        FRAMES.labels(cfg.name, "plate").inc()
        self.events.put_nowait(read)
        LATENCY.labels(cfg.name).observe(time.perf_counter() - started)
        if self.health.health is Health.DEGRADED:
            self.health.set(Health.ONLINE, f"subscribed to {', '.join(self.topics)}")

    def _delivered_before(self, topic: str, read: PlateRead) -> bool:
        """Whether this read was delivered already (remembered among the last :data:`SEEN_READS`)."""
        if read.event_id is not None:
            key: tuple[object, ...] = ("id", read.camera, read.event_id)
        else:
            key = ("read", topic, read.camera, read.plate, read.at, read.direction)
        if key in self._seen:
            self._seen.move_to_end(key)
            return True
        self._seen[key] = None
        if len(self._seen) > SEEN_READS:
            self._seen.popitem(last=False)
        return False

    def _log_refusal(self, topic: str, why: str) -> None:
        """One line a minute at most: a camera gone mad on the broker must not fill the disk with logs."""
        now = time.monotonic()
        if now - self._last_refusal_log >= 60.0:
            self._last_refusal_log = now
            _LOGGER.warning("%s: message on %s refused: %s", self.config.name, topic[:120], why)

    async def _watch_silence(self) -> None:
        timeout = self.config.silence_timeout
        assert timeout is not None
        while True:
            await asyncio.sleep(max(0.02, timeout / 5))
            if time.monotonic() - self._last_message > timeout and self.health.health is Health.ONLINE:
                self.health.set(Health.DEGRADED, f"broker connected but no plate event for {timeout:g} s")
