"""``parkgate decode modbus-rtu`` through the real CLI entry point."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drivers.modbus.decode import decode
from drivers.modbus.errors import ModbusError


def _decode(text: str, direction: str = "auto") -> dict[str, object]:
    return decode(text.encode(), argparse.Namespace(direction=direction))


def test_request_with_spaces() -> None:
    out = _decode("01 03 00 00 00 0A C5 CD\n")
    assert out["device"] == 1
    assert out["function"] == 3
    assert out["direction"] == "request"
    assert out["fields"] == {"address": 0, "count": 10}
    assert out["crc_ok"] is True


def test_bad_crc_is_shown_not_refused() -> None:
    out = _decode("01030000000AC5CE")
    assert out["crc_ok"] is False
    assert out["crc_computed"] == "cdc5"


def test_forced_direction() -> None:
    assert _decode("01 03 02 00 01 79 84", "response")["fields"] == {"byte_count": 2, "registers": [1]}


@pytest.mark.parametrize("text", ["", "zz", "0 1 0", "01 63 00 00 11 22", "01 03 00"])
def test_bad_input_raises_the_family_error(text: str) -> None:
    with pytest.raises(ModbusError):
        _decode(text)


def test_cli_prints_json_and_fails_with_exit_1() -> None:
    ok = subprocess.run(
        [sys.executable, "-m", "parking.cli", "decode", "modbus-rtu", "-"],
        input=b"01 05 00 03 FF 00 7C 3A",
        capture_output=True,
        check=False,
    )
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["fields"] == {"address": 3, "value": True}
    bad = subprocess.run(
        [sys.executable, "-m", "parking.cli", "decode", "modbus-rtu", "-"],
        input=b"nothex",
        capture_output=True,
        check=False,
    )
    assert bad.returncode == 1
    assert b"not hex" in bad.stderr


@given(st.binary(max_size=80) | st.text(alphabet="0123456789abcdefABCDEF :x\n", max_size=80).map(str.encode))
def test_any_input_gives_a_result_or_the_family_error(data: bytes) -> None:
    try:
        out = decode(data, argparse.Namespace(direction="auto"))
    except ModbusError:
        return
    assert out["direction"] in ("request", "response", "request or echo")
