"""``parkgate decode json-lpr``: a JSON plate event through ``--map milesight`` (default) or a map file."""

from __future__ import annotations

import argparse
from typing import Any

from drivers.lpr.isapi_decode import zone
from drivers.lpr.jsonmap import decode_json, load_field_map

HELP = "JSON plate event (HTTP or MQTT) through a field map: --map milesight or --map FILE.json"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--map", default="milesight", help="built-in map (milesight, default) or a JSON map file")
    parser.add_argument("--camera", help="camera name to report (default: the event's device field)")
    parser.add_argument("--tz", default="UTC", help="zone for times without an offset (e.g. Asia/Shanghai)")


def decode(data: bytes, args: argparse.Namespace) -> dict[str, Any]:
    field_map = load_field_map(getattr(args, "map", None) or "milesight")
    read = decode_json(
        data, field_map, camera=getattr(args, "camera", None), default_tz=zone(getattr(args, "tz", None) or "UTC")
    )
    return read.as_dict()
