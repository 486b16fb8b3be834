"""Errors of the evidence snapshot family."""

from __future__ import annotations

from drivers.errors import DeviceTimeoutError, DriverError, ProtocolError, TransportError


class SnapshotError(DriverError):
    """Root of the snapshot family."""


class SnapshotProtocolError(SnapshotError, ProtocolError):
    """A frame that cannot be encoded, or a source that gives frames OpenCV cannot read."""


class SnapshotTransportError(SnapshotError, TransportError):
    """The source does not open (no such file, connection refused, no device) or gives no frame."""


class SnapshotTimeoutError(SnapshotError, DeviceTimeoutError):
    """The source did not give a frame in time (a dead stream), or an earlier grab is still hung."""
