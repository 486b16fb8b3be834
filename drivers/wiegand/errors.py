"""Errors of the Wiegand family (bit strings and Wiegand-to-RS485 converters)."""

from __future__ import annotations

from drivers.errors import DeviceTimeoutError, DriverError, ProtocolError, TransportError


class WiegandError(DriverError):
    """Root of the Wiegand family."""


class WiegandProtocolError(WiegandError, ProtocolError):
    """A bit string or a converter line that does not decode (bad length, bad parity, not digits)."""


class WiegandTransportError(WiegandError, TransportError):
    """The converter's serial port failed."""


class WiegandTimeoutError(WiegandError, DeviceTimeoutError):
    """The converter did not finish a line in time."""
