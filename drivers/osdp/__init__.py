"""OSDP card readers: a pure packet codec (for decoding captures and fuzzing) and the libosdp control panel."""

from drivers.osdp.errors import (
    OsdpConfigError,
    OsdpError,
    OsdpParityError,
    OsdpProtocolError,
    OsdpTimeoutError,
    OsdpTransportError,
)
from drivers.osdp.packet import OsdpPacket, PacketFramer, checksum8, crc16_aug_ccitt, decode_packet, encode_packet

__all__ = [
    "OsdpConfigError",
    "OsdpError",
    "OsdpPacket",
    "OsdpParityError",
    "OsdpProtocolError",
    "OsdpTimeoutError",
    "OsdpTransportError",
    "PacketFramer",
    "checksum8",
    "crc16_aug_ccitt",
    "decode_packet",
    "encode_packet",
]
