"""The libosdp channel over a serial port, surviving an unplugged adapter.

libosdp calls :meth:`SerialChannel.read` / :meth:`write` from its refresh thread every few milliseconds. A failing
port must never raise into libosdp (its C code would leave the exception pending and kill the thread): the channel
closes the port, says so in :attr:`lost_since`, and reopens the same path with backoff from later reads.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable

import serial
from osdp import Channel

from drivers.health import Backoff

_LOGGER = logging.getLogger(__name__)


class SerialChannel(Channel):  # type: ignore[misc]
    """A pyserial port (a path, or ``socket://host:port`` for a serial server) as a libosdp channel; reopens itself
    after the port goes away."""

    def __init__(self, port: str, baudrate: int = 9600, *, name: str = "osdp", max_backoff: float = 1.0) -> None:
        super().__init__()
        self.port = port
        self.baudrate = baudrate
        self.name = name
        self._serial: serial.Serial | None = None
        self._lock = threading.Lock()
        self._backoff = Backoff(initial=0.05, maximum=max_backoff)
        self._retry_at = 0.0
        self.lost_since: float | None = time.monotonic()
        self.last_error = "not opened yet"
        self.reopens = 0
        self.bytes_in = 0
        self.bytes_out = 0
        self.closed = False
        self.last_rx = 0.0  # time.monotonic() of the last bytes received
        self.tap: Callable[[str, bytes], None] | None = None  # sees every byte read ("rx") and written ("tx")

    # ------------------------------------------------------------------ libosdp's interface

    def read(self, max_bytes: int) -> bytes:
        port = self._port()
        if port is None:
            return b""
        try:
            data: bytes = port.read(max_bytes)
        except (serial.SerialException, OSError) as err:
            self._lose(err)
            return b""
        if data:
            self.bytes_in += len(data)
            self.last_rx = time.monotonic()
            if self.tap is not None:
                self.tap("rx", data)
            if _LOGGER.isEnabledFor(logging.DEBUG):
                _LOGGER.debug("%s <- %s", self.name, data.hex(" "))
        return data

    def write(self, buf: bytes) -> int:
        port = self._port()
        if port is None:
            return len(buf)  # the bytes go out on a dead line, as they would with the cable pulled
        try:
            written = port.write(buf) or 0
        except (serial.SerialException, OSError) as err:
            self._lose(err)
            return len(buf)
        self.bytes_out += written
        if self.tap is not None and written:
            self.tap("tx", bytes(buf[:written]))
        if _LOGGER.isEnabledFor(logging.DEBUG):
            _LOGGER.debug("%s -> %s", self.name, bytes(buf).hex(" "))
        return written

    def flush(self) -> None:
        port = self._serial
        if port is not None:
            with contextlib.suppress(Exception):
                port.reset_input_buffer()

    # ------------------------------------------------------------------ our side

    @property
    def connected(self) -> bool:
        return self._serial is not None

    def close(self) -> None:
        with self._lock:
            self.closed = True
            port, self._serial = self._serial, None
        if port is not None:
            with contextlib.suppress(Exception):
                port.close()

    def _port(self) -> serial.Serial | None:
        port = self._serial
        if port is not None or self.closed:
            return port
        now = time.monotonic()
        if now < self._retry_at:
            return None
        with self._lock:
            if self._serial is None and not self.closed:
                try:
                    self._serial = serial.serial_for_url(self.port, self.baudrate, timeout=0, write_timeout=0.5)
                except (serial.SerialException, OSError) as err:
                    self.last_error = str(err)
                    self._retry_at = now + self._backoff.next_delay()
                    return None
                self._backoff.reset()
                self.lost_since = None
                self.reopens += 1
                _LOGGER.info("%s: opened %s", self.name, self.port)
            return self._serial

    def _lose(self, err: Exception) -> None:
        with self._lock:
            port, self._serial = self._serial, None
            self.lost_since = time.monotonic()
            self.last_error = str(err)
            self._retry_at = self.lost_since + self._backoff.next_delay()
        if port is not None:
            with contextlib.suppress(Exception):
                port.close()
