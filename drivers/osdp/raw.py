"""osdp_RAW card data: the reply body a reader sends for a card, and its Wiegand bits.

Body layout: reader number (1 byte), format code (1 byte: 0 raw bit array, 1 Wiegand P/data/P), bit count (2 bytes,
LSB first), then the bits packed MSB first.
"""

from __future__ import annotations

from drivers.osdp.errors import OsdpProtocolError
from drivers.wiegand.codec import WiegandCard, bits_to_bytes, bytes_to_bits, decode_bits
from drivers.wiegand.errors import WiegandProtocolError

RAW_REPLY = 0x50
FORMAT_RAW = 0x00
FORMAT_WIEGAND = 0x01


def encode_raw(bits: str, reader: int = 0, fmt: int = FORMAT_WIEGAND) -> bytes:
    """The osdp_RAW body for a bit string."""
    return bytes([reader, fmt]) + len(bits).to_bytes(2, "little") + bits_to_bytes(bits)


def decode_raw(body: bytes) -> tuple[int, int, str]:
    """``(reader, format, bits)`` of an osdp_RAW body. Raises :class:`OsdpProtocolError`."""
    if len(body) < 4:
        raise OsdpProtocolError("osdp_RAW body shorter than 4 bytes", data=body)
    count = body[2] | body[3] << 8
    payload = body[4:]
    if len(payload) != (count + 7) // 8:
        raise OsdpProtocolError(f"osdp_RAW announces {count} bits but carries {len(payload)} bytes", data=body)
    return body[0], body[1], bytes_to_bits(payload, count) if count else ""


def card_from_bits(bits: str) -> WiegandCard:
    """Decode reader bits, translating the Wiegand error into this family's."""
    try:
        return decode_bits(bits)
    except WiegandProtocolError as err:
        raise OsdpProtocolError(f"card data: {err}") from err
