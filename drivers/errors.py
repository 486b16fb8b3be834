"""The root of every driver family's exceptions.

Each family (``drivers.modbus``, ``drivers.lpr``, ``drivers.osdp``...) defines its own root, deriving from
:class:`DriverError`, with protocol, transport and timeout subclasses; the timeout class also derives from
:class:`TimeoutError`. Errors carry the device name and, where bytes were at fault, those bytes in hex.
"""

from __future__ import annotations


class DriverError(Exception):
    """Something a device driver could not do or could not understand."""

    def __init__(self, message: str, *, device: str | None = None, data: bytes | None = None) -> None:
        self.device = device
        self.data = data
        text = f"{device}: {message}" if device else message
        if data is not None:
            shown = data[:64].hex(" ")
            text += f" [{shown}{' ...' if len(data) > 64 else ''}]"
        super().__init__(text)


class ProtocolError(DriverError):
    """Bytes that do not follow the protocol: bad checksum, bad length, an unknown code, a malformed document."""


class TransportError(DriverError):
    """The medium failed: the port vanished, the connection dropped, the broker refused."""


class DeviceTimeoutError(DriverError, TimeoutError):
    """The device did not answer in time."""
