"""Wiegand bit strings and converter lines: golden values, round-trips, and garbage that only raises our errors."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drivers.wiegand import (
    ConverterFramer,
    WiegandError,
    WiegandProtocolError,
    decode_bits,
    encode_bits,
    format_converter_line,
    parse_converter_line,
)
from drivers.wiegand.codec import bits_to_bytes, bytes_to_bits

# H10301, facility 123 card 45678: leading even parity over 0111 1011 1011 (9 ones -> 1), trailing odd parity over
# 0010 0110 1110 (6 ones -> 1). Worked by hand, not by the encoder.
H10301_123_45678 = "1" + "01111011" + "1011001001101110" + "1"
# 34-bit, facility 1000 card 2000: 1000 = 0000001111101000 (6 ones -> even parity 0), 2000 = 0000011111010000
# (6 ones -> odd parity 1).
W34_1000_2000 = "0" + "0000001111101000" + "0000011111010000" + "1"


def test_h10301_golden() -> None:
    card = decode_bits(H10301_123_45678)
    assert (card.format, card.facility, card.card_number, card.parity_ok) == ("H10301", 123, 45678, True)
    assert card.value == (123 << 16) | 45678
    assert encode_bits(123, 45678) == H10301_123_45678


def test_w34_golden() -> None:
    card = decode_bits(W34_1000_2000)
    assert (card.format, card.bits, card.facility, card.card_number, card.parity_ok) == ("W34", 34, 1000, 2000, True)
    assert card.value == (1000 << 16) | 2000
    assert encode_bits(1000, 2000, "W34") == W34_1000_2000


@pytest.mark.parametrize("position", [0, 1, 12, 13, 24, 25])
def test_any_flipped_bit_breaks_h10301_parity(position: int) -> None:
    flipped = list(H10301_123_45678)
    flipped[position] = "1" if flipped[position] == "0" else "0"
    assert decode_bits("".join(flipped)).parity_ok is False


def test_spaces_and_separators_are_allowed() -> None:
    spaced = " ".join(H10301_123_45678[i : i + 4] for i in range(0, 26, 4)) + "\n"
    assert decode_bits(spaced.encode()).card_number == 45678


def test_other_lengths_are_raw() -> None:
    card = decode_bits("1" * 32)
    assert (card.format, card.facility, card.parity_ok, card.value) == ("raw", None, None, 2**32 - 1)


@pytest.mark.parametrize("text", ["", "   ", "0120", "abc", "1" * 129, "１０"])
def test_bad_bit_strings(text: str) -> None:
    with pytest.raises(WiegandProtocolError):
        decode_bits(text)


def test_non_ascii_bytes() -> None:
    with pytest.raises(WiegandProtocolError):
        decode_bits(b"\xff\xfe01")


@given(st.integers(0, 255), st.integers(0, 65535))
def test_h10301_round_trip(facility: int, card: int) -> None:
    decoded = decode_bits(encode_bits(facility, card))
    assert (decoded.facility, decoded.card_number, decoded.parity_ok) == (facility, card, True)


@given(st.integers(0, 65535), st.integers(0, 65535))
def test_w34_round_trip(facility: int, card: int) -> None:
    decoded = decode_bits(encode_bits(facility, card, "W34"))
    assert (decoded.facility, decoded.card_number, decoded.parity_ok) == (facility, card, True)


@given(st.text(alphabet="01", min_size=1, max_size=128))
def test_bits_bytes_round_trip(bits: str) -> None:
    assert bytes_to_bits(bits_to_bytes(bits), len(bits)) == bits


def test_encode_refuses_out_of_range() -> None:
    with pytest.raises(WiegandProtocolError):
        encode_bits(256, 1)
    with pytest.raises(WiegandProtocolError):
        encode_bits(1, 1, "H99999")


@given(st.binary(max_size=200))
def test_any_bytes_raise_only_our_error(data: bytes) -> None:
    with contextlib.suppress(WiegandError):
        decode_bits(data)


# ---------------------------------------------------------------------- converter lines


def test_converter_line_golden() -> None:
    assert format_converter_line(8106606) == b"0008106606\r\n"
    framer = ConverterFramer()
    assert framer.feed(b"0008106606\r") == [b"0008106606"]
    assert framer.feed(b"\n") == []  # the LF of CR LF is not a second, empty line
    assert parse_converter_line(b"0008106606") == 8106606


def test_converter_lines_split_anywhere() -> None:
    stream = format_converter_line(1) + format_converter_line(4294967295) + format_converter_line(42, 5)
    for cut in range(len(stream) + 1):
        framer = ConverterFramer()
        lines = framer.feed(stream[:cut]) + framer.feed(stream[cut:])
        assert [parse_converter_line(line) for line in lines] == [1, 4294967295, 42]


def test_converter_noise_is_dropped_and_counted() -> None:
    framer = ConverterFramer()
    lines = framer.feed(b"x" * 100 + b"\r\n0000000007\r\n")
    assert lines == [b"0000000007"]
    assert framer.overruns == 1


@pytest.mark.parametrize("line", [b"", b"12a4", b"-1", b"1" * 21, b"\xff"])
def test_bad_converter_lines(line: bytes) -> None:
    with pytest.raises(WiegandProtocolError):
        parse_converter_line(line)


@given(st.integers(0, 10**12))
def test_converter_round_trip(number: int) -> None:
    (line,) = ConverterFramer().feed(format_converter_line(number))
    assert parse_converter_line(line) == number
