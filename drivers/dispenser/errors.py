"""The card dispenser family's exceptions."""

from __future__ import annotations

from drivers.errors import DeviceTimeoutError, DriverError, ProtocolError, TransportError


class DispenserError(DriverError):
    """Root of the card dispenser drivers' errors."""


class DispenserProtocolError(DispenserError, ProtocolError):
    """A line that does not follow the dispenser protocol."""


class DispenserTransportError(DispenserError, TransportError):
    """The dispenser's port or connection is not available."""


class DispenserTimeoutError(DispenserError, DeviceTimeoutError):
    """The dispenser did not answer in time."""


class DispenserRefusedError(DispenserError):
    """The dispenser answered ERR: ``reason`` is EMPTY, JAM, BUSY or a vendor word."""

    def __init__(self, message: str, *, reason: str = "", device: str | None = None) -> None:
        self.reason = reason.split(" ", 1)[0] if reason else ""
        super().__init__(message, device=device)
