"""Errors of the plate camera (LPR) family."""

from __future__ import annotations

from drivers.errors import DeviceTimeoutError, DriverError, ProtocolError, TransportError


class LprError(DriverError):
    """Root of the plate camera family."""


class LprProtocolError(LprError, ProtocolError):
    """A document the camera sent that cannot be read: not XML/JSON, no plate event, bad multipart, bad field."""


class LprTransportError(LprError, TransportError):
    """The listener could not bind, the broker refused or dropped us."""


class LprTimeoutError(LprError, DeviceTimeoutError):
    """A camera stayed silent longer than its heartbeat allowance."""
