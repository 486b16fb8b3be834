"""``parkgate decode FORMAT [FILE|-]``: the installer's tool for captures from the field.

Each format is decoded by its driver's codec (no I/O beyond reading the input). A format module provides::

    HELP: str                                   # one line for --help
    def add_arguments(parser) -> None           # optional extra options (e.g. --map for json-lpr)
    def decode(data: bytes, args) -> dict       # the normalised event(s) as JSON-ready data

and raises its driver family's root error (a ``DriverError``) for input it cannot decode; the message is printed
and the exit status is 1.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import sys
from pathlib import Path
from typing import Any, Protocol, cast

DECODERS: dict[str, str] = {
    "hikvision-isapi": "drivers.lpr.isapi_decode",
    "json-lpr": "drivers.lpr.json_decode",
    "modbus-rtu": "drivers.modbus.decode",
    "osdp": "drivers.osdp.decode",
    "wiegand": "drivers.wiegand.decode",
}


class DecoderModule(Protocol):
    HELP: str

    def decode(self, data: bytes, args: argparse.Namespace) -> dict[str, Any]: ...


def _available() -> dict[str, DecoderModule]:
    found = {}
    for name, module in DECODERS.items():
        if importlib.util.find_spec(module.rsplit(".", 1)[0]) is None or importlib.util.find_spec(module) is None:
            continue
        found[name] = cast(DecoderModule, importlib.import_module(module))
    return found


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    decoders = _available()
    if not decoders:
        return
    decode = subparsers.add_parser("decode", help="decode a device capture into the normalised event (JSON)")
    formats = decode.add_subparsers(dest="format", metavar="FORMAT", required=True)
    for name, module in decoders.items():
        sub = formats.add_parser(name, help=module.HELP)
        sub.add_argument("file", nargs="?", default="-", help="capture file, or - for standard input")
        add_arguments = getattr(module, "add_arguments", None)
        if add_arguments is not None:
            add_arguments(sub)
        sub.set_defaults(handler=run_decode, decoder=module)


def run_decode(args: argparse.Namespace) -> int:
    from drivers.errors import DriverError

    try:
        data = sys.stdin.buffer.read() if args.file == "-" else Path(args.file).read_bytes()
    except OSError as err:
        print(f"parkgate decode: cannot read {args.file}: {err.strerror or err}", file=sys.stderr)
        return 1
    decoder = cast(DecoderModule, args.decoder)
    try:
        result = decoder.decode(data, args)
    except DriverError as err:
        print(f"parkgate decode {args.format}: {err}", file=sys.stderr)
        return 1
    print(json.dumps(result, ensure_ascii=False, indent=2, default=str))
    return 0
