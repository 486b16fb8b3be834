"""The OSDP packet codec: libosdp's own golden packets, CRC check values, round-trips, osdp_RAW cards, fuzzing."""

from __future__ import annotations

import contextlib
import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drivers.osdp import (
    OsdpError,
    OsdpPacket,
    OsdpProtocolError,
    PacketFramer,
    checksum8,
    crc16_aug_ccitt,
    decode_packet,
    encode_packet,
)
from drivers.osdp.packet import MAX_PACKET
from drivers.osdp.raw import decode_raw

# From libosdp's unit tests (test-cp-phy.c / test-cp-fsm.c): POLL and ID to address 0x65, with the 0xFF mark byte.
LIBOSDP_POLL = bytes.fromhex("ff 53 65 08 00 04 60 60 90")
LIBOSDP_ID = bytes.fromhex("ff 53 65 09 00 05 61 00 e9 4d")
LIBOSDP_PDCAP = bytes.fromhex("ff 53 65 0b 00 05 46 04 04 01 32 11")
# osdp_RAW reply from address 1, sequence 1, carrying H10301 facility 123 card 45678 (bits 10111101 11011001
# 00110111 01------): reader 0, format 1, 26 bits.
RAW_REPLY = bytes.fromhex("53 81 10 00 05 50 00 01 1a 00 bd d9 37 40 56 c0")


def test_crc_check_value() -> None:
    assert crc16_aug_ccitt(b"123456789") == 0xE5CC  # the catalogue check value of CRC-16/AUG-CCITT


def test_checksum() -> None:
    head = bytes.fromhex("53 00 07 00 00 60")
    assert (sum(head) + checksum8(head)) & 0xFF == 0


@pytest.mark.parametrize("raw", [LIBOSDP_POLL, LIBOSDP_ID, LIBOSDP_PDCAP])
def test_libosdp_golden_packets(raw: bytes) -> None:
    packet = decode_packet(raw)
    assert packet.check_ok
    assert packet.address == 0x65
    assert packet.mark
    assert encode_packet(packet, mark=True) == raw


def test_poll_fields() -> None:
    packet = decode_packet(LIBOSDP_POLL)
    assert (packet.name, packet.sequence, packet.use_crc, packet.reply, packet.data) == (
        "osdp_POLL",
        0,
        True,
        False,
        b"",
    )
    assert decode_packet(LIBOSDP_ID).data == b"\x00"


def test_bad_crc_is_reported_not_raised() -> None:
    broken = bytearray(LIBOSDP_POLL)
    broken[-1] ^= 0x01
    assert decode_packet(bytes(broken)).check_ok is False


def test_checksum_packet() -> None:
    raw = encode_packet(OsdpPacket(address=2, reply=False, sequence=3, use_crc=False, code=0x60))
    packet = decode_packet(raw)
    assert (packet.use_crc, packet.sequence, packet.check_ok, len(raw)) == (False, 3, True, 7)


def test_raw_reply_golden() -> None:
    packet = decode_packet(RAW_REPLY)
    assert (packet.reply, packet.address, packet.name, packet.check_ok) == (True, 1, "osdp_RAW", True)
    reader, fmt, bits = decode_raw(packet.data)
    assert (reader, fmt, bits) == (0, 1, "10111101110110010011011101")


def test_secure_block_and_mac() -> None:
    packet = OsdpPacket(
        address=5, reply=False, sequence=2, use_crc=True, code=0x69, data=b"\x01" * 16, scb=b"\x02\x17",
        mac=b"\xaa\xbb\xcc\xdd",
    )  # fmt: skip
    decoded = decode_packet(encode_packet(packet))
    assert decoded.scb == b"\x02\x17"
    assert decoded.mac == b"\xaa\xbb\xcc\xdd"
    assert decoded.encrypted
    assert decoded.as_dict()["security"]["type"] == "SCS_17"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"", "too short"),
        (bytes.fromhex("54 65 08 00 04 60 60 90"), "not SOM"),
        (bytes.fromhex("53 65 09 00 04 60 60 90"), "length field"),
        (bytes.fromhex("53 65 09 00 0c 05 60 60 90"), "security control block"),
    ],
)
def test_malformed_packets(raw: bytes, message: str) -> None:
    with pytest.raises(OsdpProtocolError, match=message):
        decode_packet(raw)


def test_raw_body_errors() -> None:
    with pytest.raises(OsdpProtocolError):
        decode_raw(b"\x00\x01")
    with pytest.raises(OsdpProtocolError):
        decode_raw(bytes([0, 1, 26, 0, 1]))


packets = st.builds(
    OsdpPacket,
    address=st.integers(0, 127),
    reply=st.booleans(),
    sequence=st.integers(0, 3),
    use_crc=st.booleans(),
    code=st.integers(0, 255),
    data=st.binary(max_size=64),
    scb=st.one_of(st.none(), st.sampled_from([b"\x02\x11", b"\x03\x13\x01", b"\x02\x15", b"\x02\x16"])),
)


@given(packets, st.booleans())
def test_round_trip(packet: OsdpPacket, mark: bool) -> None:
    if packet.scb is not None and packet.scb[1] in (0x15, 0x16):
        packet = dataclasses.replace(packet, mac=b"\x01\x02\x03\x04")
    decoded = decode_packet(encode_packet(packet, mark=mark))
    assert decoded.check_ok
    assert _fields(decoded) == _fields(packet)


def _fields(packet: OsdpPacket) -> dict[str, object]:
    names = ("address", "reply", "sequence", "use_crc", "code", "data", "scb", "mac")
    return {name: getattr(packet, name) for name in names}


@given(st.lists(packets.filter(lambda p: p.scb is None), max_size=5), st.integers(0, 50), st.binary(max_size=8))
def test_framer_finds_packets_in_any_chunking(found: list[OsdpPacket], cut: int, noise: bytes) -> None:
    noise = noise.replace(b"\x53", b"")
    stream = noise + b"".join(encode_packet(p) for p in found)
    framer = PacketFramer()
    out = framer.feed(stream[:cut]) + framer.feed(stream[cut:])
    assert [_fields(p) for p in out] == [_fields(p) for p in found]


@given(st.binary(max_size=300))
def test_any_bytes_raise_only_our_error(data: bytes) -> None:
    with contextlib.suppress(OsdpError):
        decode_packet(data)
    PacketFramer().feed(data)


# Found by tests/drivers/test_codec_fuzz.py: reserved control bits were dropped, so a packet decoded with a good CRC
# re-encoded to other bytes; and a packet longer than the encoder allows was decoded.
@pytest.mark.parametrize("ctrl", [0x14, 0x24, 0x44, 0x84, 0xF4])
def test_reserved_control_bits_are_refused(ctrl: int) -> None:
    head = bytes([0x53, 0x65, 0x08, 0x00, ctrl, 0x60])
    raw = head + crc16_aug_ccitt(head).to_bytes(2, "little")
    with pytest.raises(OsdpProtocolError, match=f"control byte 0x{ctrl:02X} has reserved bits"):
        decode_packet(raw)
    assert PacketFramer().feed(raw) == []


def test_a_packet_longer_than_the_maximum_is_refused() -> None:
    size = MAX_PACKET + 1
    head = bytes([0x53, 0x01, size & 0xFF, size >> 8, 0x04, 0x60]) + b"\x00" * (size - 8)
    with pytest.raises(OsdpProtocolError, match="longer than 1440"):
        decode_packet(head + crc16_aug_ccitt(head).to_bytes(2, "little"))
