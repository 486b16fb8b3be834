"""An OSDP card reader on RS-485, driven through libosdp's control panel.

libosdp runs the protocol (polling, secure channel, retries) in its own thread; this adapter feeds it a
:class:`SerialChannel`, turns its card events into :class:`drivers.cards.CardRead` on an asyncio queue, and keeps
the reader's health from the port state and libosdp's online / secure-channel bits.

Keys: the secure channel base key (SCBK) is per reader, 16 bytes. The install-mode key SCBK-D (``30 31 .. 3F``) and
an all-zero key are public knowledge: the driver refuses them unless ``commissioning`` is set, which is how an
installer gives a new reader its own key (:meth:`OsdpReader.set_key`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from osdp import CardFormat, Command, ControlPanel, Event, LibFlag, LogLevel, PDInfo
from prometheus_client import Counter, Histogram

from drivers.cards import CardRead
from drivers.health import Backoff, Health, HealthTracker
from drivers.osdp.channel import SerialChannel
from drivers.osdp.errors import OsdpConfigError, OsdpError, OsdpParityError, OsdpProtocolError, OsdpTimeoutError
from drivers.osdp.raw import card_from_bits
from drivers.tasks import DriverTask
from drivers.wiegand.codec import bytes_to_bits
from drivers.wiegand.errors import WiegandProtocolError

_LOGGER = logging.getLogger(__name__)

SCBK_D = bytes(range(0x30, 0x40))
INSECURE_KEYS = frozenset({SCBK_D, bytes(16)})

CARDS = Counter("parkgate_osdp_card_reads_total", "Card reads received from OSDP readers", ["device"])
ERRORS = Counter(
    "parkgate_osdp_errors_total", "OSDP events that could not be decoded, port failures", ["device", "kind"]
)
RECONNECTS = Counter("parkgate_osdp_reconnects_total", "Serial port reopenings for OSDP readers", ["device"])
LATENCY = Histogram(
    "parkgate_osdp_event_seconds", "Time from libosdp's event callback to the CardRead on the queue", ["device"],
    buckets=(0.0005, 0.001, 0.005, 0.01, 0.05, 0.1),
)  # fmt: skip


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class OsdpReaderConfig:
    """One OSDP reader: its name (the reader id in events), port, bus address and key.

    ``scbk`` is the reader's 16-byte secure channel base key; ``None`` means no secure channel, allowed only with
    ``require_secure=False``. ``commissioning`` allows the install-mode key so a new reader can be given its own.
    """

    name: str
    port: str
    address: int = 0
    baudrate: int = 9600
    scbk: bytes | None = None
    require_secure: bool = True
    commissioning: bool = False
    monitor_interval: float = 0.05
    answer_timeout: float = 0.5  # no byte from the reader for this long (libosdp polls every ~50 ms): offline
    restart_after: float = 1.0  # libosdp offline this long: restart its state machine (it would wait 300 s)

    def check(self) -> None:
        """Refuse unsafe or impossible settings (raises :class:`OsdpConfigError`)."""
        if not 0 <= self.address <= 126:
            raise OsdpConfigError(f"OSDP address {self.address} is outside 0..126", device=self.name)
        if self.scbk is not None and len(self.scbk) != 16:
            raise OsdpConfigError("the secure channel key must be 16 bytes", device=self.name)
        if self.commissioning:
            return
        if self.scbk in INSECURE_KEYS:
            raise OsdpConfigError(
                "the install-mode key (SCBK-D or all zeros) is refused outside commissioning mode", device=self.name
            )
        if self.scbk is None and self.require_secure:
            raise OsdpConfigError("no secure channel key configured and require_secure is set", device=self.name)


def card_from_event(reader: str, event: dict[str, Any], at: datetime) -> CardRead:
    """Turn a libosdp card-read event dict into a :class:`CardRead` (raises :class:`OsdpProtocolError`)."""
    data = bytes(event.get("data") or b"")
    fmt = event.get("format")
    extra = {"reader_no": event.get("reader_no", 0)}
    if fmt == CardFormat.ASCII:
        text = data.decode("ascii", "replace").strip()
        if not text.isdigit():
            raise OsdpProtocolError(f"ASCII card data {text!r} is not a number", device=reader, data=data)
        return CardRead(reader, int(text), at, "osdp", "ascii", value=int(text), raw=text, extra=extra)
    length = int(event.get("length") or 0)
    try:
        bits = bytes_to_bits(data, length)
    except WiegandProtocolError as err:
        raise OsdpProtocolError(str(err), device=reader, data=data) from err
    card = card_from_bits(bits)
    if card.parity_ok is False:  # a misread: its number could be another card's, so it never reaches a lane
        raise OsdpParityError(f"{card.format} card data {bits} fails its parity check", device=reader, data=data)
    return CardRead(
        reader, card.card_number, at, "osdp", card.format, facility=card.facility, value=card.value, bits=card.bits,
        parity_ok=card.parity_ok, raw=bits, extra=extra,
    )  # fmt: skip


class OsdpReader:
    """The control panel for one reader. Card reads arrive on :attr:`events`; health is in :attr:`health`."""

    def __init__(self, config: OsdpReaderConfig, *, clock: Callable[[], datetime] = _utcnow) -> None:
        config.check()
        self.config = config
        self.health = HealthTracker(config.name)
        self.events: asyncio.Queue[CardRead] = asyncio.Queue()
        self._clock = clock
        self._channel: SerialChannel | None = None
        self._cp: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._monitor = DriverTask(f"osdp-{config.name}")
        self._reopens = 0
        self._offline_since: float | None = None
        self._restart_backoff = Backoff(initial=config.restart_after, maximum=10.0, jitter=0.0)
        self._next_restart = 0.0
        self.restarts = 0

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        if self._cp is not None:
            return
        cfg = self.config
        self._loop = asyncio.get_running_loop()
        self._channel = SerialChannel(cfg.port, cfg.baudrate, name=cfg.name)
        flags = [LibFlag.EnforceSecure] if cfg.scbk is not None and not cfg.commissioning else []
        if cfg.commissioning:
            flags.append(LibFlag.InstallMode)
        # In commissioning the reader is in install mode: the secure channel runs on SCBK-D until set_key().
        scbk = SCBK_D if cfg.commissioning and cfg.scbk is None else cfg.scbk
        info = PDInfo(cfg.address, self._channel, scbk=scbk, name=cfg.name, flags=flags)
        level = LogLevel.Debug if _LOGGER.isEnabledFor(logging.DEBUG) else LogLevel.Error
        self._cp = ControlPanel([info], log_level=level, event_handler=self._on_event)
        self._cp.start()
        self._monitor.start(self._watch)

    async def stop(self) -> None:
        await self._monitor.stop()
        cp, self._cp = self._cp, None
        if cp is not None:
            await asyncio.to_thread(cp.stop)
        if self._channel is not None:
            self._channel.close()
        self.health.set(Health.OFFLINE, "stopped")

    async def __aenter__(self) -> OsdpReader:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def wait_online(self, within: float = 5.0) -> None:
        """Wait until the reader is online (with its secure channel, if configured); raise on timeout."""
        deadline = time.monotonic() + within
        while self.health.health is not Health.ONLINE:
            if time.monotonic() > deadline:
                raise OsdpTimeoutError(f"not online after {within} s: {self.health.reason}", device=self.config.name)
            await asyncio.sleep(0.02)

    # ------------------------------------------------------------------ commands

    def set_key(self, new_key: bytes) -> None:
        """Commissioning: send osdp_KEYSET with the reader's own key (refused outside commissioning)."""
        if not self.config.commissioning:
            raise OsdpConfigError("keys are set only in commissioning mode", device=self.config.name)
        if len(new_key) != 16 or new_key in INSECURE_KEYS:
            raise OsdpConfigError("the new key must be 16 bytes and not an install-mode key", device=self.config.name)
        self._submit({"command": Command.Keyset, "type": 1, "data": new_key})

    def _submit(self, command: dict[str, Any]) -> None:
        if self._cp is None:
            raise OsdpError("reader not started", device=self.config.name)
        if not self._cp.submit_command(self.config.address, command):
            raise OsdpError(f"libosdp refused command {command.get('command')}", device=self.config.name)

    # ------------------------------------------------------------------ libosdp thread -> event loop

    def _on_event(self, pd: int, event: dict[str, Any]) -> int:
        loop = self._loop
        if loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop closed under us: the event stays queued in libosdp
                loop.call_soon_threadsafe(self._drain, time.perf_counter())
        return 0

    def _drain(self, signalled: float | None = None) -> None:
        cp = self._cp
        if cp is None:
            return
        while (event := cp.get_event(self.config.address, timeout=-1)) is not None:
            self._handle(event, signalled)

    def _handle(self, event: dict[str, Any], signalled: float | None) -> None:
        kind = event.get("event")
        if kind != Event.CardRead:
            _LOGGER.debug("%s: event %s", self.config.name, event)
            return
        try:
            read = card_from_event(self.config.name, event, self._clock())
        except OsdpProtocolError as err:
            ERRORS.labels(self.config.name, "parity" if isinstance(err, OsdpParityError) else "protocol").inc()
            _LOGGER.warning("%s", err)
            return
        CARDS.labels(self.config.name).inc()
        self.events.put_nowait(read)
        if signalled is not None:
            LATENCY.labels(self.config.name).observe(time.perf_counter() - signalled)

    async def _watch(self) -> None:
        cfg = self.config
        while True:
            self._drain()
            channel, cp = self._channel, self._cp
            assert channel is not None
            assert cp is not None
            if channel.reopens > self._reopens:
                if self._reopens:
                    RECONNECTS.labels(cfg.name).inc()
                self._reopens = channel.reopens
            now = time.monotonic()
            # both calls take libosdp's lock, held by its refresh thread while it talks: not on the event loop
            online, secure = await asyncio.to_thread(self._link_state, cp)
            silent = now - channel.last_rx > cfg.answer_timeout
            if not channel.connected:
                if self.health.health is not Health.OFFLINE:
                    ERRORS.labels(cfg.name, "transport").inc()
                self.health.set(Health.OFFLINE, f"port {cfg.port}: {channel.last_error}")
            elif silent or not online:
                if self.health.health is Health.ONLINE:
                    ERRORS.labels(cfg.name, "silent").inc()
                self.health.set(Health.OFFLINE, "reader not answering")
            elif cfg.scbk is not None and not cfg.commissioning and not secure:
                self.health.set(Health.DEGRADED, "secure channel not established")
            else:
                self.health.set(Health.ONLINE, "secure channel active" if secure else "online without secure channel")
            await self._restart_if_stuck(cp, online and channel.connected and not silent, now)
            await asyncio.sleep(cfg.monitor_interval)

    async def _restart_if_stuck(self, cp: Any, online: bool, now: float) -> None:
        """libosdp parks an offline reader for 300 s; restart it (with backoff) so a reader that comes back is seen."""
        if online:
            self._offline_since = None
            self._restart_backoff.reset()
            return
        if self._offline_since is None:
            self._offline_since = now
            self._next_restart = now + self.config.restart_after
            return
        if now < self._next_restart:
            return
        address = self.config.address
        await asyncio.to_thread(cp.disable_pd, address)
        await asyncio.sleep(0.1)  # the disable takes effect on libosdp's next refresh
        await asyncio.to_thread(cp.enable_pd, address)
        self.restarts += 1
        self._next_restart = time.monotonic() + self._restart_backoff.next_delay()
        _LOGGER.debug("%s: restarted libosdp's state machine for address %s", self.config.name, address)

    def _link_state(self, cp: Any) -> tuple[bool, bool]:
        return bool(cp.is_online(self.config.address)), bool(cp.is_sc_active(self.config.address))
