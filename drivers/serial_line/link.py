"""Asyncio transport for our line-protocol devices (display, dispenser) and the client that talks through it.

:func:`open_stream` opens a serial port (pyserial, read through the event loop) or, for ``socket://host:port``,
a TCP connection to a serial server. :class:`LineClient` owns one device: it connects, reconnects with backoff,
sends commands with sequence numbers and waits for their replies, hands unsolicited messages to the subclass,
pings to notice a silent device, and keeps the health state. Used by ``drivers.display`` and
``drivers.dispenser``, and from the device side by the simulators.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import serial
from prometheus_client import Counter, Histogram

from drivers.errors import DeviceTimeoutError, DriverError, ProtocolError, TransportError
from drivers.health import Backoff, Health, HealthChange, HealthTracker
from drivers.serial_line.line import MAX_SEQ, Line, LineDecoder, encode_line
from drivers.tasks import DriverTask

_LOGGER = logging.getLogger(__name__)

FRAMES = Counter("parkgate_line_frames_total", "Line-protocol messages", ["family", "device", "direction"])
ERRORS = Counter("parkgate_line_errors_total", "Line-protocol errors by kind", ["family", "device", "kind"])
RECONNECTS = Counter("parkgate_line_reconnects_total", "Line-protocol links re-established", ["family", "device"])
LATENCY = Histogram(
    "parkgate_line_request_seconds",
    "Command to reply",
    ["family", "device"],
    buckets=(0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0),
)


class Stream(Protocol):
    async def read(self) -> bytes:
        """Some bytes; ``b""`` at end of stream; raises OSError if the link failed."""

    def write(self, data: bytes) -> None: ...

    def close(self) -> None: ...


class SerialStream:
    """A serial port read through the event loop (``add_reader``), written directly (lines are short)."""

    def __init__(self, port: serial.Serial) -> None:
        self.port = port
        self._queue: asyncio.Queue[bytes | OSError] = asyncio.Queue()
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(port.fileno(), self._readable)

    def _readable(self) -> None:
        try:
            data = self.port.read(self.port.in_waiting or 1)
        except (serial.SerialException, OSError) as err:
            self._loop.remove_reader(self.port.fileno())
            self._queue.put_nowait(OSError(str(err)))
            return
        if data:
            self._queue.put_nowait(data)

    async def read(self) -> bytes:
        item = await self._queue.get()
        if isinstance(item, OSError):
            raise item
        return item

    def write(self, data: bytes) -> None:
        try:
            self.port.write(data)
        except serial.SerialException as err:
            raise OSError(str(err)) from err

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._loop.remove_reader(self.port.fileno())
        with contextlib.suppress(Exception):
            self.port.close()


class TcpStream:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    async def read(self) -> bytes:
        return await self.reader.read(4096)

    def write(self, data: bytes) -> None:
        if self.writer.is_closing():
            raise OSError("connection closed")
        self.writer.write(data)

    def close(self) -> None:
        self.writer.close()


async def open_stream(url: str, baudrate: int = 9600) -> Stream:
    """A serial port path, or ``socket://host:port``; raises OSError when it cannot be opened."""
    if url.startswith("socket://"):
        host, _, port = url[len("socket://") :].rstrip("/").rpartition(":")
        reader, writer = await asyncio.open_connection(host.strip("[]"), int(port))
        return TcpStream(reader, writer)
    try:
        port_ = serial.serial_for_url(url, baudrate=baudrate, timeout=0, exclusive=True)
    except (serial.SerialException, ValueError) as err:
        raise OSError(str(err)) from err
    return SerialStream(port_)


@dataclass(frozen=True, slots=True)
class LineLinkConfig:
    """A line-protocol device: ``url`` is a serial port or ``socket://host:port``."""

    name: str
    url: str
    baudrate: int = 9600
    timeout_ms: int = 300  # command to reply
    keepalive_ms: int = 250  # ping when the line has been quiet this long (a dead device is offline in < 1 s)
    offline_after_failures: int = 2


@dataclass(frozen=True, slots=True)
class ErrorSet:
    """The family's classes the client raises."""

    root: type[DriverError]
    protocol: type[ProtocolError]
    transport: type[TransportError]
    timeout: type[DeviceTimeoutError]
    refused: Callable[..., DriverError]  # called as refused(message, reason=..., device=...)


class LineClient:
    """Base of the display and dispenser drivers. Subclasses set :attr:`family`, :attr:`errors` and implement
    :meth:`on_unsolicited`."""

    family = "line"
    errors: ErrorSet

    def __init__(
        self, config: LineLinkConfig, *, backoff: Backoff | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.config = config
        self.name = config.name
        self.clock = clock
        self.health = HealthTracker(config.name)
        self.health.listeners.append(self.on_health)
        self._backoff = backoff or Backoff(initial=0.1, maximum=2.0)
        self._stream: Stream | None = None
        self._decoder = LineDecoder(self.errors.protocol)
        self._pending: dict[int, asyncio.Future[Line]] = {}
        self._seq = 0
        self._task = DriverTask(f"{self.family}-{self.name}")
        self._connected = asyncio.Event()
        self._last_rx = 0.0
        self._ever = False

    # ------------------------------------------------------------------ subclass hooks

    def on_unsolicited(self, line: Line) -> None:
        """A message the device sent on its own (seq 0)."""

    def on_health(self, change: HealthChange) -> None:
        """Health changed (subclasses forward it to their listeners)."""

    async def on_connected(self) -> None:
        """After a (re)connect and a successful ping: e.g. ask for the status."""

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        self._task.start(self._run)

    async def stop(self) -> None:
        await self._task.stop()
        self._drop("stopped")

    async def wait_connected(self) -> None:
        """Until the device has answered a ping (wrap in ``asyncio.wait_for`` to bound it)."""
        await self._connected.wait()

    def _drop(self, reason: str) -> None:
        if self._stream is not None:
            self._stream.close()
            self._stream = None
        self._connected.clear()
        for future in self._pending.values():
            if not future.done():
                future.set_exception(self.errors.transport(reason, device=self.name))
        self._pending.clear()
        self.health.set(Health.OFFLINE, reason)

    async def _run(self) -> None:
        while True:
            try:
                self._stream = await open_stream(self.config.url, self.config.baudrate)
            except OSError as err:
                ERRORS.labels(self.family, self.name, "transport").inc()
                self.health.set(Health.OFFLINE, f"cannot open {self.config.url}: {err}")
                await asyncio.sleep(self._backoff.next_delay())
                continue
            self._decoder = LineDecoder(self.errors.protocol)
            reader = asyncio.create_task(self._read_loop(self._stream))
            try:
                await self._session(reader)
            except DriverError as err:
                reason = str(err)
            except Exception as err:  # a bug must not end the reconnect loop
                _LOGGER.exception("%s: unexpected error", self.name)
                reason = f"internal error: {err!r}"
            else:
                reason = "link closed"
            finally:
                reader.cancel()
                with contextlib.suppress(asyncio.CancelledError, DriverError):
                    await reader
            self._drop(reason)
            await asyncio.sleep(self._backoff.next_delay())

    async def _session(self, reader: asyncio.Task[None]) -> None:
        failures = 0
        while not reader.done():
            quiet = self.clock() - self._last_rx
            if not self._connected.is_set() or quiet >= self.config.keepalive_ms / 1000:
                try:
                    await self.request("PING")
                except (DeviceTimeoutError, ProtocolError) as err:
                    failures += 1
                    if failures >= self.config.offline_after_failures:
                        raise
                    self.health.set(Health.DEGRADED, str(err))
                    continue
                failures = 0
                if not self._connected.is_set():
                    self._backoff.reset()
                    if self._ever:
                        RECONNECTS.labels(self.family, self.name).inc()
                    self._ever = True
                    self._connected.set()
                    self.health.set(*self.healthy_state())
                    await self.on_connected()
                elif self.health.health is Health.DEGRADED:
                    self.health.set(*self.healthy_state())
            done, _ = await asyncio.wait({reader}, timeout=self.config.keepalive_ms / 2000)
            if done:
                reader.result()  # re-raise the link error

    def healthy_state(self) -> tuple[Health, str]:
        return Health.ONLINE, "answering"

    async def _read_loop(self, stream: Stream) -> None:
        while True:
            try:
                data = await stream.read()
            except OSError as err:
                raise self.errors.transport(f"link lost: {err}", device=self.name) from err
            if not data:
                raise self.errors.transport("link closed by the device", device=self.name)
            self._last_rx = self.clock()
            for item in self._decoder.feed(data):
                if isinstance(item, ProtocolError):
                    ERRORS.labels(self.family, self.name, "protocol").inc()
                    _LOGGER.warning("%s: %s", self.name, item)
                    continue
                FRAMES.labels(self.family, self.name, "rx").inc()
                if _LOGGER.isEnabledFor(logging.DEBUG):
                    _LOGGER.debug("%s rx %s %s %s", self.name, item.seq, item.keyword, item.rest)
                if item.seq == 0:
                    self.on_unsolicited(item)
                    continue
                future = self._pending.pop(item.seq, None)
                if future is not None and not future.done():
                    future.set_result(item)

    # ------------------------------------------------------------------ commands

    async def request(self, keyword: str, rest: str = "") -> Line:
        """Send a command, return the device's reply; ``ERR`` replies raise the family's refused error."""
        stream = self._stream
        if stream is None:
            ERRORS.labels(self.family, self.name, "transport").inc()
            raise self.errors.transport("not connected", device=self.name)
        self._seq = self._seq % MAX_SEQ + 1
        seq = self._seq
        data = encode_line(Line(seq, keyword, rest), self.errors.protocol)
        future: asyncio.Future[Line] = asyncio.get_running_loop().create_future()
        self._pending[seq] = future
        started = self.clock()
        try:
            stream.write(data)
        except OSError as err:
            self._pending.pop(seq, None)
            raise self.errors.transport(f"write failed: {err}", device=self.name) from err
        FRAMES.labels(self.family, self.name, "tx").inc()
        try:
            async with asyncio.timeout(self.config.timeout_ms / 1000):
                reply = await future
        except TimeoutError as err:
            self._pending.pop(seq, None)
            ERRORS.labels(self.family, self.name, "timeout").inc()
            raise self.errors.timeout(
                f"no answer to {keyword} in {self.config.timeout_ms} ms", device=self.name
            ) from err
        LATENCY.labels(self.family, self.name).observe(self.clock() - started)
        if reply.keyword == "ERR":
            ERRORS.labels(self.family, self.name, "refused").inc()
            reason = reply.rest or "no reason"
            raise self.errors.refused(f"{keyword} refused: {reason}", reason=reason, device=self.name)
        return reply
