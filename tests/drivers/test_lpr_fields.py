"""Every field a camera sends is bounded at the codec: golden plates of every family, refusals naming the field and
the device, and properties over any text."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drivers.lpr import MILESIGHT, PlateRead, decode_isapi, decode_json, encode_isapi_xml, encode_milesight
from drivers.lpr.fields import MAX_IMAGE, MAX_PLATE_TEXT, PROVINCES, SUFFIXES, LprFieldError, check_plate
from drivers.lpr.multipart import build_multipart
from parking import plates
from tests.drivers.lpr_plates import real_plates

AT = datetime(2026, 11, 27, 10, 15, 2, tzinfo=timezone(timedelta(hours=8)))

REAL = [
    "粤B3R7K2",  # standard, blue
    "粤BD12345",  # small new energy
    "粤B12345F",  # large new energy
    "京A1234警",  # police
    "粤B1234学",  # learner
    "粤Z1234港",  # Hong Kong cross-border
    "粤Z123澳",  # Macau cross-border, a character dropped
    "沪A1234领",  # consulate
    "使014578",  # embassy, new style
    "123456使",  # embassy, old style
    "VA12345",  # military, new style
    "北K12345",  # military, old style
    "WJ粤1234X",  # armed police
    "粤A1234应急",  # emergency
    "民航12345",  # civil aviation
    "AB1234",  # Hong Kong registration, or a read without the province
    "粤 B·3R7K2",  # with the plate's dot and a space
    "粤ｂ３ｒ７ｋ２",  # full width, lower case
    "粤83R7K2",  # authority letter misread as a digit (normalisation fixes it)
]
NO_READS = [
    "",
    "   ",
    "无牌",
    "无车牌",
    "无牌车",
    "No plate",
    "NO_PLATE",
    "unknown",
    "未识别",
    "-",
    "--",
    "N/A",
    "none",
]
NOT_PLATES = ["<script>", "DROP TABLE", "粤", "AB", "ABCDEF", "粤B\x001234", "粤B12345678901", "hello world", "12"]


@pytest.mark.parametrize("plate", REAL)
def test_real_plates_are_kept_as_read(plate: str) -> None:
    assert check_plate(plate, device="cam") == plate.strip()


@pytest.mark.parametrize("marker", NO_READS)
def test_no_plate_markers_are_a_no_read_not_an_error(marker: str) -> None:
    assert check_plate(marker, device="cam") is None
    read = decode_json(json.dumps({"plate": marker, "confidence": 0}).encode(), MILESIGHT, camera="cam")
    assert read.plate is None
    assert read.no_read


@pytest.mark.parametrize("text", NOT_PLATES)
def test_text_that_is_no_plate_is_refused_naming_field_and_device(text: str) -> None:
    with pytest.raises(LprFieldError) as caught:
        check_plate(text, device="north-in", field="licensePlate")
    assert caught.value.field == "licensePlate"
    assert caught.value.reason in ("plate-shape", "plate-too-long")
    assert str(caught.value).startswith("north-in: field 'licensePlate'")


def test_a_20000_character_plate_is_refused_before_anything_else() -> None:
    xml = encode_isapi_xml(plate="粤" * 20_000, confidence=97, at=AT, event_id="e")
    with pytest.raises(LprFieldError) as caught:
        decode_isapi(xml, camera="north-in")
    assert caught.value.reason == "plate-too-long"
    assert "20000 characters" in str(caught.value)
    assert len(str(caught.value)) < 200  # the error itself is bounded


def test_provinces_and_suffixes_agree_with_the_domain() -> None:
    assert frozenset(PROVINCES) == plates.PROVINCES
    assert set(SUFFIXES) <= set(plates.SUFFIXES)


@pytest.mark.parametrize("confidence", ["NaN", "nan", "inf", "-inf", "Infinity", "101", "-1", "1e400", "abc"])
def test_isapi_confidence_must_be_finite_0_to_100(confidence: str) -> None:
    xml = encode_isapi_xml(plate="粤B3R7K2", confidence=97, at=AT, event_id="e").replace(
        b"<confidenceLevel>97<", f"<confidenceLevel>{confidence}<".encode()
    )
    with pytest.raises(LprFieldError) as caught:
        decode_isapi(xml, camera="cam")
    assert caught.value.field == "confidenceLevel"
    assert caught.value.reason.startswith("confidence")


@pytest.mark.parametrize("confidence", [math.nan, math.inf, -math.inf, 100.5, -0.1, "NaN", "Infinity", True, [1]])
def test_json_confidence_must_be_finite_in_range(confidence: object) -> None:
    body = json.dumps({"plate": "粤B3R7K2", "confidence": confidence}).encode()  # json writes NaN and Infinity
    with pytest.raises(LprFieldError) as caught:
        decode_json(body, MILESIGHT, camera="cam")
    assert caught.value.field == "confidence"


@pytest.mark.parametrize("value", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-12:00", "1970-01-01 00:00:00",
                                   "2150-01-01T00:00:00Z"])  # fmt: skip
def test_camera_time_outside_a_sane_range_is_refused_offline_and_replaced_on_arrival(value: str) -> None:
    xml = encode_isapi_xml(plate="粤B3R7K2", confidence=97, at=AT, event_id="e")
    xml = xml.replace(AT.isoformat(timespec="seconds").encode(), value.encode())
    with pytest.raises(LprFieldError) as caught:
        decode_isapi(xml, camera="cam")
    assert (caught.value.field, caught.value.reason) == ("dateTime", "time-range")
    arrival = datetime(2026, 11, 27, 1, 0, tzinfo=UTC)
    read = decode_isapi(xml, camera="cam", received_at=arrival)
    assert isinstance(read, PlateRead)
    assert (read.at, read.extra["time_source"]) == (arrival, "received")


def test_a_camera_time_far_from_arrival_is_kept_for_the_lane_to_judge() -> None:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    body = encode_milesight(plate="粤B3R7K2", confidence=0.9, direction="Approach", at=at, device="cam")
    late = decode_json(body, MILESIGHT, received_at=datetime(2026, 3, 1, tzinfo=UTC))  # a read all the same
    assert (late.plate, late.at, late.extra["time_source"]) == ("粤B3R7K2", at, "camera")
    read = decode_json(body, MILESIGHT, received_at=datetime(2026, 1, 1, 0, 5, tzinfo=UTC) + timedelta(hours=-8))
    assert read.extra["time_source"] == "camera"


@pytest.mark.parametrize(
    ("key", "value", "field"),
    [
        ("device", "x" * 65, "device"),
        ("plate_color", "blue" * 20, "plate_color"),
        ("vehicle_type", "car\x00", "vehicle_type"),
        ("direction", "A" * 100, "direction"),
    ],
)
def test_json_text_fields_are_bounded(key: str, value: str, field: str) -> None:
    doc = {"plate": "粤B3R7K2", "confidence": 0.9, key: value}
    with pytest.raises(LprFieldError) as caught:
        decode_json(json.dumps(doc).encode(), MILESIGHT)
    assert caught.value.field == field


def test_isapi_ids_and_pictures_are_bounded() -> None:
    xml = encode_isapi_xml(plate="粤B3R7K2", confidence=97, at=AT, event_id="u" * 200)
    with pytest.raises(LprFieldError, match="'UUID'"):
        decode_isapi(xml, camera="cam")
    xml = encode_isapi_xml(plate="粤B3R7K2", confidence=97, at=AT, event_id="e")
    body, content_type = build_multipart(
        [("anpr.xml", "anpr.xml", "application/xml", xml), ("p.jpg", "p.jpg", "image/jpeg", b"\xff" * (MAX_IMAGE + 1))]
    )
    with pytest.raises(LprFieldError) as caught:
        decode_isapi(body, content_type=content_type, camera="cam")
    assert caught.value.reason == "image-too-large"


def test_extra_values_are_bounded() -> None:
    doc = {"plate": "粤B3R7K2", "type": "v" * 10_000, "speed": math.inf, "region": {"nested": [1, 2]}}
    read = decode_json(json.dumps(doc).encode(), MILESIGHT)
    assert len(read.extra["type"]) == 128
    assert "speed" not in read.extra
    assert "region" not in read.extra


@given(real_plates(), st.sampled_from(["", " ", "·"]))
def test_any_real_plate_passes_the_codec(plate: str, separator: str) -> None:
    spaced = plate[:2] + separator + plate[2:]
    xml = encode_isapi_xml(plate=spaced, confidence=90, at=AT, event_id="e")
    read = decode_isapi(xml, camera="cam")
    assert isinstance(read, PlateRead)
    assert read.plate == spaced.strip()


@given(st.text(min_size=MAX_PLATE_TEXT + 1, max_size=400).filter(lambda t: len(t.strip()) > MAX_PLATE_TEXT))
def test_any_text_longer_than_a_plate_is_refused(text: str) -> None:
    with pytest.raises(LprFieldError) as caught:
        check_plate(text, device="cam")
    assert caught.value.reason == "plate-too-long"


@given(st.text(max_size=40))
def test_whatever_passes_is_short(text: str) -> None:
    try:
        plate = check_plate(text, device="cam")
    except LprFieldError:
        return
    assert plate is None or (len(plate) <= MAX_PLATE_TEXT and plate == plate.strip())


@given(st.floats(allow_nan=True, allow_infinity=True) | st.integers(-(10**30), 10**30))
def test_any_confidence_is_refused_or_in_0_to_1(value: float) -> None:
    body = json.dumps({"plate": "粤B3R7K2", "confidence": value}).encode()
    try:
        read = decode_json(body, MILESIGHT, camera="cam")
    except LprFieldError:
        return
    assert read.confidence is not None
    assert 0.0 <= read.confidence <= 1.0


def test_the_look_alike_index_bounds_what_it_keys() -> None:
    index: plates.PlateIndex[str] = plates.PlateIndex()
    index.add("粤B3R7K2", "ok")
    index.add("粤" * 20_000, "huge")  # written before the codec refused such reads: kept, not keyed by look-alikes
    assert index.exact("粤" * 20_000) == ["huge"]
    assert [m.value for m in index.lookup("粤" * 20_000)] == ["huge"]
    assert sum(len(key) for key in index._near) < 500
    assert [m.value for m in index.lookup("粤B3R7K2")] == ["ok"]
    index.remove("粤" * 20_000, "huge")
    assert index.exact("粤" * 20_000) == []


def test_a_picture_given_by_url_is_bounded() -> None:
    doc = {"plate": "粤B3R7K2", "plate_image": "http://camera/" + "a" * 5000}
    with pytest.raises(LprFieldError) as caught:
        decode_json(json.dumps(doc).encode(), MILESIGHT, camera="cam")
    assert caught.value.field == "plate_image"
    read = decode_json(json.dumps({**doc, "plate_image": "http://camera/p.jpg"}).encode(), MILESIGHT, camera="cam")
    image = read.image("plate")
    assert image is not None
    assert image.path == "http://camera/p.jpg"
