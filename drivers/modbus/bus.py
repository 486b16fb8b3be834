"""The transport: one pymodbus client per serial port or network link, shared by every device on that bus.

pymodbus does the framing and the request/response matching; this adapter adds what the drivers need on top:
reconnection with :class:`drivers.health.Backoff` (pymodbus' own reconnect is switched off so one place owns it),
translation of pymodbus' exceptions into the Modbus family's errors, and metrics.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient
from pymodbus.exceptions import ConnectionException, ModbusException, ModbusIOException
from pymodbus.framer import FramerType
from pymodbus.pdu import ModbusPDU

from drivers.health import Backoff
from drivers.modbus.config import ModbusLink
from drivers.modbus.errors import (
    ModbusError,
    ModbusExceptionResponseError,
    ModbusProtocolError,
    ModbusTimeoutError,
    ModbusTransportError,
)
from drivers.modbus.metrics import ERRORS, FRAMES, LATENCY, RECONNECTS
from drivers.modbus.rtu import EXCEPTION_NAMES

_LOGGER = logging.getLogger(__name__)

Client = AsyncModbusSerialClient | AsyncModbusTcpClient


class ModbusBus:
    """A Modbus master on one link. Create one per serial port and pass it to every device on that port."""

    def __init__(
        self,
        link: ModbusLink,
        *,
        name: str | None = None,
        backoff: Backoff | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.link = link
        self.name = name or link.url
        self._clock = clock
        self._backoff = backoff or Backoff(initial=0.1, maximum=2.0)
        self._next_attempt = 0.0
        self._lock = asyncio.Lock()
        self._ever_connected = False
        self._closed = False
        self.client: Client = self._make_client()

    def _make_client(self) -> Client:
        timeout = self.link.timeout_ms / 1000
        if self.link.kind == "serial":
            return AsyncModbusSerialClient(
                self.link.url,
                framer=FramerType.RTU,
                baudrate=self.link.baudrate,
                bytesize=self.link.bytesize,
                parity=self.link.parity,
                stopbits=self.link.stopbits,
                name=self.name,
                timeout=timeout,
                retries=0,
                reconnect_delay=0.0,
                trace_packet=self._trace_packet,
                trace_pdu=self._trace_pdu,
            )
        host, port = self.link.host_port()
        return AsyncModbusTcpClient(
            host,
            port=port,
            framer=FramerType.RTU if self.link.kind == "rtu-over-tcp" else FramerType.SOCKET,
            name=self.name,
            timeout=timeout,
            retries=0,
            reconnect_delay=0.0,
            trace_packet=self._trace_packet,
            trace_pdu=self._trace_pdu,
        )

    # ------------------------------------------------------------------ tracing

    def _trace_packet(self, sending: bool, data: bytes) -> bytes:
        if _LOGGER.isEnabledFor(logging.DEBUG):
            _LOGGER.debug("%s %s %s", self.name, "tx" if sending else "rx", data.hex(" "))
        return data

    def _trace_pdu(self, sending: bool, pdu: ModbusPDU) -> ModbusPDU:
        FRAMES.labels(self.name, "tx" if sending else "rx").inc()
        return pdu

    # ------------------------------------------------------------------ link

    @property
    def connected(self) -> bool:
        return bool(self.client.connected)

    async def ensure_connected(self) -> None:
        """Open the link if it is down and the backoff allows; raise :class:`ModbusTransportError` if it stays down."""
        if self.connected:
            return
        if self._closed:
            raise ModbusTransportError("bus closed", device=self.name)
        async with self._lock:
            if self.client.connected:  # another device on this bus reconnected while we waited
                return
            if self._next_attempt > self._clock():
                raise ModbusTransportError(f"cannot open {self.link.url}", device=self.name)
            try:
                ok = await self.client.connect()
            except (OSError, ModbusException) as err:
                _LOGGER.debug("%s: connect failed: %s", self.name, err)
                ok = False
            if not ok:
                self._next_attempt = self._clock() + self._backoff.next_delay()
                raise ModbusTransportError(f"cannot open {self.link.url}", device=self.name)
            self._backoff.reset()
            if self._ever_connected:
                RECONNECTS.labels(self.name).inc()
                _LOGGER.info("%s: link re-established", self.name)
            self._ever_connected = True

    def close(self) -> None:
        self._closed = True
        self.client.close()

    # ------------------------------------------------------------------ requests

    async def _call(self, device: str, what: str, request: Callable[[], Awaitable[ModbusPDU]]) -> ModbusPDU:
        try:
            await self.ensure_connected()
        except ModbusTransportError:
            ERRORS.labels(device, "transport").inc()
            raise
        started = self._clock()
        guard = 2 * self.link.timeout_ms / 1000 + 0.5
        try:
            async with asyncio.timeout(guard):
                response = await request()
        except (ConnectionException, OSError) as err:
            ERRORS.labels(device, "transport").inc()
            raise ModbusTransportError(f"{what}: link lost ({err})", device=device) from err
        except (ModbusIOException, TimeoutError) as err:
            if not self.connected:
                ERRORS.labels(device, "transport").inc()
                raise ModbusTransportError(f"{what}: link lost", device=device) from err
            ERRORS.labels(device, "timeout").inc()
            raise ModbusTimeoutError(f"{what}: no answer within {self.link.timeout_ms} ms", device=device) from err
        except ModbusException as err:
            ERRORS.labels(device, "protocol").inc()
            raise ModbusProtocolError(f"{what}: {err}", device=device) from err
        LATENCY.labels(device).observe(self._clock() - started)
        if response.isError():
            code = int(response.exception_code)
            ERRORS.labels(device, "exception").inc()
            name = EXCEPTION_NAMES.get(code, "unknown exception")
            raise ModbusExceptionResponseError(f"{what}: device answered {name} ({code})", code=code, device=device)
        return response

    async def read_bits(self, device: str, unit: int, function: int, address: int, count: int) -> list[bool]:
        """Function 01 (coils) or 02 (discrete inputs)."""
        if function == 0x01:
            response = await self._call(
                device, "read coils", lambda: self.client.read_coils(address, count=count, device_id=unit)
            )
        else:
            response = await self._call(
                device,
                "read discrete inputs",
                lambda: self.client.read_discrete_inputs(address, count=count, device_id=unit),
            )
        bits = list(response.bits)
        if len(bits) < count:
            raise ModbusProtocolError(f"read {count} bits, got {len(bits)}", device=device)
        return bits[:count]

    async def read_registers(self, device: str, unit: int, function: int, address: int, count: int) -> list[int]:
        """Function 03 (holding) or 04 (input registers)."""
        if function == 0x03:
            response = await self._call(
                device,
                "read holding registers",
                lambda: self.client.read_holding_registers(address, count=count, device_id=unit),
            )
        else:
            response = await self._call(
                device,
                "read input registers",
                lambda: self.client.read_input_registers(address, count=count, device_id=unit),
            )
        registers = list(response.registers)
        if len(registers) != count:
            raise ModbusProtocolError(f"read {count} registers, got {len(registers)}", device=device)
        return registers

    async def write_coil(self, device: str, unit: int, address: int, value: bool) -> None:
        """Function 05."""
        await self._call(device, "write coil", lambda: self.client.write_coil(address, value, device_id=unit))

    async def write_coils(self, device: str, unit: int, address: int, values: list[bool]) -> None:
        """Function 0F."""
        await self._call(device, "write coils", lambda: self.client.write_coils(address, values, device_id=unit))

    async def write_register(self, device: str, unit: int, address: int, value: int) -> None:
        """Function 06."""
        await self._call(device, "write register", lambda: self.client.write_register(address, value, device_id=unit))


__all__ = ["ModbusBus", "ModbusError"]
