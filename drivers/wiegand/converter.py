"""Wiegand-to-RS485 converters on a serial port: the asyncio transport around :class:`ConverterFramer`.

The port is read with the event loop's reader callback (no thread). When the port fails (the USB adapter is pulled,
the pseudo-terminal hangs up) the reader goes offline at once and reopens the same path with backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import serial
from prometheus_client import Counter, Histogram

from drivers.cards import CardRead
from drivers.health import Backoff, Health, HealthTracker
from drivers.tasks import DriverTask
from drivers.wiegand.codec import ConverterFramer, parse_converter_line
from drivers.wiegand.errors import WiegandProtocolError

_LOGGER = logging.getLogger(__name__)

FRAMES = Counter("parkgate_wiegand_lines_total", "Converter lines decoded into card reads", ["device"])
ERRORS = Counter("parkgate_wiegand_errors_total", "Converter lines or ports that failed", ["device", "kind"])
RECONNECTS = Counter("parkgate_wiegand_reconnects_total", "Serial port reopen attempts", ["device"])
LATENCY = Histogram(
    "parkgate_wiegand_decode_seconds", "Time from a line's last byte to its event", ["device"],
    buckets=(0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05),
)  # fmt: skip


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class WiegandConverterConfig:
    """One converter: its device name (the reader id in events), port (a path or ``socket://host:port``), speed."""

    name: str
    port: str
    baudrate: int = 9600
    max_backoff: float = 2.0


class WiegandConverterReader:
    """Reads card numbers from a converter and puts :class:`CardRead` events on :attr:`events`."""

    def __init__(self, config: WiegandConverterConfig, *, clock: Callable[[], datetime] = _utcnow) -> None:
        self.config = config
        self.health = HealthTracker(config.name)
        self.events: asyncio.Queue[CardRead] = asyncio.Queue()
        self._clock = clock
        self._framer = ConverterFramer()
        self._serial: serial.Serial | None = None
        self._task = DriverTask(f"wiegand-{config.name}")
        self._lost: asyncio.Event = asyncio.Event()
        self._backoff = Backoff(initial=0.05, maximum=config.max_backoff)

    async def start(self) -> None:
        self._task.start(self._run)

    async def stop(self) -> None:
        await self._task.stop()
        self._close()
        self.health.set(Health.OFFLINE, "stopped")

    async def __aenter__(self) -> WiegandConverterReader:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                # a path, or socket://host:port for a serial server; opening a socket may block, so off the loop
                port = await asyncio.to_thread(serial.serial_for_url, self.config.port, self.config.baudrate, timeout=0)
            except (serial.SerialException, OSError) as err:
                ERRORS.labels(self.config.name, "open").inc()
                self.health.set(Health.OFFLINE, f"cannot open {self.config.port}: {err}")
                RECONNECTS.labels(self.config.name).inc()
                await asyncio.sleep(self._backoff.next_delay())
                continue
            self._serial = port
            self._framer = ConverterFramer()
            self._lost = asyncio.Event()
            loop.add_reader(port.fileno(), self._on_readable)
            self._backoff.reset()
            self.health.set(Health.ONLINE, f"listening on {self.config.port}")
            await self._lost.wait()
            self._close()
            RECONNECTS.labels(self.config.name).inc()
            await asyncio.sleep(self._backoff.next_delay())

    def _close(self) -> None:
        port, self._serial = self._serial, None
        if port is None:
            return
        with contextlib.suppress(Exception):
            asyncio.get_running_loop().remove_reader(port.fileno())
        with contextlib.suppress(Exception):
            port.close()

    def _on_readable(self) -> None:
        port = self._serial
        if port is None:
            return
        # Read what is waiting in small steps: pyserial's socket:// read() drops bytes it already received when the
        # peer closes in the same call, and a serial server often sends the last card and hangs up together.
        chunks: list[bytes] = []
        lost: Exception | None = None
        try:
            while (waiting := port.in_waiting) > 0 and sum(map(len, chunks)) < 4096:
                chunk = port.read(waiting)
                if not chunk:
                    break
                chunks.append(chunk)
            if not chunks:
                chunk = port.read(1)
                if not chunk:  # readable but nothing to read: the line hung up
                    raise serial.SerialException("port hung up")
                chunks.append(chunk)
        except (serial.SerialException, OSError) as err:
            lost = err
        data = b"".join(chunks)
        if data:
            self._consume(data)
        if lost is not None:
            ERRORS.labels(self.config.name, "transport").inc()
            self.health.set(Health.OFFLINE, f"{self.config.port} lost: {lost}")
            with contextlib.suppress(Exception):
                asyncio.get_running_loop().remove_reader(port.fileno())
            self._lost.set()

    def _consume(self, data: bytes) -> None:
        started = time.perf_counter()
        if _LOGGER.isEnabledFor(logging.DEBUG):
            _LOGGER.debug("%s <- %s", self.config.name, data.hex(" "))
        overruns = self._framer.overruns
        for line in self._framer.feed(data):
            try:
                number = parse_converter_line(line)
            except WiegandProtocolError as err:
                ERRORS.labels(self.config.name, "protocol").inc()
                _LOGGER.warning("%s: %s", self.config.name, err)
                continue
            FRAMES.labels(self.config.name).inc()
            text = line.decode("ascii").strip()
            self.events.put_nowait(
                CardRead(
                    reader=self.config.name, card_number=number, at=self._clock(), source="wiegand-converter",
                    format="decimal", value=number, raw=text,
                )
            )  # fmt: skip
            LATENCY.labels(self.config.name).observe(time.perf_counter() - started)
        if self._framer.overruns > overruns:
            ERRORS.labels(self.config.name, "overrun").inc(self._framer.overruns - overruns)
