"""``parkgate decode modbus-rtu``: one RTU frame as hex text in, its fields and CRC check out."""

from __future__ import annotations

import argparse
import re
from typing import Any

from drivers.modbus.errors import ModbusProtocolError
from drivers.modbus.rtu import Direction, Frame, decode_exact

HELP = "a Modbus RTU frame as hex (device, function, fields, CRC ok or not)"
_HEX = re.compile(r"^[0-9a-fA-F]*$")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--direction",
        choices=("auto", "request", "response"),
        default="auto",
        help="whether the frame is a request (from the master) or a response (default: whichever fits)",
    )


def parse_hex(data: bytes) -> bytes:
    """Hex text with optional spaces, colons, commas or ``0x`` prefixes into bytes."""
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError as err:
        raise ModbusProtocolError("input is not hex text") from err
    text = re.sub(r"0[xX]", "", text)
    text = re.sub(r"[\s,:;-]+", "", text)
    if not text:
        raise ModbusProtocolError("no hex digits in the input")
    if not _HEX.match(text):
        raise ModbusProtocolError("input is not hex text (only 0-9, a-f and spaces allowed)")
    if len(text) % 2:
        raise ModbusProtocolError(f"odd number of hex digits ({len(text)})")
    return bytes.fromhex(text)


def _describe(frame: Frame) -> dict[str, Any]:
    pdu = frame.pdu
    return {
        "device": pdu.unit,
        "function": pdu.function,
        "function_name": pdu.name,
        "direction": pdu.direction,
        "exception": pdu.exception is not None,
        "fields": pdu.fields,
        "crc_ok": frame.crc_ok,
        "crc_received": f"{frame.crc_received:04x}",
        "crc_computed": f"{frame.crc_computed:04x}",
        "hex": frame.raw.hex(" "),
    }


def decode_frame_text(raw: bytes, direction: str = "auto") -> dict[str, Any]:
    """Decode one frame; in ``auto`` mode try request then response and keep the one that fits best."""
    if direction != "auto":
        chosen: Direction = "request" if direction == "request" else "response"
        return _describe(decode_exact(raw, chosen))
    fits: list[Frame] = []
    errors: list[ModbusProtocolError] = []
    for candidate in ("request", "response"):
        try:
            fits.append(decode_exact(raw, candidate))
        except ModbusProtocolError as err:
            errors.append(err)
    if not fits:
        raise ModbusProtocolError(f"not a request ({errors[0]}) nor a response ({errors[1]})", data=raw)
    fits.sort(key=lambda f: not f.crc_ok)  # stable: a request wins a tie (05/06 look the same both ways)
    result = _describe(fits[0])
    if len(fits) == 2 and fits[0].pdu.function in (0x05, 0x06):
        result["direction"] = "request or echo"
    return result


def decode(data: bytes, args: argparse.Namespace) -> dict[str, Any]:
    """The installer's view of one RTU frame given as hex text."""
    return decode_frame_text(parse_hex(data), getattr(args, "direction", "auto"))
