"""Hikvision ISAPI ANPR push: ``EventNotificationAlert`` XML, alone or in multipart/form-data with pictures.

The document (namespace ``http://www.hikvision.com/ver20/XMLSchema``, ``http://www.isapi.org/ver20/XMLSchema`` or
none)::

    <EventNotificationAlert version="2.0" xmlns="...">
      <ipAddress>, <portNo>, <protocol>, <macAddress>, <channelID>, <dateTime>2026-11-27T10:15:02+08:00</dateTime>
      <activePostCount>, <eventType>ANPR</eventType>, <eventState>active</eventState>, <eventDescription>
      <channelName>, <ANPR>
        <country>, <licensePlate>粤B3R7K2</licensePlate>, <line>, <direction>forward|reverse|unknown</direction>
        <confidenceLevel>0..100</confidenceLevel>, <plateType>, <plateColor>blue</plateColor>
        <vehicleType>vehicle</vehicleType>, <vehicleInfo><color>..</color>...</vehicleInfo>
        <pictureInfoList><pictureInfo><fileName>licensePlatePicture.jpg</fileName><type>licensePlatePicture</type>
        ...</pictureInfo></pictureInfoList>, <vehicleListName>
      </ANPR>
      <UUID>...</UUID>, <picNum>
    </EventNotificationAlert>

Any other ``eventType`` without an ``<ANPR>`` element (e.g. the heartbeat some firmware sends) is a
:class:`CameraHeartbeat`. Everything else the camera adds is ignored or kept in ``extra``. Firmware set to push JSON
sends the same names as a JSON object (``{"eventType": "ANPR", "ANPR": {"licensePlate": ...}}``); it is read the
same way.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET  # building only; parsing goes through xmldoc
from collections.abc import Iterable
from datetime import UTC, datetime, tzinfo
from typing import Any
from xml.sax.saxutils import escape

from drivers.lpr.errors import LprProtocolError
from drivers.lpr.events import CameraEvent, CameraHeartbeat, PlateImage, PlateRead, direction_from
from drivers.lpr.fields import (
    MAX_EVENT_ID,
    MAX_IMAGES,
    MAX_NAME,
    bounded_extra,
    check_confidence,
    check_image,
    check_plate,
    check_text,
    check_time,
    confidence_number,
)
from drivers.lpr.multipart import Part, boundary_from_body, boundary_from_header, build_multipart, parse_multipart
from drivers.lpr.timestamps import parse_camera_time
from drivers.lpr.xmldoc import MAX_ELEMENTS, child, find, local, parse_xml, text_of

NAMESPACE = "http://www.hikvision.com/ver20/XMLSchema"
SOURCE = "hikvision-isapi"
_EXTRA_ROOT = ("ipAddress", "portNo", "macAddress", "channelID", "channelName", "eventState", "activePostCount")
_EXTRA_ANPR = ("country", "plateType", "line", "vehicleListName", "originalLicensePlate")


def _is_document(part: Part) -> bool:
    names = (part.name.lower(), part.filename.lower())
    if "xml" in part.content_type or "json" in part.content_type or any(n.endswith((".xml", ".json")) for n in names):
        return True
    return part.content.lstrip(b"\xef\xbb\xbf \r\n\t").startswith((b"<", b"{"))


def _image_kind(name: str) -> str:
    lowered = name.lower()
    if "licenseplate" in lowered or "plate" in lowered:
        return "plate"
    if "vehicle" in lowered or "detection" in lowered:
        return "vehicle"
    return "scene"


def split_isapi(
    body: bytes, content_type: str | None = None, device: str | None = None
) -> tuple[bytes, tuple[PlateImage, ...]]:
    """The XML document and the pictures of an ISAPI push (multipart or plain XML), pictures bounded in number and
    size (:func:`drivers.lpr.fields.check_image`)."""
    boundary = boundary_from_header(content_type) or boundary_from_body(body)
    if boundary is None:
        return body, ()
    parts = parse_multipart(body, boundary)
    xml_part = next((p for p in parts if _is_document(p)), None)
    if xml_part is None:
        raise LprProtocolError("multipart push without an XML (or JSON) part", data=body[:64])
    images: list[PlateImage] = []
    for part in parts:
        if part is xml_part or not part.content:
            continue
        name = part.filename or part.name or f"picture{len(images) + 1}.jpg"
        ctype = part.content_type or "image/jpeg"
        if not ctype.startswith("image/") and not name.lower().endswith((".jpg", ".jpeg", ".png")):
            continue
        check_image(name, len(part.content), len(images) + 1, device=device)
        images.append(PlateImage(_image_kind(name), name, ctype, part.content))
    return xml_part.content, tuple(images)


def _confidence(text: str | None, device: str | None) -> float | None:
    """ISAPI's confidenceLevel is a percentage: finite, 0..100, or the read is refused."""
    value = confidence_number(text, device=device, field="confidenceLevel")
    if value is None:
        return None
    return check_confidence(value, scale=100.0, device=device, field="confidenceLevel", raw=text)


def decode_isapi(
    body: bytes, *, content_type: str | None = None, camera: str | None = None, default_tz: tzinfo = UTC,
    received_at: datetime | None = None,
) -> CameraEvent:  # fmt: skip
    """Decode one ISAPI push into a :class:`PlateRead` or :class:`CameraHeartbeat`.

    ``camera`` names the camera (from the URL it posted to); without it the camera's ``ipAddress``/``channelID`` is
    used. A time without an offset is read in ``default_tz``; a missing time becomes ``received_at``.
    Every field is bounded (:mod:`drivers.lpr.fields`); with ``received_at`` the camera's time must also be within
    a day of it. Raises :class:`LprProtocolError` for anything that is not an ISAPI alert, and its subclass
    :class:`~drivers.lpr.fields.LprFieldError` for a field out of bounds.
    """
    xml, images = split_isapi(body, content_type, camera)
    root = _json_alert(xml) if xml.lstrip(b"\xef\xbb\xbf \r\n\t").startswith(b"{") else parse_xml(xml)
    if local(root.tag).lower() != "eventnotificationalert":
        raise LprProtocolError(f"root element is <{local(root.tag)}>, not <EventNotificationAlert>", data=xml[:64])
    event_type = text_of(root, "eventType") or ""
    anpr = child(root, "ANPR")
    if anpr is None:
        anpr = find(root, "ANPR")
    if camera is None:
        ip, channel = text_of(root, "ipAddress"), text_of(root, "channelID")
        camera = "/".join(x for x in (ip or text_of(root, "macAddress"), channel) if x) or "unknown"
        camera = check_text(camera, device=None, field="ipAddress", limit=MAX_NAME) or "unknown"
    event_type = check_text(event_type, device=camera, field="eventType") or ""
    received = received_at or datetime.now(UTC)
    camera_time = parse_camera_time(text_of(root, "dateTime"), default_tz)
    if camera_time is not None:
        camera_time = check_time(camera_time, device=camera, field="dateTime", received=received_at)
    at = camera_time or received
    if anpr is None:
        if event_type.lower() == "anpr":
            raise LprProtocolError("ANPR alert without an <ANPR> element", device=camera, data=xml[:64])
        return CameraHeartbeat(camera, at, event_type or "unknown", xml)
    plate = check_plate(text_of(anpr, "licensePlate"), device=camera, field="licensePlate")
    extra: dict[str, Any] = {k: bounded_extra(v) for k in _EXTRA_ROOT if (v := text_of(root, k)) is not None}
    extra |= {k: bounded_extra(v) for k in _EXTRA_ANPR if (v := text_of(anpr, k)) is not None}
    extra["time_source"] = "camera" if camera_time else "received"
    direction_raw = check_text(text_of(anpr, "direction"), device=camera, field="direction")
    if direction_raw is not None:
        extra["direction_raw"] = direction_raw
    vehicle_info = child(anpr, "vehicleInfo")
    if (colour := text_of(vehicle_info, "color")) is not None:
        extra["vehicle_color"] = bounded_extra(colour)
    listed = _picture_names(anpr)
    if listed:
        extra["pictures"] = listed
    uuid_element = find(root, "UUID")
    event_id = ((uuid_element.text or "").strip() or None) if uuid_element is not None else None
    return PlateRead(
        camera=camera,
        plate=plate,
        confidence=_confidence(text_of(anpr, "confidenceLevel"), camera),
        direction=direction_from(direction_raw),
        at=at,
        source=SOURCE,
        plate_color=check_text(text_of(anpr, "plateColor"), device=camera, field="plateColor"),
        vehicle_type=check_text(
            text_of(anpr, "vehicleType") or text_of(vehicle_info, "vehicleType"), device=camera, field="vehicleType"
        ),
        event_id=check_text(event_id, device=camera, field="UUID", limit=MAX_EVENT_ID),
        images=images,
        raw=xml,
        extra=extra,
    )


def _json_alert(document: bytes) -> ET.Element:
    """Newer firmware can push the same alert as JSON: read it into the element shape the XML path reads."""
    try:
        data = json.loads(document.decode("utf-8-sig"))
        if isinstance(data, dict) and isinstance(data.get("EventNotificationAlert"), dict):
            data = data["EventNotificationAlert"]
        if not isinstance(data, dict):
            raise LprProtocolError("JSON alert is not an object", data=document[:64])
        return _element("EventNotificationAlert", data, 0, [0])
    except (UnicodeDecodeError, ValueError, RecursionError) as err:
        raise LprProtocolError(f"not a JSON alert: {err}", data=document[:64]) from err


def _element(tag: str, value: Any, depth: int, count: list[int]) -> ET.Element:
    if depth > 16:
        raise LprProtocolError("JSON alert nested deeper than 16 levels")
    count[0] += 1
    if count[0] > MAX_ELEMENTS:
        raise LprProtocolError(f"JSON alert with more than {MAX_ELEMENTS} values")
    element = ET.Element(tag[:MAX_NAME])
    if isinstance(value, dict):
        for key, item in value.items():
            element.append(_element(str(key), item, depth + 1, count))
    elif isinstance(value, list):
        for item in value:
            element.append(_element("item", item, depth + 1, count))
    elif value is not None:
        element.text = str(value).lower() if isinstance(value, bool) else str(value)
    return element


def _picture_names(anpr: ET.Element) -> list[str]:
    pictures = child(anpr, "pictureInfoList")
    if pictures is None:
        return []
    names = [name for info in pictures if (name := text_of(info, "fileName")) is not None]
    return [bounded_extra(name) for name in names[:MAX_IMAGES]]


# ---------------------------------------------------------------------- the camera's side (simulator, tests)


def encode_isapi_xml(
    *, plate: str, confidence: int, direction: str = "forward", plate_color: str = "blue",
    vehicle_type: str = "vehicle", at: datetime, event_id: str, channel: int = 1, ip: str = "192.168.1.64",
    pictures: Iterable[str] = (), namespace: str | None = NAMESPACE, encoding: str = "UTF-8",
) -> bytes:  # fmt: skip
    """An ``EventNotificationAlert`` for one ANPR read, as a Hikvision camera writes it."""
    pictures = list(pictures)
    pics = "".join(
        f"<pictureInfo><fileName>{escape(name)}</fileName><type>{escape(name.rsplit('.', 1)[0])}</type>"
        f"<dataType>0</dataType><picRecogMode>1</picRecogMode></pictureInfo>"
        for name in pictures
    )
    xmlns = f' xmlns="{namespace}"' if namespace else ""
    text = (
        f'<?xml version="1.0" encoding="{encoding}"?>\r\n'
        f'<EventNotificationAlert version="2.0"{xmlns}>\r\n'
        f"<ipAddress>{ip}</ipAddress>\r\n<portNo>80</portNo>\r\n<protocol>HTTP</protocol>\r\n"
        f"<macAddress>44:19:b6:00:00:01</macAddress>\r\n<channelID>{channel}</channelID>\r\n"
        f"<dateTime>{at.isoformat(timespec='seconds')}</dateTime>\r\n<activePostCount>1</activePostCount>\r\n"
        f"<eventType>ANPR</eventType>\r\n<eventState>active</eventState>\r\n<eventDescription>ANPR</eventDescription>"
        f"\r\n<channelName>Camera 01</channelName>\r\n<ANPR>\r\n<country>3</country>\r\n"
        f"<licensePlate>{escape(plate)}</licensePlate>\r\n<line>1</line>\r\n<direction>{escape(direction)}</direction>"
        f"\r\n<confidenceLevel>{confidence}</confidenceLevel>\r\n<plateType>92TypeCivil</plateType>\r\n"
        f"<plateColor>{escape(plate_color)}</plateColor>\r\n<licenseBright>0</licenseBright>\r\n"
        f"<vehicleType>{escape(vehicle_type)}</vehicleType>\r\n<detectDir>8</detectDir>\r\n"
        f"<vehicleInfo><index>1</index><colorDepth>2</colorDepth><color>white</color></vehicleInfo>\r\n"
        f"<pictureInfoList>{pics}</pictureInfoList>\r\n<vehicleListName>otherList</vehicleListName>\r\n</ANPR>\r\n"
        f"<UUID>{escape(event_id)}</UUID>\r\n<picNum>{len(pictures)}</picNum>\r\n</EventNotificationAlert>\r\n"
    )
    codec = "gb18030" if encoding.lower() in ("gbk", "gb2312", "gb18030") else encoding
    return text.encode(codec)


def encode_isapi_multipart(xml: bytes, images: dict[str, bytes], boundary: str = "boundary") -> tuple[bytes, str]:
    """The multipart body (and its Content-Type) a camera posts: ``anpr.xml`` first, then the JPEGs by file name."""
    parts = [("anpr.xml", "anpr.xml", "application/xml", xml)]
    parts += [(name, name, "image/jpeg", data) for name, data in images.items()]
    return build_multipart(parts, boundary)
