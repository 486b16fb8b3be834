"""``parkgate decode wiegand``: a bit string of 0/1 (spaces allowed) -> format, facility, card, parity."""

from __future__ import annotations

import argparse
from typing import Any

from drivers.wiegand.codec import decode_bits

HELP = "Wiegand bit string (0/1, spaces allowed): format, facility, card number, parity ok or not"


def decode(data: bytes, args: argparse.Namespace) -> dict[str, Any]:
    card = decode_bits(data)
    return {"kind": "wiegand", **card.as_dict()}
