"""The lane display line protocol (ours, version 1), on top of :mod:`drivers.serial_line.line`. Pure, no I/O.

Host to display::

    <seq> SHOW <row> <colour> <text>     put text on row 1..8; colour red|green|yellow|white
    <seq> CLEAR                          blank every row
    <seq> SAY <text>                     speak the text (voice module), queued after anything still speaking
    <seq> PING                           are you there?

Display to host::

    <seq> OK
    <seq> ERR <reason>                   e.g. ``ERR ROW 9 out of range``
    <seq> PONG <model and version>
    0 READY                              after power-up
    0 FAULT <reason>                     e.g. a dead LED module; ``0 FAULT`` with no reason clears it

Example: ``12 SHOW 1 green 粤B3R7K2`` then ``12 OK``. Text is UTF-8, without control characters, up to 200 bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

from drivers.display.errors import DisplayProtocolError
from drivers.serial_line.line import Line, clean_text

Colour = Literal["red", "green", "yellow", "white"]
COLOURS: tuple[str, ...] = get_args(Colour)
MAX_ROWS = 8


@dataclass(frozen=True, slots=True)
class Show:
    row: int
    colour: Colour
    text: str


@dataclass(frozen=True, slots=True)
class Clear:
    pass


@dataclass(frozen=True, slots=True)
class Say:
    text: str


@dataclass(frozen=True, slots=True)
class Ping:
    pass


DisplayCommand = Show | Clear | Say | Ping


def command_line(seq: int, command: DisplayCommand) -> Line:
    """The line for a command (host side)."""
    if isinstance(command, Show):
        if not 1 <= command.row <= MAX_ROWS or command.colour not in COLOURS:
            raise DisplayProtocolError(f"bad SHOW: row {command.row}, colour {command.colour}")
        return Line(seq, "SHOW", f"{command.row} {command.colour} {clean_text(command.text)}".rstrip())
    if isinstance(command, Say):
        return Line(seq, "SAY", clean_text(command.text))
    if isinstance(command, Clear):
        return Line(seq, "CLEAR")
    return Line(seq, "PING")


def parse_command(line: Line) -> DisplayCommand:
    """A host line as the display reads it (device side; the simulator uses it)."""
    if line.keyword == "SHOW":
        row_text, _, after = line.rest.partition(" ")
        colour, _, text = after.partition(" ")
        if not row_text.isascii() or not row_text.isdigit() or not 1 <= int(row_text) <= MAX_ROWS:
            raise DisplayProtocolError(f"ROW {row_text or '-'} out of range")
        if colour not in COLOURS:
            raise DisplayProtocolError(f"COLOUR {colour or '-'} unknown")
        return Show(int(row_text), colour, text)  # type: ignore[arg-type]
    if line.keyword == "SAY":
        return Say(line.rest)
    if line.keyword == "CLEAR":
        return Clear()
    if line.keyword == "PING":
        return Ping()
    raise DisplayProtocolError(f"UNKNOWN {line.keyword}")
