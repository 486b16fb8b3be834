"""The line grammar our serial devices share (lane display, temporary-card dispenser): pure, no I/O.

Every message is one line of UTF-8 text ending in LF (a CR before it is ignored)::

    <seq> SP <KEYWORD> [SP <rest>] LF

``seq`` is a decimal 1..9999 chosen by the host for a command; the device answers with the same ``seq``.
Messages the device sends on its own (a card taken, a fault) carry ``seq`` 0. ``KEYWORD`` is upper-case
letters; ``rest`` is free text for the keyword to interpret. A line is at most :data:`MAX_LINE` bytes. Text may
not contain control characters (they would break the framing); :func:`clean_text` replaces them with spaces.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from drivers.errors import ProtocolError

MAX_LINE = 512
MAX_SEQ = 9999
_KEYWORD = re.compile(r"^[A-Z]{2,16}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True, slots=True)
class Line:
    """One message: sequence number (0 = unsolicited), keyword and the rest of the line."""

    seq: int
    keyword: str
    rest: str = ""

    def words(self) -> list[str]:
        return self.rest.split() if self.rest else []


def clean_text(text: str, max_bytes: int = 200) -> str:
    """Text safe to put on a line: control characters become spaces, cut (on a character) to ``max_bytes``."""
    text = _CONTROL.sub(" ", text)
    encoded = text.encode("utf-8")[:max_bytes]
    return encoded.decode("utf-8", errors="ignore")


def encode_line(line: Line, error: type[ProtocolError] = ProtocolError) -> bytes:
    """The bytes of a message, LF included; raises ``error`` if it would not survive the framing."""
    if not 0 <= line.seq <= MAX_SEQ:
        raise error(f"sequence number {line.seq} outside 0..{MAX_SEQ}")
    if not _KEYWORD.match(line.keyword):
        raise error(f"bad keyword {line.keyword!r}")
    if _CONTROL.search(line.rest):
        raise error("control character in the text")
    data = f"{line.seq} {line.keyword}{' ' + line.rest if line.rest else ''}\n".encode()
    if len(data) > MAX_LINE:
        raise error(f"line of {len(data)} bytes exceeds {MAX_LINE}")
    return data


def parse_line(raw: bytes, error: type[ProtocolError] = ProtocolError) -> Line:
    """One line without its LF (a trailing CR is dropped) into a :class:`Line`; raises ``error`` if malformed."""
    if raw.endswith(b"\r"):
        raw = raw[:-1]
    if len(raw) >= MAX_LINE:  # its LF makes it one byte longer: the limit the encoder keeps
        raise error(f"line of {len(raw) + 1} bytes with its LF exceeds {MAX_LINE}", data=raw)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise error(f"not UTF-8 at byte {err.start}", data=raw) from err
    if _CONTROL.search(text):
        raise error("control character in the line", data=raw)
    seq_text, _, after = text.partition(" ")
    keyword, _, rest = after.partition(" ")
    if not seq_text.isascii() or not seq_text.isdigit() or len(seq_text) > 4:
        raise error(f"bad sequence number {seq_text!r}", data=raw)
    if not _KEYWORD.match(keyword):
        raise error(f"bad keyword {keyword!r}", data=raw)
    return Line(int(seq_text), keyword, rest.strip(" "))


class LineDecoder:
    """Bytes in, lines out: keeps the partial line; a bad line becomes an error value, not an exception, so one
    garbled line never costs the good ones after it. An over-long line is dropped up to its LF."""

    def __init__(self, error: type[ProtocolError] = ProtocolError) -> None:
        self.error = error
        self.buffer = bytearray()
        self._discarding = False

    def feed(self, data: bytes) -> list[Line | ProtocolError]:
        self.buffer += data
        out: list[Line | ProtocolError] = []
        while True:
            end = self.buffer.find(b"\n")
            if end < 0:
                if len(self.buffer) > MAX_LINE:
                    if not self._discarding:
                        out.append(self.error(f"line longer than {MAX_LINE} bytes", data=bytes(self.buffer[:32])))
                    self._discarding = True
                    self.buffer.clear()
                return out
            raw = bytes(self.buffer[:end])
            del self.buffer[: end + 1]
            if self._discarding:
                self._discarding = False
                continue
            if not raw.strip(b"\r"):
                continue
            try:
                out.append(parse_line(raw, self.error))
            except ProtocolError as err:
                out.append(err)
