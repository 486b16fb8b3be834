"""``parkgate decode hikvision-isapi``: an ISAPI push (XML, or multipart with the boundary on its first line)."""

from __future__ import annotations

import argparse
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from drivers.lpr.errors import LprProtocolError
from drivers.lpr.isapi import decode_isapi

HELP = "Hikvision ISAPI ANPR push (EventNotificationAlert XML, or multipart/form-data with pictures)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--camera", help="camera name to report (default: the camera's ipAddress/channelID)")
    parser.add_argument("--tz", default="UTC", help="zone for times without an offset (e.g. Asia/Shanghai)")


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as err:
        raise LprProtocolError(f"unknown time zone {name!r}") from err


def decode(data: bytes, args: argparse.Namespace) -> dict[str, Any]:
    event = decode_isapi(
        data, camera=getattr(args, "camera", None), default_tz=zone(getattr(args, "tz", None) or "UTC")
    )
    return event.as_dict()
