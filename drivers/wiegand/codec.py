"""Wiegand bit strings and the lines of Wiegand-to-RS485 converters: pure codecs, no I/O.

Wiegand 26 (HID H10301)::

    bit 0       even parity over bits 1..12
    bits 1-8    facility code (0..255)
    bits 9-24   card number (0..65535)
    bit 25      odd parity over bits 13..24

Wiegand 34 (the common 34-bit layout, HID H10306-style)::

    bit 0       even parity over bits 1..16
    bits 1-16   facility code (0..65535)
    bits 17-32  card number (0..65535)
    bit 33      odd parity over bits 17..32

Many readers sold in China put a card's 32-bit UID in the Wiegand 34 data field instead; :attr:`WiegandCard.value`
carries the whole data field for them. Other lengths decode as ``raw`` (the bits as one number, parity unknown).

A converter ("Wiegand to RS485/RS232") sends each card as decimal digits followed by CR LF; :class:`ConverterFramer`
splits the byte stream into lines and :func:`parse_converter_line` turns one into a number.
"""

from __future__ import annotations

from dataclasses import dataclass

from drivers.wiegand.errors import WiegandProtocolError

MAX_BITS = 128
MAX_LINE = 32


@dataclass(frozen=True, slots=True)
class WiegandCard:
    """One decoded bit string."""

    format: str  # "H10301", "W34" or "raw"
    bits: int
    value: int  # the data field without parity bits (raw: all bits)
    facility: int | None
    card_number: int
    parity_ok: bool | None

    def as_dict(self) -> dict[str, object]:
        return {
            "format": self.format,
            "bits": self.bits,
            "facility": self.facility,
            "card_number": self.card_number,
            "value": self.value,
            "parity_ok": self.parity_ok,
        }


# format name -> (length, facility bits, card bits)
_LAYOUTS: dict[str, tuple[int, int, int]] = {"H10301": (26, 8, 16), "W34": (34, 16, 16)}
_BY_LENGTH = {length: name for name, (length, _, _) in _LAYOUTS.items()}


def _ones(bits: str) -> int:
    return bits.count("1")


def _parity_ok(bits: str) -> bool:
    """Leading even parity over the first half of the data, trailing odd parity over the second half."""
    half = (len(bits) - 2) // 2
    leading = bits[: 1 + half]
    trailing = bits[1 + half :]
    return _ones(leading) % 2 == 0 and _ones(trailing) % 2 == 1


def clean_bits(text: str | bytes) -> str:
    """The 0/1 characters of ``text`` with whitespace, ``_`` and ``-`` separators removed; anything else is an error."""
    if isinstance(text, bytes):
        raw = text
        try:
            text = raw.decode("ascii")
        except UnicodeDecodeError as err:
            raise WiegandProtocolError("a Wiegand bit string holds only 0 and 1", data=raw[:64]) from err
    bits = "".join(ch for ch in text if ch not in " \t\r\n_-")
    if not bits:
        raise WiegandProtocolError("empty Wiegand bit string")
    if len(bits) > MAX_BITS:
        raise WiegandProtocolError(f"Wiegand bit string of {len(bits)} bits is longer than {MAX_BITS}")
    if set(bits) - {"0", "1"}:
        raise WiegandProtocolError(f"a Wiegand bit string holds only 0 and 1, not {sorted(set(bits) - {'0', '1'})!r}")
    return bits


def decode_bits(text: str | bytes) -> WiegandCard:
    """Decode a bit string (first bit first) into format, facility, card number and parity.

    Wrong parity is reported (``parity_ok=False``), not raised: the installer wants to see what the reader sent.
    Raises :class:`WiegandProtocolError` for anything that is not a bit string.
    """
    bits = clean_bits(text)
    name = _BY_LENGTH.get(len(bits))
    if name is None:
        value = int(bits, 2)
        return WiegandCard("raw", len(bits), value, None, value, None)
    _, facility_bits, card_bits = _LAYOUTS[name]
    data = bits[1:-1]
    facility = int(data[:facility_bits], 2)
    card = int(data[facility_bits : facility_bits + card_bits], 2)
    return WiegandCard(name, len(bits), int(data, 2), facility, card, _parity_ok(bits))


def encode_bits(facility: int, card_number: int, format: str = "H10301") -> str:
    """The bit string a reader sends for ``facility``/``card_number`` in ``format``, with correct parity."""
    if format not in _LAYOUTS:
        raise WiegandProtocolError(f"unknown Wiegand format {format!r} (known: {', '.join(_LAYOUTS)})")
    _, facility_bits, card_bits = _LAYOUTS[format]
    if not 0 <= facility < 1 << facility_bits or not 0 <= card_number < 1 << card_bits:
        raise WiegandProtocolError(f"facility {facility} / card {card_number} do not fit {format}")
    data = f"{facility:0{facility_bits}b}{card_number:0{card_bits}b}"
    half = len(data) // 2
    even = "1" if _ones(data[:half]) % 2 else "0"
    odd = "0" if _ones(data[half:]) % 2 else "1"
    return even + data + odd


def bits_to_bytes(bits: str) -> bytes:
    """Pack a bit string MSB first, padded with zeros to whole bytes (the osdp_RAW layout)."""
    if not bits:
        return b""
    padded = bits + "0" * (-len(bits) % 8)
    return int(padded, 2).to_bytes(len(padded) // 8, "big")


def bytes_to_bits(data: bytes, count: int) -> str:
    """The first ``count`` bits of ``data``, MSB first (the osdp_RAW layout)."""
    if count > len(data) * 8:
        raise WiegandProtocolError(f"{count} bits announced but only {len(data) * 8} present", data=data)
    if count == 0:
        return ""
    return f"{int.from_bytes(data, 'big'):0{len(data) * 8}b}"[:count]


def parse_converter_line(line: bytes) -> int:
    """One converter line (decimal digits, surrounding blanks allowed, CR LF already removed) as a number."""
    text = line.strip(b" \t\x00\x02\x03")
    if not text or not text.isdigit() or len(text) > 20:
        raise WiegandProtocolError("a converter line holds 1 to 20 decimal digits", data=line)
    return int(text)


def format_converter_line(number: int, width: int = 10) -> bytes:
    """The line a converter sends for ``number``: zero-padded decimal digits and CR LF."""
    return f"{number:0{width}d}\r\n".encode("ascii")


class ConverterFramer:
    """Splits a converter's byte stream into lines at CR or LF; keeps a partial line between calls.

    A line longer than :data:`MAX_LINE` is line noise: it is dropped up to the next line end and counted in
    :attr:`overruns`.
    """

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._discarding = False
        self.overruns = 0

    def feed(self, data: bytes) -> list[bytes]:
        """Add received bytes; return the complete, non-empty lines they finish."""
        lines: list[bytes] = []
        for byte in data:
            if byte in (0x0D, 0x0A):
                if self._buffer and not self._discarding:
                    lines.append(bytes(self._buffer))
                self._buffer.clear()
                self._discarding = False
            elif not self._discarding:
                self._buffer.append(byte)
                if len(self._buffer) > MAX_LINE:
                    self._buffer.clear()
                    self._discarding = True
                    self.overruns += 1
        return lines

    @property
    def pending(self) -> int:
        return len(self._buffer)
