"""Hikvision ISAPI ANPR: golden documents shaped like device captures, tolerance, safety, round-trips, fuzzing."""

from __future__ import annotations

import codecs
import contextlib
import json
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drivers.lpr import (
    CameraHeartbeat,
    Direction,
    LprError,
    LprProtocolError,
    PlateRead,
    decode_isapi,
    encode_isapi_multipart,
    encode_isapi_xml,
)
from drivers.lpr.multipart import boundary_from_body, build_multipart, parse_multipart
from tests.drivers.lpr_plates import real_plates

# The shape of a DS-2CD7A26-series ANPR push (HTTP listening), with the fields real firmware adds that we ignore.
GOLDEN_XML = """<?xml version="1.0" encoding="UTF-8"?>
<EventNotificationAlert version="2.0" xmlns="http://www.hikvision.com/ver20/XMLSchema">
<ipAddress>10.2.124.188</ipAddress>
<ipv6Address>::ffff:10.2.124.188</ipv6Address>
<portNo>80</portNo>
<protocol>HTTP</protocol>
<macAddress>bc:5e:33:62:2a:5c</macAddress>
<channelID>1</channelID>
<dateTime>2026-11-27T10:15:02.749+08:00</dateTime>
<activePostCount>1</activePostCount>
<eventType>ANPR</eventType>
<eventState>active</eventState>
<eventDescription>ANPR</eventDescription>
<channelName>Entry 1</channelName>
<ANPR>
<country>3</country>
<licensePlate>粤B3R7K2</licensePlate>
<line>1</line>
<direction>forward</direction>
<confidenceLevel>97</confidenceLevel>
<plateType>92TypeCivil</plateType>
<plateColor>blue</plateColor>
<licenseBright>0</licenseBright>
<dangmark>no</dangmark>
<twoWheelVehicle>no</twoWheelVehicle>
<threeWheelVehicle>no</threeWheelVehicle>
<plateCharBelieve>97,98,99,97,96,99,98</plateCharBelieve>
<vehicleType>vehicle</vehicleType>
<detectDir>8</detectDir>
<detectType>0</detectType>
<alarmDataType>0</alarmDataType>
<vehicleInfo>
<index>4711</index>
<colorDepth>2</colorDepth>
<color>white</color>
<length>0</length>
<vehicleLogoRecog>1036</vehicleLogoRecog>
<vehileSubLogoRecog>0</vehileSubLogoRecog>
<vehileModel>0</vehileModel>
</vehicleInfo>
<pictureInfoList>
<pictureInfo>
<fileName>licensePlatePicture.jpg</fileName>
<type>licensePlatePicture</type>
<dataType>0</dataType>
<picRecogMode>1</picRecogMode>
<absTime>20261127101502749</absTime>
<pId>2026112710150274900bz2I9zzDD1MGQ</pId>
</pictureInfo>
<pictureInfo>
<fileName>detectionPicture.jpg</fileName>
<type>detectionPicture</type>
<dataType>0</dataType>
<picRecogMode>1</picRecogMode>
<absTime>20261127101502749</absTime>
<pId>2026112710150274900Ob0qJVNMPPaAB</pId>
</pictureInfo>
</pictureInfoList>
<originalLicensePlate>粤B3R7K2</originalLicensePlate>
<CRIndex>3</CRIndex>
<vehicleListName>otherList</vehicleListName>
<plateSize>0</plateSize>
</ANPR>
<UUID>8c9b4f2a-3d1e-4b7c-9a10-6f5e4d3c2b1a</UUID>
<picNum>2</picNum>
<monitoringSiteID></monitoringSiteID>
<isDataRetransmission>false</isDataRetransmission>
<DeviceGPSInfo><longitudeType>E</longitudeType><latitudeType>N</latitudeType></DeviceGPSInfo>
</EventNotificationAlert>
"""
PLATE_JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00plate-crop\xff\xd9"
SCENE_JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\r\n--boundary-lookalike\r\n\xff\xd9"
# As the camera posts it: boundary "boundary", CRLF, parts with Content-Length, the XML part named anpr.xml.
GOLDEN_MULTIPART = (
    b"--boundary\r\n"
    b'Content-Disposition: form-data; name="anpr.xml"; filename="anpr.xml"\r\n'
    b"Content-Type: application/xml\r\n"
    b"Content-Length: " + str(len(GOLDEN_XML.encode())).encode() + b"\r\n\r\n" + GOLDEN_XML.encode() + b"\r\n"
    b"--boundary\r\n"
    b'Content-Disposition: form-data; name="licensePlatePicture.jpg"; filename="licensePlatePicture.jpg"\r\n'
    b"Content-Type: image/jpeg\r\n"
    b"Content-Length: " + str(len(PLATE_JPEG)).encode() + b"\r\n\r\n" + PLATE_JPEG + b"\r\n"
    b"--boundary\r\n"
    b'Content-Disposition: form-data; name="detectionPicture.jpg"; filename="detectionPicture.jpg"\r\n'
    b"Content-Type: image/jpeg\r\n\r\n" + SCENE_JPEG + b"\r\n"
    b"--boundary--\r\n"
)
HEARTBEAT = b"""<?xml version="1.0" encoding="UTF-8"?>
<EventNotificationAlert version="2.0" xmlns="http://www.isapi.org/ver20/XMLSchema">
<ipAddress>10.2.124.188</ipAddress><portNo>80</portNo><protocol>HTTP</protocol><macAddress>bc:5e:33:62:2a:5c</macAddress>
<channelID>1</channelID><dateTime>2026-11-27T10:16:00+08:00</dateTime><activePostCount>0</activePostCount>
<eventType>videoloss</eventType><eventState>inactive</eventState><eventDescription>videoloss alarm</eventDescription>
</EventNotificationAlert>"""


def _read(body: bytes, **kwargs: object) -> PlateRead:
    event = decode_isapi(body, **kwargs)  # type: ignore[arg-type]
    assert isinstance(event, PlateRead)
    return event


def test_golden_xml() -> None:
    read = _read(GOLDEN_XML.encode(), camera="entry-1")
    assert read.camera == "entry-1"
    assert read.plate == "粤B3R7K2"
    assert read.confidence == pytest.approx(0.97)
    assert read.direction is Direction.APPROACH
    assert read.at == datetime(2026, 11, 27, 2, 15, 2, 749000, tzinfo=UTC)
    assert (read.plate_color, read.vehicle_type) == ("blue", "vehicle")
    assert read.event_id == "8c9b4f2a-3d1e-4b7c-9a10-6f5e4d3c2b1a"
    assert read.raw == GOLDEN_XML.encode()
    assert read.extra["channelID"] == "1"
    assert read.extra["ipAddress"] == "10.2.124.188"
    assert read.extra["vehicle_color"] == "white"
    assert read.extra["pictures"] == ["licensePlatePicture.jpg", "detectionPicture.jpg"]
    assert not read.no_read


def test_golden_multipart_with_pictures() -> None:
    assert boundary_from_body(GOLDEN_MULTIPART) == "boundary"
    read = _read(GOLDEN_MULTIPART)  # no Content-Type header: boundary from the first line
    assert read.plate == "粤B3R7K2"
    assert read.camera == "10.2.124.188/1"
    plate, vehicle = read.image("plate"), read.image("vehicle")
    assert plate is not None
    assert vehicle is not None
    assert (plate.name, plate.data) == ("licensePlatePicture.jpg", PLATE_JPEG)
    assert (vehicle.name, vehicle.data) == ("detectionPicture.jpg", SCENE_JPEG)
    assert read.raw == GOLDEN_XML.encode()


def test_multipart_with_header_and_lf_only() -> None:
    body = GOLDEN_MULTIPART.replace(b"\r\n", b"\n").replace(b"--boundary", b"--MIME_boundary")
    body = b"\n" + body.replace(b"Content-Length: " + str(len(PLATE_JPEG)).encode(), b"X-Ignored: 1")
    read = _read(body, content_type='multipart/form-data; boundary="MIME_boundary"')
    assert read.plate == "粤B3R7K2"
    assert read.image("plate") is not None


@pytest.mark.parametrize(
    ("namespace", "prefix"),
    [
        ('xmlns="http://www.hikvision.com/ver20/XMLSchema"', ""),
        ('xmlns="http://www.isapi.org/ver20/XMLSchema"', ""),
        ("", ""),
        ('xmlns:hik="http://www.hikvision.com/ver10/XMLSchema"', "hik:"),
    ],
)
def test_any_namespace(namespace: str, prefix: str) -> None:
    body = (
        f'<{prefix}EventNotificationAlert version="2.0" {namespace}><{prefix}eventType>ANPR</{prefix}eventType>'
        f"<{prefix}ANPR><{prefix}licensePlate>AB12345</{prefix}licensePlate></{prefix}ANPR>"
        f"</{prefix}EventNotificationAlert>"
    )
    read = _read(body.encode(), received_at=datetime(2026, 1, 1, tzinfo=UTC))
    assert read.plate == "AB12345"
    assert read.confidence is None  # not sent, so unknown (not zero)
    assert read.direction is Direction.UNKNOWN
    assert read.at == datetime(2026, 1, 1, tzinfo=UTC)
    assert read.extra["time_source"] == "received"


def test_bom_and_gbk() -> None:
    assert _read(codecs.BOM_UTF8 + GOLDEN_XML.encode()).plate == "粤B3R7K2"
    gbk = GOLDEN_XML.replace('encoding="UTF-8"', 'encoding="GBK"').encode("gbk")
    assert _read(gbk).plate == "粤B3R7K2"
    gb2312 = GOLDEN_XML.replace('encoding="UTF-8"', 'encoding="gb2312"').encode("gb2312")
    assert _read(gb2312).plate == "粤B3R7K2"
    undeclared_gbk = GOLDEN_XML.replace('<?xml version="1.0" encoding="UTF-8"?>\n', "").encode("gbk")
    assert _read(undeclared_gbk).plate == "粤B3R7K2"


@pytest.mark.parametrize("plate", ["unknown", "无车牌", "  ", "UNKNOWN"])
def test_no_plate_markers(plate: str) -> None:
    body = GOLDEN_XML.replace("<licensePlate>粤B3R7K2</licensePlate>", f"<licensePlate>{plate}</licensePlate>")
    read = _read(body.replace("<confidenceLevel>97", "<confidenceLevel>0").encode())
    assert read.plate is None
    assert read.no_read
    assert read.confidence == 0.0


def test_confidence_zero_is_no_read_even_with_text() -> None:
    read = _read(GOLDEN_XML.replace("<confidenceLevel>97", "<confidenceLevel>0").encode())
    assert read.plate == "粤B3R7K2"
    assert read.no_read


def test_reverse_and_naive_time_in_camera_zone() -> None:
    body = GOLDEN_XML.replace("forward", "reverse").replace("2026-11-27T10:15:02.749+08:00", "2026-11-27 10:15:02")
    read = _read(body.encode(), default_tz=ZoneInfo("Asia/Shanghai"))
    assert read.direction is Direction.AWAY
    assert read.at == datetime(2026, 11, 27, 10, 15, 2, tzinfo=ZoneInfo("Asia/Shanghai"))


def test_json_alert_from_newer_firmware() -> None:
    alert = {
        "ipAddress": "10.2.124.190", "channelID": 1, "dateTime": "2026-11-27T10:15:02+08:00", "activePostCount": 1,
        "eventType": "ANPR", "eventState": "active", "eventDescription": "ANPR",
        "ANPR": {"licensePlate": "粤BD12345", "confidenceLevel": 91, "direction": "reverse", "plateColor": "green",
                 "vehicleType": "SUVMPV", "pictureInfoList": [{"fileName": "licensePlatePicture.jpg"}]},
        "UUID": "u-42", "isDataRetransmission": False,
    }  # fmt: skip
    body, content_type = build_multipart(
        [("anpr.json", "anpr.json", "application/json", json.dumps(alert, ensure_ascii=False).encode()),
         ("licensePlatePicture.jpg", "licensePlatePicture.jpg", "image/jpeg", PLATE_JPEG)]
    )  # fmt: skip
    read = _read(body, content_type=content_type)
    assert (read.plate, read.plate_color, read.vehicle_type, read.event_id) == ("粤BD12345", "green", "SUVMPV", "u-42")
    assert read.confidence == pytest.approx(0.91)
    assert read.direction is Direction.AWAY
    assert read.camera == "10.2.124.190/1"
    assert read.extra["pictures"] == ["licensePlatePicture.jpg"]
    image = read.image("plate")
    assert image is not None
    assert image.data == PLATE_JPEG
    wrapped = json.dumps({"EventNotificationAlert": {"eventType": "heartBeat"}}).encode()
    assert isinstance(decode_isapi(wrapped), CameraHeartbeat)
    with pytest.raises(LprProtocolError, match="not a JSON alert"):
        decode_isapi(b'{"eventType": ')


def test_heartbeat() -> None:
    event = decode_isapi(HEARTBEAT, camera="entry-1")
    assert isinstance(event, CameraHeartbeat)
    assert event.event_type == "videoloss"
    assert event.at == datetime(2026, 11, 27, 10, 16, tzinfo=timezone(timedelta(hours=8)))


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "not well-formed"),
        (b"<html><body>hello</body></html>", "not <EventNotificationAlert>"),
        (b"<EventNotificationAlert><eventType>ANPR</eventType></EventNotificationAlert>", "without an <ANPR>"),
        (b'<?xml version="1.0"?><!DOCTYPE lol [<!ENTITY a "aaaa">]><EventNotificationAlert/>', "document type"),
        (b'<!DOCTYPE x SYSTEM "file:///etc/passwd"><EventNotificationAlert/>', "document type"),
        (b"--boundary\r\nContent-Type: image/jpeg\r\n\r\n\xff\xd8\r\n--boundary--\r\n", "without an XML"),
        (b"\xff\xfe\x00", "not valid utf-16"),
    ],
)
def test_bad_documents(body: bytes, message: str) -> None:
    with pytest.raises(LprProtocolError, match=message):
        decode_isapi(body)


plates = real_plates()


@given(plates, st.integers(1, 100), st.sampled_from(["forward", "reverse", "unknown"]), st.booleans(), st.booleans())
def test_round_trip(plate: str, confidence: int, direction: str, gbk: bool, multipart: bool) -> None:
    at = datetime(2026, 11, 27, 10, 15, 2, tzinfo=timezone(timedelta(hours=8)))
    xml = encode_isapi_xml(
        plate=plate, confidence=confidence, direction=direction, at=at, event_id="e-1",
        pictures=["licensePlatePicture.jpg"], encoding="GBK" if gbk else "UTF-8",
    )  # fmt: skip
    body = encode_isapi_multipart(xml, {"licensePlatePicture.jpg": PLATE_JPEG})[0] if multipart else xml
    read = _read(body, camera="c")
    assert read.plate == plate
    assert read.confidence == pytest.approx(confidence / 100)
    assert read.direction.value == {"forward": "approach", "reverse": "away", "unknown": "unknown"}[direction]
    assert read.at == at
    assert read.event_id == "e-1"
    if multipart:
        image = read.image("plate")
        assert image is not None
        assert image.data == PLATE_JPEG


@given(
    st.lists(st.binary(max_size=200).map(lambda b: b + b"\r\n--boundary\r\n" if b[:1] == b"x" else b), max_size=4),
    st.sampled_from(["boundary", "----WebKitFormBoundary7MA4YWxk", "MIME_boundary"]),
)
def test_multipart_round_trip(contents: list[bytes], boundary: str) -> None:
    parts = [(f"p{i}.jpg", f"p{i}.jpg", "image/jpeg", content) for i, content in enumerate(contents)]
    body, content_type = build_multipart([("anpr.xml", "anpr.xml", "application/xml", b"<x/>"), *parts], boundary)
    decoded = parse_multipart(body, boundary)
    assert [p.content for p in decoded] == [b"<x/>", *contents]  # Content-Length protects delimiter look-alikes
    assert [p.filename for p in decoded[1:]] == [name for name, *_ in parts]
    assert boundary_from_body(body) == boundary
    assert content_type.endswith(boundary)


@given(st.binary(max_size=400))
def test_any_bytes_raise_only_our_error(data: bytes) -> None:
    with contextlib.suppress(LprError):
        decode_isapi(data)


def test_a_part_length_in_other_digits_is_ignored_not_a_crash() -> None:
    """``"²".isdigit()`` is true but ``int("²")`` raises: a part's Content-Length written so escaped as a ValueError."""
    body = b"--b\r\nContent-Type: image/jpeg\r\nContent-Length: \xc2\xb2\r\n\r\nxx\r\n--b--\r\n"
    assert [p.content for p in parse_multipart(body, "b")] == [b"xx"]
    with pytest.raises(LprProtocolError, match="without an XML"):
        decode_isapi(body, content_type="multipart/form-data; boundary=b")
