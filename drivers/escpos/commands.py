"""The ESC/POS encoder: print commands in, bytes out, no I/O.

The subset a receipt needs, as the Epson reference and the Chinese-market printers (Xprinter, Gprinter, Sunmi,
Rongta...) implement it:

========================  ===================  ==================================================================
command                   bytes                meaning
========================  ===================  ==================================================================
ESC @                     1B 40                initialise: clear the buffer, modes back to defaults
FS &  /  FS .             1C 26  /  1C 2E      Chinese (double-byte) character mode on / off
ESC t n                   1B 74 n              character code table for single-byte mode (0 = PC437)
ESC ! n                   1B 21 n              print mode: 0x08 emphasised, 0x10 double height, 0x20 double
                                               width, 0x80 underline
GS ! n                    1D 21 n              character size: width multiplier - 1 in the high nibble, height in
                                               the low nibble (1..8 each)
ESC E n                   1B 45 n              emphasised (bold) on / off
ESC a n                   1B 61 n              justification: 0 left, 1 centre, 2 right
LF                        0A                   print the line and feed one line
ESC d n                   1B 64 n              print and feed n lines
GS V 65+p n               1D 56 41/42 n        feed n dots and cut (65 full, 66 partial)
GS ( k pL pH cn fn ...    1D 28 6B ...         QR code (cn 0x31): fn 65 model, 67 module size, 69 error
                                               correction, 80 store data, 81 print
DLE EOT n                 10 04 n              real-time status (1 printer, 2 offline cause, 3 error, 4 paper)
========================  ===================  ==================================================================

Text is encoded in GB18030 for Chinese printers (with FS & once after ESC @): GB18030 covers all of Unicode and
none of its bytes is below 0x30 past the first, so text can never be mistaken for a command. Control characters in
the text itself (an ESC in a plate read, say) are replaced by spaces, so data can never become a command either.
"""

from __future__ import annotations

import unicodedata
from enum import IntEnum
from typing import Self

from drivers.escpos.errors import EscPosProtocolError

ESC, GS, FS, DLE, EOT, LF = 0x1B, 0x1D, 0x1C, 0x10, 0x04, 0x0A
INIT = bytes((ESC, 0x40))
CHINESE_ON = bytes((FS, 0x26))
CHINESE_OFF = bytes((FS, 0x2E))
QR_MAX_DATA = 7089
QR_EC_LEVELS = {"L": 48, "M": 49, "Q": 50, "H": 51}


class Align(IntEnum):
    LEFT = 0
    CENTER = 1
    RIGHT = 2


class Mode(IntEnum):
    """Bits of ESC ! n."""

    FONT_B = 0x01
    BOLD = 0x08
    DOUBLE_HEIGHT = 0x10
    DOUBLE_WIDTH = 0x20
    UNDERLINE = 0x80


def display_width(text: str, *, chinese: bool = True) -> int:
    """Columns the text takes on the printer. In Chinese mode every character outside ASCII is a double-byte
    character printed full width (× and · included), so it takes two; otherwise only East Asian wide and
    full-width characters do."""
    if chinese:
        return sum(1 if ord(char) < 0x80 else 2 for char in text)
    return sum(2 if unicodedata.east_asian_width(char) in ("W", "F") else 1 for char in text)


def clean_text(text: str) -> str:
    """Replace control characters (other than none) with spaces, so text can never carry a command."""
    return "".join(" " if (ord(char) < 0x20 or ord(char) == 0x7F) else char for char in text)


class EscPos:
    """Builds one print job. ``encoding`` is ``gb18030`` for Chinese printers (Chinese mode on after init) or a
    single-byte code page such as ``cp437`` (Chinese mode off, ESC t ``code_table``). ``columns`` is the line
    width at normal size: 32 on 58 mm paper, 48 on 80 mm paper."""

    def __init__(self, *, encoding: str = "gb18030", columns: int = 32, code_table: int = 0) -> None:
        self.encoding = encoding
        self.columns = columns
        self.code_table = code_table
        self._buffer = bytearray()

    @property
    def chinese(self) -> bool:
        return self.encoding.lower().replace("-", "") in ("gb18030", "gbk", "gb2312")

    def raw(self, data: bytes) -> Self:
        self._buffer += data
        return self

    def init(self) -> Self:
        """ESC @, then the character mode for the encoding."""
        self.raw(INIT)
        if self.chinese:
            return self.raw(CHINESE_ON)
        return self.raw(CHINESE_OFF + bytes((ESC, 0x74, self.code_table)))

    def align(self, align: Align) -> Self:
        return self.raw(bytes((ESC, 0x61, int(align))))

    def mode(self, *modes: Mode) -> Self:
        """ESC ! with the given bits (none: back to normal)."""
        value = 0
        for mode in modes:
            value |= int(mode)
        return self.raw(bytes((ESC, 0x21, value)))

    def size(self, width: int = 1, height: int = 1) -> Self:
        """GS ! with width and height multipliers, 1 to 8 each."""
        if not (1 <= width <= 8 and 1 <= height <= 8):
            raise EscPosProtocolError(f"character size {width}x{height} is outside 1..8")
        return self.raw(bytes((GS, 0x21, (width - 1) << 4 | (height - 1))))

    def bold(self, on: bool = True) -> Self:
        return self.raw(bytes((ESC, 0x45, int(on))))

    def text(self, text: str) -> Self:
        """Text without a line feed; newlines in it become line feeds."""
        lines = text.split("\n")
        for index, line in enumerate(lines):
            if index:
                self.raw(bytes((LF,)))
            self.raw(clean_text(line).encode(self.encoding, errors="replace"))
        return self

    def line(self, text: str = "") -> Self:
        return self.text(text).raw(bytes((LF,)))

    def columns_line(self, left: str, right: str, *, width: int | None = None) -> Self:
        """One line with ``left`` at the start and ``right`` at the end (CJK counted as two columns)."""
        width = width or self.columns
        gap = width - display_width(left, chinese=self.chinese) - display_width(right, chinese=self.chinese)
        if gap < 1:
            return self.line(left).align(Align.RIGHT).line(right).align(Align.LEFT)
        return self.line(left + " " * gap + right)

    def rule(self, char: str = "-") -> Self:
        return self.line(char * (self.columns // display_width(char, chinese=self.chinese)))

    def feed(self, lines: int = 1) -> Self:
        if not 0 <= lines <= 255:
            raise EscPosProtocolError(f"cannot feed {lines} lines")
        return self.raw(bytes((ESC, 0x64, lines)))

    def cut(self, *, partial: bool = False, feed_dots: int = 48) -> Self:
        """GS V 65/66 n: feed ``feed_dots`` then cut (a partial cut leaves a hinge)."""
        if not 0 <= feed_dots <= 255:
            raise EscPosProtocolError(f"cannot feed {feed_dots} dots before the cut")
        return self.raw(bytes((GS, 0x56, 66 if partial else 65, feed_dots)))

    def qr(self, data: str, *, module: int = 6, error_correction: str = "M") -> Self:
        """A QR code (model 2) of ``data`` (UTF-8), with GS ( k: model, module size, error correction, store,
        print."""
        payload = data.encode("utf-8")
        if not payload or len(payload) > QR_MAX_DATA:
            raise EscPosProtocolError(f"QR data of {len(payload)} bytes (1..{QR_MAX_DATA})")
        if not 1 <= module <= 16:
            raise EscPosProtocolError(f"QR module size {module} is outside 1..16")
        level = QR_EC_LEVELS.get(error_correction)
        if level is None:
            raise EscPosProtocolError(f"QR error correction {error_correction!r} is not one of L, M, Q, H")
        self.raw(qr_function(65, bytes((50, 0))))  # model 2
        self.raw(qr_function(67, bytes((module,))))
        self.raw(qr_function(69, bytes((level,))))
        self.raw(qr_function(80, b"0" + payload))
        return self.raw(qr_function(81, b"0"))

    def build(self) -> bytes:
        return bytes(self._buffer)


def qr_function(fn: int, parameters: bytes) -> bytes:
    """GS ( k pL pH cn=49 fn parameters: one QR code function."""
    size = len(parameters) + 2
    return bytes((GS, 0x28, 0x6B, size & 0xFF, size >> 8, 49, fn)) + parameters


def status_query(n: int) -> bytes:
    """DLE EOT n: ask for a real-time status byte (1 printer, 2 offline cause, 3 error cause, 4 paper sensor)."""
    if n not in (1, 2, 3, 4):
        raise EscPosProtocolError(f"DLE EOT {n} is not a status query")
    return bytes((DLE, EOT, n))
