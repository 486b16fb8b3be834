"""The temporary-card dispenser line protocol (ours, version 1), on the line grammar of
:mod:`drivers.serial_line.line`. Pure, no I/O.

Host to dispenser::

    <seq> ISSUE                  move one card to the mouth
    <seq> STATUS                 report stock and state
    <seq> RESET                  clear a jam after the attendant fixed it
    <seq> PING

Dispenser to host::

    <seq> OK                     (ISSUE: accepted, the card is on its way)
    <seq> ERR <reason>           EMPTY | JAM | BUSY (a card is already at the mouth) | other text
    <seq> STATUS <stock> <count> <jam> <mouth>
                                 stock OK|LOW|EMPTY, count a number or - (no counter), jam 0|1, mouth 0|1
    <seq> PONG <model>
    0 PRESENTED <card>           a card is at the mouth (card: its UID if the dispenser reads it, else -)
    0 TAKEN <card>               the driver took it
    0 RECALLED <card>            not taken in time: pulled back into the recall bin
    0 STOCK <stock> <count>      the stock level changed
    0 JAM                        a card is stuck
    0 READY                      after power-up or RESET

Example exchange: ``7 ISSUE`` / ``7 OK`` / ``0 PRESENTED 04A1B2C3`` / ``0 TAKEN 04A1B2C3``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from drivers.dispenser.errors import DispenserProtocolError
from drivers.serial_line.line import Line


class StockLevel(StrEnum):
    OK = "OK"
    LOW = "LOW"
    EMPTY = "EMPTY"


@dataclass(frozen=True, slots=True)
class DispenserStatus:
    stock: StockLevel
    count: int | None
    jammed: bool
    card_at_mouth: bool


def _stock(word: str, line: Line) -> StockLevel:
    try:
        return StockLevel(word)
    except ValueError as err:
        raise DispenserProtocolError(f"unknown stock level {word!r} in {line.keyword}") from err


def _count(word: str) -> int | None:
    if word == "-":
        return None
    if not word.isascii() or not word.isdigit() or len(word) > 9:
        raise DispenserProtocolError(f"bad card count {word!r}")
    return int(word)


def _flag(word: str) -> bool:
    if word not in ("0", "1"):
        raise DispenserProtocolError(f"bad flag {word!r}, 0 or 1 expected")
    return word == "1"


def parse_status(line: Line) -> DispenserStatus:
    """``STATUS <stock> <count> <jam> <mouth>``."""
    words = line.words()
    if line.keyword != "STATUS" or len(words) != 4:
        raise DispenserProtocolError(f"bad STATUS reply: {line.keyword} {line.rest}")
    return DispenserStatus(_stock(words[0], line), _count(words[1]), _flag(words[2]), _flag(words[3]))


def format_status(seq: int, status: DispenserStatus) -> Line:
    count = "-" if status.count is None else str(status.count)
    return Line(seq, "STATUS", f"{status.stock} {count} {int(status.jammed)} {int(status.card_at_mouth)}")


@dataclass(frozen=True, slots=True)
class Notice:
    """An unsolicited message, parsed: ``kind`` is its keyword, ``card`` and stock fields where they apply."""

    kind: str
    card: str | None = None
    stock: StockLevel | None = None
    count: int | None = None


CARD_NOTICES = ("PRESENTED", "TAKEN", "RECALLED")


def parse_notice(line: Line) -> Notice:
    """An unsolicited line (seq 0) into a :class:`Notice`."""
    words = line.words()
    if line.keyword in CARD_NOTICES:
        if len(words) != 1:
            raise DispenserProtocolError(f"{line.keyword} needs one card field")
        return Notice(line.keyword, card=None if words[0] == "-" else words[0])
    if line.keyword == "STOCK":
        if len(words) != 2:
            raise DispenserProtocolError("STOCK needs a level and a count")
        return Notice("STOCK", stock=_stock(words[0], line), count=_count(words[1]))
    if line.keyword in ("JAM", "READY"):
        return Notice(line.keyword)
    raise DispenserProtocolError(f"unknown notice {line.keyword}")


def format_notice(notice: Notice) -> Line:
    if notice.kind in CARD_NOTICES:
        return Line(0, notice.kind, notice.card or "-")
    if notice.kind == "STOCK":
        return Line(0, "STOCK", f"{notice.stock} {'-' if notice.count is None else notice.count}")
    return Line(0, notice.kind)
