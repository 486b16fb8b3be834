"""JSON plate events through field maps: the Milesight golden event, custom maps, tolerance, fuzzing."""

from __future__ import annotations

import base64
import contextlib
import json
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drivers.lpr import MILESIGHT, Direction, FieldMap, LprError, LprProtocolError, decode_json, load_field_map
from drivers.lpr.jsonmap import encode_milesight, lookup
from tests.drivers.lpr_plates import real_plates

NO_READS = {"", "无车牌", "无牌车", "无牌", "车牌", "NoPlate", "No plate", "not defined", "unknown", "-", "N/A"}

PLATE_JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00plate\xff\xd9"
# A Milesight LPR camera's HTTP post (fields as the camera sends them; confidence is a string).
GOLDEN_MILESIGHT = {
    "device": "LPR-Entry-1",
    "time": "2026-11-27 10:15:02",
    "time_msec": 749,
    "plate": "粤B3R7K2",
    "type": "Visitor",
    "speed": "-",
    "direction": "Approach",
    "detection_region": 1,
    "region": "CHN",
    "resolution_width": 1920,
    "resolution_height": 1080,
    "coordinate_x1": 812,
    "coordinate_y1": 644,
    "coordinate_x2": 1016,
    "coordinate_y2": 702,
    "confidence": "0.93",
    "plate_color": "Blue",
    "vehicle_type": "Car",
    "vehicle_color": "White",
    "plate_image": base64.b64encode(PLATE_JPEG).decode(),
}


def test_milesight_golden() -> None:
    body = json.dumps(GOLDEN_MILESIGHT, ensure_ascii=False).encode()
    read = decode_json(body, MILESIGHT, default_tz=ZoneInfo("Asia/Shanghai"))
    assert read.camera == "LPR-Entry-1"
    assert read.plate == "粤B3R7K2"
    assert read.confidence == pytest.approx(0.93)
    assert read.direction is Direction.APPROACH
    assert read.at == datetime(2026, 11, 27, 2, 15, 2, tzinfo=UTC)
    assert (read.plate_color, read.vehicle_type) == ("Blue", "Car")
    image = read.image("plate")
    assert image is not None
    assert image.data == PLATE_JPEG
    assert read.extra["coordinate_x1"] == 812
    assert read.extra["type"] == "Visitor"
    assert read.raw == body
    assert read.source == "json"


def test_milesight_away_and_unknown() -> None:
    doc = {**GOLDEN_MILESIGHT, "direction": "Away", "plate": "unknown", "confidence": "0.00"}
    read = decode_json(json.dumps(doc).encode(), MILESIGHT)
    assert read.direction is Direction.AWAY
    assert read.plate is None
    assert read.no_read


def test_camera_name_from_caller_wins() -> None:
    assert decode_json(json.dumps(GOLDEN_MILESIGHT).encode(), camera="entry-1").camera == "entry-1"


def test_custom_map_file(tmp_path: Path) -> None:
    spec = {
        "plate": "result.plate.text",
        "confidence": "result.plate.score",
        "confidence_scale": 100,
        "direction": "result.motion",
        "directions": {"in": "approach", "out": "away"},
        "plate_color": "result.plate.colour",
        "vehicle_type": None,
        "time": "ts",
        "camera": "cam.id",
        "event_id": "id",
        "images": {"pictures[0].jpeg": "vehicle"},
        "keep": ["cam.site"],
    }
    path = tmp_path / "acme.json"
    path.write_text(json.dumps(spec))
    field_map = load_field_map(str(path))
    assert field_map.name == "acme"
    doc = {
        "id": "ev-9",
        "ts": 1796000000123,
        "cam": {"id": "acme-7", "site": "P1"},
        "result": {"plate": {"text": "京A12345", "score": 88, "colour": "blue"}, "motion": "out"},
        "pictures": [{"jpeg": base64.b64encode(PLATE_JPEG).decode()}],
    }
    read = decode_json(json.dumps(doc).encode(), field_map)
    assert (read.camera, read.plate, read.event_id) == ("acme-7", "京A12345", "ev-9")
    assert read.confidence == pytest.approx(0.88)
    assert read.direction is Direction.AWAY
    assert read.at == datetime.fromtimestamp(1796000000.123, UTC)
    assert read.extra["cam.site"] == "P1"
    vehicle = read.image("vehicle")
    assert vehicle is not None
    assert vehicle.data == PLATE_JPEG


def test_inline_map_table() -> None:
    field_map = load_field_map({"plate": "lp", "confidence": "score", "camera": None, "direction": "dir"})
    read = decode_json(b'{"lp": "AB123", "score": "97", "dir": "in"}', field_map, camera="cam")
    assert (read.plate, read.confidence, read.direction, read.camera) == ("AB123", 0.97, Direction.APPROACH, "cam")
    with pytest.raises(LprProtocolError, match="unknown keys"):
        load_field_map({"plaet": "lp"})


def test_bad_map_files(tmp_path: Path) -> None:
    with pytest.raises(LprProtocolError, match="neither built in"):
        load_field_map(str(tmp_path / "missing.json"))
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"plate": "p", "colour": "c"}))
    with pytest.raises(LprProtocolError, match="unknown keys"):
        load_field_map(str(bad))


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "not JSON"),
        (b"{", "not JSON"),
        (b"[1, 2]", "must be an object"),
        (b'{"foo": 1}', "no 'plate' field"),
        (b"\xff\xfe", "not JSON"),
        (b"[" * 100_000, "not JSON"),
    ],
)
def test_bad_json(body: bytes, message: str) -> None:
    with pytest.raises(LprProtocolError, match=message):
        decode_json(body, MILESIGHT)


def test_tolerates_odd_values() -> None:
    doc = {"plate": "AB123", "confidence": "", "time": "garbage", "direction": 7, "plate_image": "not base64!"}
    read = decode_json(json.dumps(doc).encode(), MILESIGHT, received_at=datetime(2026, 1, 1, tzinfo=UTC))
    assert read.confidence is None
    assert read.at == datetime(2026, 1, 1, tzinfo=UTC)
    assert read.direction is Direction.UNKNOWN
    assert read.images == ()
    percent = decode_json(b'{"plate": "AB123", "confidence": 93}', FieldMap())
    assert percent.confidence == pytest.approx(0.93)


def test_lookup() -> None:
    doc = {"a": {"b": [{"c": 1}]}}
    assert lookup(doc, "a.b[0].c") == 1
    assert lookup(doc, "a.b[3].c") is None
    assert lookup(doc, "a.x") is None
    assert lookup(doc, None) is None


@given(
    real_plates() | st.sampled_from(sorted(NO_READS)),
    st.floats(0.01, 1.0),
    st.sampled_from(["Approach", "Away"]),
)
def test_milesight_round_trip(plate: str, confidence: float, direction: str) -> None:
    at = datetime(2026, 11, 27, 10, 15, 2)
    body = encode_milesight(plate=plate, confidence=confidence, direction=direction, at=at, device="cam")
    read = decode_json(body, MILESIGHT)
    if plate in NO_READS:
        assert read.plate is None
    else:
        assert read.plate == plate.strip()
    assert read.confidence == pytest.approx(round(confidence, 2))
    assert read.direction.value == direction.lower()
    assert read.at == at.replace(tzinfo=UTC)


@given(st.binary(max_size=300))
def test_any_bytes_raise_only_our_error(data: bytes) -> None:
    with contextlib.suppress(LprError):
        decode_json(data, MILESIGHT)


@given(st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
                    max_leaves=12))  # fmt: skip
def test_any_json_raises_only_our_error(value: object) -> None:
    doc = {"plate": value, "confidence": value, "time": value, "direction": value, "plate_image": value}
    with contextlib.suppress(LprError):
        decode_json(json.dumps(doc).encode(), MILESIGHT)
