"""The ESC/POS receipt printer family's exceptions: one root, with protocol, transport and timeout subclasses."""

from __future__ import annotations

from drivers.errors import DeviceTimeoutError, DriverError, ProtocolError, TransportError


class EscPosError(DriverError):
    """Root of every error raised by the ESC/POS encoder, decoder and printer transports."""


class EscPosProtocolError(EscPosError, ProtocolError):
    """Bytes that are not ESC/POS as we speak it (an unknown or truncated command, undecodable text), or a
    command that cannot be encoded (a QR code too long)."""


class EscPosTransportError(EscPosError, TransportError):
    """The printer's serial port or TCP connection is not available."""


class EscPosTimeoutError(EscPosError, DeviceTimeoutError):
    """The printer did not take the data or answer a status query in time (also a :class:`TimeoutError`)."""
