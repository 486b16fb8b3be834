"""``parkgate decode osdp``: hex text (spaces allowed) -> address, sequence, command/reply, CRC ok or not.

Several packets back to back (a bus capture) are decoded one after another. A plaintext osdp_RAW reply also shows
the card it carries (Wiegand format, facility, card number, parity).
"""

from __future__ import annotations

import argparse
import re
from typing import Any

from drivers.osdp.errors import OsdpProtocolError
from drivers.osdp.packet import MARK, OsdpPacket, decode_packet
from drivers.osdp.raw import RAW_REPLY, card_from_bits, decode_raw

HELP = "OSDP packet(s) as hex text: address, sequence, command/reply, CRC/checksum ok or not, card of an osdp_RAW"

_SEPARATORS = re.compile(r"0x|[\s,:;-]", re.IGNORECASE)


def parse_hex(data: bytes) -> bytes:
    """Hex text with any spaces, commas, colons or ``0x`` prefixes -> bytes."""
    try:
        text = _SEPARATORS.sub("", data.decode("ascii"))
        return bytes.fromhex(text)
    except (UnicodeDecodeError, ValueError) as err:
        raise OsdpProtocolError(f"not hex text: {err}", data=data[:64]) from err


def describe(packet: OsdpPacket) -> dict[str, Any]:
    out = packet.as_dict()
    if packet.reply and packet.code == RAW_REPLY and not packet.encrypted:
        reader, fmt, bits = decode_raw(packet.data)
        out["card"] = {"reader": reader, "format_code": fmt, "bit_string": bits, **card_from_bits(bits).as_dict()}
    return out


def split_packets(raw: bytes) -> list[bytes]:
    """Cut back-to-back packets at their length fields."""
    chunks: list[bytes] = []
    while raw:
        start = 1 if raw[0] == MARK else 0
        if len(raw) < start + 4:
            raise OsdpProtocolError("trailing bytes after the last packet", data=raw)
        length = raw[start + 2] | raw[start + 3] << 8
        if length < 7 or start + length > len(raw):
            chunks.append(raw)  # let decode_packet say what is wrong with it
            break
        chunks.append(raw[: start + length])
        raw = raw[start + length :]
    return chunks


def decode(data: bytes, args: argparse.Namespace) -> dict[str, Any]:
    raw = parse_hex(data)
    if not raw:
        raise OsdpProtocolError("no bytes")
    packets = [describe(decode_packet(chunk)) for chunk in split_packets(raw)]
    if len(packets) == 1:
        return {"kind": "osdp", **packets[0]}
    return {"kind": "osdp", "packets": packets}
