"""``parkgate decode`` for the plate camera, OSDP and Wiegand formats: through ``parking.cli.main`` and a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from drivers.lpr import encode_isapi_multipart, encode_isapi_xml, encode_milesight
from parking.cli import main
from tests.drivers.test_lpr_isapi import GOLDEN_MULTIPART, GOLDEN_XML
from tests.drivers.test_lpr_json import GOLDEN_MILESIGHT

ROOT = Path(__file__).resolve().parents[2]


def _decode(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, Any]:
    code = main(["decode", *argv])
    out, err = capsys.readouterr()
    return code, (json.loads(out) if code == 0 else err)


def test_hikvision_isapi_xml_and_multipart(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    xml = tmp_path / "anpr.xml"
    xml.write_text(GOLDEN_XML, encoding="utf-8")
    code, out = _decode(["hikvision-isapi", str(xml), "--camera", "entry-1"], capsys)
    assert code == 0
    assert isinstance(out, dict)
    assert (out["plate"], out["camera"], out["direction"], out["confidence"]) == (
        "粤B3R7K2",
        "entry-1",
        "approach",
        0.97,
    )
    capture = tmp_path / "push.bin"
    capture.write_bytes(GOLDEN_MULTIPART)
    code, out = _decode(["hikvision-isapi", str(capture)], capsys)
    assert code == 0
    assert isinstance(out, dict)
    assert [i["name"] for i in out["images"]] == ["licensePlatePicture.jpg", "detectionPicture.jpg"]


def test_hikvision_isapi_naive_time_zone(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    xml = encode_isapi_xml(plate="沪A12345", confidence=90, at=datetime(2026, 11, 27, 8, 0), event_id="e")
    body, _ = encode_isapi_multipart(xml, {})
    path = tmp_path / "naive.bin"
    path.write_bytes(body)
    code, out = _decode(["hikvision-isapi", str(path), "--tz", "Asia/Shanghai"], capsys)
    assert code == 0
    assert isinstance(out, dict)
    assert out["at"] == "2026-11-27T08:00:00+08:00"


def test_hikvision_isapi_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.xml"
    bad.write_text("<EventNotificationAlert><eventType>ANPR</eventType>")
    code, err = _decode(["hikvision-isapi", str(bad)], capsys)
    assert code == 1
    assert "not well-formed XML" in str(err)


def test_json_lpr_milesight_and_map_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    event = tmp_path / "event.json"
    event.write_text(json.dumps(GOLDEN_MILESIGHT, ensure_ascii=False), encoding="utf-8")
    code, out = _decode(["json-lpr", str(event), "--map", "milesight"], capsys)
    assert code == 0
    assert isinstance(out, dict)
    assert (out["plate"], out["confidence"], out["camera"]) == ("粤B3R7K2", 0.93, "LPR-Entry-1")
    mapping = tmp_path / "map.json"
    mapping.write_text(json.dumps({"plate": "lp", "confidence": "c", "camera": "cam"}))
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"lp": "京A12345", "c": 0.5, "cam": "x"}))
    code, out = _decode(["json-lpr", str(other), "--map", str(mapping)], capsys)
    assert code == 0
    assert isinstance(out, dict)
    assert (out["plate"], out["confidence"], out["camera"]) == ("京A12345", 0.5, "x")
    code, err = _decode(["json-lpr", str(other)], capsys)  # milesight map: no "plate" field
    assert code == 1
    assert "no 'plate' field" in str(err)


def test_osdp(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    packet = tmp_path / "poll.hex"
    packet.write_text("FF 53 65 08 00 04 60 60 90\n")
    code, out = _decode(["osdp", str(packet)], capsys)
    assert code == 0
    assert isinstance(out, dict)
    assert (out["address"], out["sequence"], out["name"], out["check_ok"]) == (0x65, 0, "osdp_POLL", True)
    raw = tmp_path / "raw.hex"
    raw.write_text("53 81 10 00 05 50 00 01 1a 00 bd d9 37 40 56 c0")
    code, out = _decode(["osdp", str(raw)], capsys)
    assert code == 0
    assert isinstance(out, dict)
    card = out["card"]
    assert isinstance(card, dict)
    assert (card["format"], card["facility"], card["card_number"], card["parity_ok"]) == ("H10301", 123, 45678, True)
    two = tmp_path / "two.hex"
    two.write_text("53 65 08 00 04 60 60 90 53 65 08 00 04 60 60 91")
    code, out = _decode(["osdp", str(two)], capsys)
    assert code == 0
    assert isinstance(out, dict)
    assert [p["check_ok"] for p in out["packets"]] == [True, False]
    junk = tmp_path / "junk.hex"
    junk.write_text("53 65 zz")
    code, err = _decode(["osdp", str(junk)], capsys)
    assert code == 1
    assert "not hex" in str(err)


def test_wiegand(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bits = tmp_path / "card.txt"
    bits.write_text("1 0111 1011 1011 0010 0110 1110 1\n")
    code, out = _decode(["wiegand", str(bits)], capsys)
    assert code == 0
    assert out == {"kind": "wiegand", "format": "H10301", "bits": 26, "facility": 123, "card_number": 45678,
                   "value": 8106606, "parity_ok": True}  # fmt: skip
    bits.write_text("10111101110110010011011100")
    code, out = _decode(["wiegand", str(bits)], capsys)
    assert code == 0
    assert isinstance(out, dict)
    assert out["parity_ok"] is False
    bits.write_text("10201")
    code, err = _decode(["wiegand", str(bits)], capsys)
    assert code == 1
    assert "only 0 and 1" in str(err)


def test_subprocess_reads_stdin() -> None:
    body = encode_milesight(plate="粤B3R7K2", confidence=0.9, direction="Away", at=datetime(2026, 1, 1), device="cam")
    result = subprocess.run(
        [sys.executable, "-m", "parking.cli", "decode", "json-lpr", "-"], input=body, capture_output=True,
        cwd=ROOT, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert (out["plate"], out["direction"]) == ("粤B3R7K2", "away")
    failed = subprocess.run(
        [sys.executable, "-m", "parking.cli", "decode", "osdp", "-"], input=b"53 00", capture_output=True, cwd=ROOT,
        timeout=60, check=False,
    )  # fmt: skip
    assert failed.returncode == 1
    assert b"parkgate decode osdp" in failed.stderr
