"""Plate cameras: Hikvision ISAPI ANPR push and JSON events (HTTP POST, MQTT), all normalised to :class:`PlateRead`."""

from drivers.lpr.errors import LprError, LprProtocolError, LprTimeoutError, LprTransportError
from drivers.lpr.events import CameraEvent, CameraHeartbeat, Direction, PlateImage, PlateRead
from drivers.lpr.isapi import decode_isapi, encode_isapi_multipart, encode_isapi_xml
from drivers.lpr.jsonmap import MILESIGHT, FieldMap, decode_json, encode_milesight, load_field_map

__all__ = [
    "MILESIGHT",
    "CameraEvent",
    "CameraHeartbeat",
    "Direction",
    "FieldMap",
    "LprError",
    "LprProtocolError",
    "LprTimeoutError",
    "LprTransportError",
    "PlateImage",
    "PlateRead",
    "decode_isapi",
    "decode_json",
    "encode_isapi_multipart",
    "encode_isapi_xml",
    "encode_milesight",
    "load_field_map",
]
