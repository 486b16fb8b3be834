"""OSDP card readers: a pure packet codec (for decoding captures and fuzzing) and the libosdp control panel."""

from drivers.osdp.errors import OsdpConfigError, OsdpError, OsdpProtocolError, OsdpTimeoutError, OsdpTransportError
from drivers.osdp.packet import OsdpPacket, PacketFramer, checksum8, crc16_aug_ccitt, decode_packet, encode_packet

__all__ = [
    "OsdpConfigError",
    "OsdpError",
    "OsdpPacket",
    "OsdpProtocolError",
    "OsdpTimeoutError",
    "OsdpTransportError",
    "PacketFramer",
    "checksum8",
    "crc16_aug_ccitt",
    "decode_packet",
    "encode_packet",
]
