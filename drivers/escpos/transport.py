"""Getting a print job to the printer: raw TCP (port 9100) or a serial port, with health and clear errors.

Both transports have the same small interface (:class:`Printer`): ``await print_job(data)`` sends one job whole,
``await paper()`` asks the roll paper sensor (DLE EOT 4). A failure raises the family's transport or timeout error
with the device name, and marks the device ``offline``; a paper-out answer marks it ``fault``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, Protocol

import serial

from drivers.escpos.commands import status_query
from drivers.escpos.decode import PaperStatus, decode_paper_status
from drivers.escpos.errors import EscPosError, EscPosTimeoutError, EscPosTransportError
from drivers.health import Health, HealthTracker

_LOGGER = logging.getLogger(__name__)
RAW_PORT = 9100


class Printer(Protocol):
    name: str
    health: HealthTracker

    async def print_job(self, data: bytes) -> None: ...

    async def paper(self) -> PaperStatus: ...


def _note_paper(health: HealthTracker, status: PaperStatus) -> PaperStatus:
    if status.out:
        health.set(Health.FAULT, "paper out")
    elif status.near_end:
        health.set(Health.DEGRADED, "paper near end")
    else:
        health.set(Health.ONLINE, "ready")
    return status


class NetworkPrinter:
    """A printer on the network, raw TCP (JetDirect, port 9100): one connection per job, so a printer that takes
    one client at a time is never held."""

    def __init__(self, name: str, host: str, port: int = RAW_PORT, *, timeout: float = 5.0) -> None:
        self.name = name
        self.host = host
        self.port = port
        self.timeout = timeout
        self.health = HealthTracker(name)

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        try:
            async with asyncio.timeout(self.timeout):
                return await asyncio.open_connection(self.host, self.port)
        except TimeoutError as err:
            self.health.set(Health.OFFLINE, "connect timed out")
            raise EscPosTimeoutError(f"no connection to {self.host}:{self.port}", device=self.name) from err
        except OSError as err:
            self.health.set(Health.OFFLINE, f"connect failed: {err}")
            raise EscPosTransportError(f"cannot connect to {self.host}:{self.port}: {err}", device=self.name) from err

    async def print_job(self, data: bytes) -> None:
        _, writer = await self._connect()
        try:
            writer.write(data)
            async with asyncio.timeout(self.timeout):
                await writer.drain()
            writer.write_eof()
            async with asyncio.timeout(self.timeout):
                await writer.drain()
        except TimeoutError as err:
            self.health.set(Health.OFFLINE, "send timed out")
            raise EscPosTimeoutError(f"printer took too long to accept {len(data)} bytes", device=self.name) from err
        except OSError as err:
            self.health.set(Health.OFFLINE, f"send failed: {err}")
            raise EscPosTransportError(f"connection dropped: {err}", device=self.name) from err
        finally:
            writer.close()
            try:
                await writer.wait_closed()
            except OSError:
                _LOGGER.debug("%s: error closing the connection", self.name)
        self.health.set(Health.ONLINE, "printed")
        _LOGGER.debug("%s: sent %d bytes", self.name, len(data))

    async def paper(self) -> PaperStatus:
        reader, writer = await self._connect()
        try:
            writer.write(status_query(4))
            await writer.drain()
            async with asyncio.timeout(self.timeout):
                answer = await reader.readexactly(1)
        except (TimeoutError, asyncio.IncompleteReadError) as err:
            self.health.set(Health.OFFLINE, "no status answer")
            raise EscPosTimeoutError("no answer to DLE EOT 4", device=self.name) from err
        except OSError as err:
            self.health.set(Health.OFFLINE, f"status query failed: {err}")
            raise EscPosTransportError(f"connection dropped: {err}", device=self.name) from err
        finally:
            writer.close()
        try:
            status = decode_paper_status(answer[0])
        except EscPosError as err:
            self.health.set(Health.DEGRADED, "bad status answer")
            err.device = self.name
            raise
        return _note_paper(self.health, status)


class SerialPrinter:
    """A printer on a serial port (RS-232 or a USB serial adapter). Blocking pyserial calls run in a thread."""

    def __init__(
        self,
        name: str,
        port: str,
        *,
        baudrate: int = 9600,
        timeout: float = 5.0,
        open_port: Callable[..., Any] = serial.serial_for_url,
    ) -> None:
        self.name = name
        self.port = port
        self.baudrate = baudrate
        self.timeout = timeout
        self.health = HealthTracker(name)
        self._open_port = open_port
        self._serial: Any = None
        self._lock = asyncio.Lock()

    def _port(self) -> Any:
        if self._serial is None:
            self._serial = self._open_port(
                self.port, baudrate=self.baudrate, timeout=self.timeout, write_timeout=self.timeout
            )
        return self._serial

    def _write(self, data: bytes) -> None:
        port = self._port()
        port.write(data)
        port.flush()

    def _ask(self, query: bytes) -> bytes:
        port = self._port()
        port.reset_input_buffer()
        port.write(query)
        port.flush()
        answer: bytes = port.read(1)
        return answer

    def _drop_port(self) -> None:
        if self._serial is not None:
            try:
                self._serial.close()
            except (OSError, serial.SerialException):
                _LOGGER.debug("%s: error closing the port", self.name)
            self._serial = None

    async def print_job(self, data: bytes) -> None:
        async with self._lock:
            try:
                await asyncio.to_thread(self._write, data)
            except serial.SerialTimeoutException as err:
                self._drop_port()
                self.health.set(Health.OFFLINE, "write timed out")
                raise EscPosTimeoutError("printer did not take the job (flow control?)", device=self.name) from err
            except (OSError, serial.SerialException) as err:
                self._drop_port()
                self.health.set(Health.OFFLINE, f"port failed: {err}")
                raise EscPosTransportError(f"cannot write to {self.port}: {err}", device=self.name) from err
        self.health.set(Health.ONLINE, "printed")

    async def paper(self) -> PaperStatus:
        async with self._lock:
            try:
                answer = await asyncio.to_thread(self._ask, status_query(4))
            except (OSError, serial.SerialException) as err:
                self._drop_port()
                self.health.set(Health.OFFLINE, f"port failed: {err}")
                raise EscPosTransportError(f"cannot query {self.port}: {err}", device=self.name) from err
        if not answer:
            self.health.set(Health.OFFLINE, "no status answer")
            raise EscPosTimeoutError("no answer to DLE EOT 4", device=self.name)
        return _note_paper(self.health, decode_paper_status(answer[0]))

    def close(self) -> None:
        self._drop_port()
