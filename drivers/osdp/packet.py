"""OSDP packets (IEC 60839-11-5): a pure codec for ``parkgate decode osdp``, the fuzzer and tests.

The live path goes through libosdp; this module only reads and writes the framing::

    [0xFF mark]  SOM=0x53  ADDR  LEN_LSB LEN_MSB  CTRL  [SCB: LEN TYPE DATA...]  CODE  DATA...  [MAC x4]  CRC16 | CKSUM

``ADDR`` bit 7 marks a reply (PD -> CP). ``LEN`` counts the whole packet from SOM to the last check byte. ``CTRL``
bits 0-1 are the sequence number, bit 2 chooses CRC-16 (set) or an 8-bit checksum (clear), bit 3 announces a security
control block. The CRC is CRC-16/AUG-CCITT (poly 0x1021, init 0x1D0F, no reflection), sent LSB first; the checksum
is the two's complement of the byte sum. Secure-channel packets of type SCS_15..SCS_18 carry a 4-byte MAC before the
check bytes; with SCS_17/SCS_18 the data is encrypted and cannot be read here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from drivers.osdp.errors import OsdpProtocolError

SOM = 0x53
MARK = 0xFF
REPLY_FLAG = 0x80
CTRL_SQN = 0x03
CTRL_CRC = 0x04
CTRL_SCB = 0x08
CTRL_KNOWN = CTRL_SQN | CTRL_CRC | CTRL_SCB  # bits 4-7 are reserved (zero)
MAX_PACKET = 1440
HEADER = 5  # SOM, ADDR, LEN x2, CTRL

COMMANDS: dict[int, str] = {
    0x60: "osdp_POLL", 0x61: "osdp_ID", 0x62: "osdp_CAP", 0x64: "osdp_LSTAT", 0x65: "osdp_ISTAT",
    0x66: "osdp_OSTAT", 0x67: "osdp_RSTAT", 0x68: "osdp_OUT", 0x69: "osdp_LED", 0x6A: "osdp_BUZ",
    0x6B: "osdp_TEXT", 0x6E: "osdp_COMSET", 0x73: "osdp_BIOREAD", 0x74: "osdp_BIOMATCH", 0x75: "osdp_KEYSET",
    0x76: "osdp_CHLNG", 0x77: "osdp_SCRYPT", 0x7B: "osdp_ACURXSIZE", 0x7C: "osdp_FILETRANSFER", 0x80: "osdp_MFG",
    0xA1: "osdp_XWR", 0xA2: "osdp_ABORT", 0xA3: "osdp_PIVDATA", 0xA4: "osdp_GENAUTH", 0xA5: "osdp_CRAUTH",
    0xA7: "osdp_KEEPACTIVE",
}  # fmt: skip
REPLIES: dict[int, str] = {
    0x40: "osdp_ACK", 0x41: "osdp_NAK", 0x45: "osdp_PDID", 0x46: "osdp_PDCAP", 0x48: "osdp_LSTATR",
    0x49: "osdp_ISTATR", 0x4A: "osdp_OSTATR", 0x4B: "osdp_RSTATR", 0x50: "osdp_RAW", 0x51: "osdp_FMT",
    0x53: "osdp_KEYPAD", 0x54: "osdp_COM", 0x57: "osdp_BIOREADR", 0x58: "osdp_BIOMATCHR", 0x76: "osdp_CCRYPT",
    0x78: "osdp_RMAC_I", 0x79: "osdp_BUSY", 0x7A: "osdp_FTSTAT", 0x80: "osdp_PIVDATAR", 0x81: "osdp_GENAUTHR",
    0x82: "osdp_CRAUTHR", 0x83: "osdp_MFGSTATR", 0x84: "osdp_MFGERRR", 0x90: "osdp_MFGREP", 0xB1: "osdp_XRD",
}  # fmt: skip
SCB_NAMES = {0x11: "SCS_11", 0x12: "SCS_12", 0x13: "SCS_13", 0x14: "SCS_14", 0x15: "SCS_15", 0x16: "SCS_16",
             0x17: "SCS_17", 0x18: "SCS_18"}  # fmt: skip
_MAC_TYPES = frozenset({0x15, 0x16, 0x17, 0x18})
_ENCRYPTED_TYPES = frozenset({0x17, 0x18})


def crc16_aug_ccitt(data: bytes) -> int:
    """CRC-16/AUG-CCITT: polynomial 0x1021, initial value 0x1D0F, no reflection, no final XOR."""
    crc = 0x1D0F
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) & 0xFFFF if crc & 0x8000 else (crc << 1) & 0xFFFF
    return crc


def checksum8(data: bytes) -> int:
    """The OSDP checksum: two's complement of the sum of the bytes, modulo 256."""
    return -sum(data) & 0xFF


@dataclass(frozen=True, slots=True)
class OsdpPacket:
    """One decoded packet. ``check_ok`` says whether the CRC or checksum matched (a bad one is reported, not raised)."""

    address: int
    reply: bool
    sequence: int
    use_crc: bool
    code: int
    data: bytes = b""
    scb: bytes | None = None  # the whole security control block (length, type, data), or None
    mac: bytes = b""
    check_ok: bool = True
    check: int = 0
    mark: bool = False

    @property
    def name(self) -> str:
        table = REPLIES if self.reply else COMMANDS
        return table.get(self.code, f"unknown 0x{self.code:02X}")

    @property
    def scb_type(self) -> int | None:
        return self.scb[1] if self.scb and len(self.scb) > 1 else None

    @property
    def encrypted(self) -> bool:
        return self.scb_type in _ENCRYPTED_TYPES and bool(self.data)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "direction": "reply" if self.reply else "command",
            "address": self.address,
            "sequence": self.sequence,
            "code": f"0x{self.code:02X}",
            "name": self.name,
            "data": self.data.hex(" "),
            "check": "crc16" if self.use_crc else "checksum",
            "check_ok": self.check_ok,
        }
        if self.scb is not None:
            out["security"] = {
                "type": SCB_NAMES.get(self.scb_type or 0, f"0x{self.scb_type or 0:02X}"),
                "block": self.scb.hex(" "),
                "mac": self.mac.hex(" "),
                "encrypted": self.encrypted,
            }
        return out


def encode_packet(packet: OsdpPacket, *, mark: bool = False) -> bytes:
    """The bytes of ``packet`` with a fresh CRC or checksum (``check``/``check_ok`` are ignored)."""
    if not 0 <= packet.address <= 0x7F:
        raise OsdpProtocolError(f"address {packet.address} is outside 0..127")
    if not 0 <= packet.sequence <= 3 or not 0 <= packet.code <= 0xFF:
        raise OsdpProtocolError("sequence must be 0..3 and code one byte")
    ctrl = packet.sequence | (CTRL_CRC if packet.use_crc else 0) | (CTRL_SCB if packet.scb is not None else 0)
    body = bytes([packet.code]) + packet.data + packet.mac
    scb = packet.scb or b""
    if scb and scb[0] != len(scb):
        raise OsdpProtocolError("security block length byte does not match its size", data=scb)
    length = HEADER + len(scb) + len(body) + (2 if packet.use_crc else 1)
    if length > MAX_PACKET:
        raise OsdpProtocolError(f"packet of {length} bytes is longer than {MAX_PACKET}")
    addr = packet.address | (REPLY_FLAG if packet.reply else 0)
    head = bytes([SOM, addr, length & 0xFF, length >> 8, ctrl]) + scb + body
    tail = crc16_aug_ccitt(head).to_bytes(2, "little") if packet.use_crc else bytes([checksum8(head)])
    return (bytes([MARK]) if mark else b"") + head + tail


def decode_packet(raw: bytes) -> OsdpPacket:
    """Decode exactly one packet (an optional 0xFF mark byte first). Raises :class:`OsdpProtocolError`."""
    mark = False
    if raw[:1] == bytes([MARK]):
        raw, mark = raw[1:], True
    if len(raw) < HEADER + 2:
        raise OsdpProtocolError(f"packet of {len(raw)} bytes is too short", data=raw)
    if raw[0] != SOM:
        raise OsdpProtocolError(f"packet starts with 0x{raw[0]:02X}, not SOM 0x53", data=raw)
    length = raw[2] | raw[3] << 8
    if length != len(raw):
        raise OsdpProtocolError(f"length field says {length} bytes, packet has {len(raw)}", data=raw)
    if length > MAX_PACKET:
        raise OsdpProtocolError(f"packet of {length} bytes is longer than {MAX_PACKET}", data=raw[:16])
    ctrl = raw[4]
    if ctrl & ~CTRL_KNOWN:  # reserved bits: a packet this codec would read one way and write another
        raise OsdpProtocolError(f"control byte 0x{ctrl:02X} has reserved bits 0x{ctrl & ~CTRL_KNOWN & 0xFF:02X} set",
                                data=raw)  # fmt: skip
    use_crc = bool(ctrl & CTRL_CRC)
    check_len = 2 if use_crc else 1
    end = length - check_len
    pos = HEADER
    scb: bytes | None = None
    if ctrl & CTRL_SCB:
        if pos >= end or raw[pos] < 2 or pos + raw[pos] > end:
            raise OsdpProtocolError("security control block is truncated or has a bad length", data=raw)
        scb = raw[pos : pos + raw[pos]]
        pos += raw[pos]
    mac_len = 4 if scb is not None and scb[1] in _MAC_TYPES else 0
    if pos + 1 + mac_len > end:
        raise OsdpProtocolError("no room for the command/reply code", data=raw)
    code = raw[pos]
    data = raw[pos + 1 : end - mac_len]
    mac = raw[end - mac_len : end]
    if use_crc:
        check = int.from_bytes(raw[end:], "little")
        check_ok = check == crc16_aug_ccitt(raw[:end])
    else:
        check = raw[end]
        check_ok = check == checksum8(raw[:end])
    return OsdpPacket(
        address=raw[1] & 0x7F, reply=bool(raw[1] & REPLY_FLAG), sequence=ctrl & CTRL_SQN, use_crc=use_crc,
        code=code, data=data, scb=scb, mac=mac, check_ok=check_ok, check=check, mark=mark,
    )  # fmt: skip


@dataclass
class PacketFramer:
    """Finds packets in a byte stream (a bus capture): skips noise up to SOM, waits for the announced length.

    :meth:`feed` returns the packets completed by the new bytes; undecodable spans are skipped one byte at a time and
    counted in :attr:`skipped` (a 0xFF mark byte right before SOM is not counted).
    """

    _buffer: bytearray = field(default_factory=bytearray)
    skipped: int = 0

    def feed(self, data: bytes) -> list[OsdpPacket]:
        self._buffer += data
        packets: list[OsdpPacket] = []
        while True:
            start = self._buffer.find(SOM)
            if start < 0:
                self.skipped += len(self._buffer)
                self._buffer.clear()
                return packets
            if start:
                marked = self._buffer[start - 1] == MARK  # the optional mark byte before SOM is not noise
                self.skipped += start - marked
                del self._buffer[:start]
            if len(self._buffer) < 4:
                return packets
            length = self._buffer[2] | self._buffer[3] << 8
            if length < HEADER + 2 or length > MAX_PACKET:
                self.skipped += 1
                del self._buffer[:1]
                continue
            if len(self._buffer) < length:
                return packets
            chunk = bytes(self._buffer[:length])
            try:
                packet = decode_packet(chunk)
            except OsdpProtocolError:
                packet = None
            if packet is None or not packet.check_ok:
                self.skipped += 1
                del self._buffer[:1]
                continue
            del self._buffer[:length]
            packets.append(packet)
