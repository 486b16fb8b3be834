"""The ESC/POS decoder: bytes in, commands and text out, no I/O. The printer's side of :mod:`.commands`, for
a printer simulator and for checking what a job will print.

It knows the commands :mod:`.commands` emits; anything else is an :class:`EscPosProtocolError` naming the bytes.
Also the decoding of the real-time status bytes a printer answers to DLE EOT n.
"""

from __future__ import annotations

from dataclasses import dataclass

from drivers.escpos.errors import EscPosProtocolError

# (prefix, number of parameter bytes) for fixed-length commands
_FIXED: dict[bytes, tuple[str, int]] = {
    b"\x1b\x40": ("init", 0),
    b"\x1b\x21": ("mode", 1),
    b"\x1b\x45": ("bold", 1),
    b"\x1b\x61": ("align", 1),
    b"\x1b\x64": ("feed", 1),
    b"\x1b\x74": ("code_table", 1),
    b"\x1d\x21": ("size", 1),
    b"\x1c\x26": ("chinese_on", 0),
    b"\x1c\x2e": ("chinese_off", 0),
    b"\x10\x04": ("status", 1),
    b"\x0a": ("lf", 0),
}
_QR_FUNCTIONS = {65: "qr_model", 67: "qr_module", 69: "qr_error_correction", 80: "qr_store", 81: "qr_print"}


@dataclass(frozen=True, slots=True)
class Command:
    """A command and its parameter bytes (for ``qr_store`` the data, without the leading ``0``)."""

    name: str
    args: bytes = b""


@dataclass(frozen=True, slots=True)
class Text:
    text: str


Item = Command | Text


def decode(data: bytes, *, encoding: str = "gb18030") -> list[Item]:
    """Split a job into commands and text runs (text decoded with ``encoding``)."""
    items: list[Item] = []
    pos = 0
    while pos < len(data):
        byte = data[pos]
        if byte >= 0x20:
            end = pos
            while end < len(data) and data[end] >= 0x20:
                end += 1
            try:
                items.append(Text(data[pos:end].decode(encoding)))
            except UnicodeDecodeError as err:
                raise EscPosProtocolError(f"text is not {encoding}", data=data[pos:end]) from err
            pos = end
            continue
        command, pos = _command(data, pos)
        items.append(command)
    return items


def _command(data: bytes, pos: int) -> tuple[Command, int]:
    for prefix, (name, size) in _FIXED.items():
        if data.startswith(prefix, pos):
            start = pos + len(prefix)
            if start + size > len(data):
                raise EscPosProtocolError(f"{name} command cut short", data=data[pos:])
            return Command(name, data[start : start + size]), start + size
    if data.startswith(b"\x1d\x56", pos):
        if pos + 2 >= len(data):
            raise EscPosProtocolError("cut command cut short", data=data[pos:])
        kind = data[pos + 2]
        if kind in (0, 1, 48, 49):
            return Command("cut", bytes((kind,))), pos + 3
        if kind in (65, 66) and pos + 3 < len(data):
            return Command("cut", data[pos + 2 : pos + 4]), pos + 4
        raise EscPosProtocolError("bad cut command", data=data[pos : pos + 4])
    if data.startswith(b"\x1d\x28\x6b", pos):
        if pos + 7 > len(data):
            raise EscPosProtocolError("GS ( k cut short", data=data[pos:])
        size = data[pos + 3] | data[pos + 4] << 8
        end = pos + 5 + size
        if size < 2 or end > len(data) or data[pos + 5] != 49:
            raise EscPosProtocolError("bad GS ( k QR function", data=data[pos : min(end, len(data))])
        function = _QR_FUNCTIONS.get(data[pos + 6])
        if function is None:
            raise EscPosProtocolError(f"unknown QR function {data[pos + 6]}", data=data[pos:end])
        args = data[pos + 7 : end]
        if function == "qr_store":
            if args[:1] != b"0":
                raise EscPosProtocolError('QR store without its "0" (m = 48) byte', data=data[pos : pos + 8])
            args = args[1:]
        return Command(function, args), end
    raise EscPosProtocolError("unknown command", data=data[pos : pos + 4])


def printed_text(items: list[Item]) -> str:
    """The text a job prints, with its line feeds (for checks and previews)."""
    parts: list[str] = []
    for item in items:
        if isinstance(item, Text):
            parts.append(item.text)
        elif item.name == "lf":
            parts.append("\n")
        elif item.name == "feed":
            parts.append("\n" * item.args[0])
    return "".join(parts)


@dataclass(frozen=True, slots=True)
class PaperStatus:
    """The roll paper sensor (DLE EOT 4)."""

    near_end: bool
    out: bool


def decode_paper_status(byte: int) -> PaperStatus:
    """Decode the answer to DLE EOT 4: bits 2-3 paper near end, bits 5-6 paper out; bits 1 and 4 are always set,
    bits 0 and 7 always clear (anything else is not a status byte)."""
    if byte & 0x93 != 0x12:
        raise EscPosProtocolError("not a DLE EOT status byte", data=bytes((byte,)))
    return PaperStatus(near_end=bool(byte & 0x0C), out=bool(byte & 0x60))


def paper_status_byte(status: PaperStatus) -> int:
    """The byte a printer answers to DLE EOT 4 (the simulator's side)."""
    return 0x12 | (0x0C if status.near_end else 0) | (0x60 if status.out else 0)
