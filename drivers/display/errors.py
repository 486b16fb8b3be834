"""The lane display family's exceptions."""

from __future__ import annotations

from drivers.errors import DeviceTimeoutError, DriverError, ProtocolError, TransportError


class DisplayError(DriverError):
    """Root of the display drivers' errors."""


class DisplayProtocolError(DisplayError, ProtocolError):
    """A line that does not follow the display protocol."""


class DisplayTransportError(DisplayError, TransportError):
    """The display's port or connection is not available."""


class DisplayTimeoutError(DisplayError, DeviceTimeoutError):
    """The display did not answer in time."""


class DisplayRefusedError(DisplayError):
    """The display answered ERR (text too long, row out of range...)."""

    def __init__(self, message: str, *, reason: str = "", device: str | None = None) -> None:
        self.reason = reason
        super().__init__(message, device=device)
