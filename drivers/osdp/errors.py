"""Errors of the OSDP family."""

from __future__ import annotations

from drivers.errors import DeviceTimeoutError, DriverError, ProtocolError, TransportError


class OsdpError(DriverError):
    """Root of the OSDP family."""


class OsdpProtocolError(OsdpError, ProtocolError):
    """A packet that does not follow OSDP: bad SOM, length, CRC or checksum, a truncated security block."""


class OsdpParityError(OsdpProtocolError):
    """Card data whose Wiegand parity does not check: a misread, which could be another card's number."""


class OsdpTransportError(OsdpError, TransportError):
    """The RS-485 port failed or the channel to libosdp broke."""


class OsdpTimeoutError(OsdpError, DeviceTimeoutError):
    """The reader did not come online or did not answer in time."""


class OsdpConfigError(OsdpError):
    """A configuration the driver refuses, e.g. the install-mode key outside commissioning."""
