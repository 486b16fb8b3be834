"""The Modbus family's exceptions: one root, with protocol, transport and timeout subclasses."""

from __future__ import annotations

from drivers.errors import DeviceTimeoutError, DriverError, ProtocolError, TransportError


class ModbusError(DriverError):
    """Root of every error raised by the Modbus drivers (I/O module, loop detector) and the RTU codec."""


class ModbusConfigError(ModbusError, ValueError):
    """A configuration the drivers cannot run: an I/O point out of range, a map that contradicts its addressing."""


class ModbusProtocolError(ModbusError, ProtocolError):
    """Bytes that are not a valid Modbus RTU frame: too short, bad length, unknown function, bad CRC."""


class ModbusExceptionResponseError(ModbusProtocolError):
    """The device answered with a Modbus exception (illegal address, device failure...)."""

    def __init__(self, message: str, *, code: int, device: str | None = None, data: bytes | None = None) -> None:
        self.code = code
        super().__init__(message, device=device, data=data)


class ModbusTransportError(ModbusError, TransportError):
    """The serial port or TCP connection is not available."""


class ModbusTimeoutError(ModbusError, DeviceTimeoutError):
    """The device did not answer in time (it is also a :class:`TimeoutError`)."""


class SafetyInterlockError(ModbusError):
    """A close was refused because the barrier's own safety loop reports presence, a fault, or is unknown."""
