"""Wiegand: bit strings (H10301 26-bit, 34-bit) and Wiegand-to-RS485 converters that send decimal lines."""

from drivers.wiegand.codec import (
    ConverterFramer,
    WiegandCard,
    decode_bits,
    encode_bits,
    format_converter_line,
    parse_converter_line,
)
from drivers.wiegand.errors import WiegandError, WiegandProtocolError, WiegandTimeoutError, WiegandTransportError

__all__ = [
    "ConverterFramer",
    "WiegandCard",
    "WiegandError",
    "WiegandProtocolError",
    "WiegandTimeoutError",
    "WiegandTransportError",
    "decode_bits",
    "encode_bits",
    "format_converter_line",
    "parse_converter_line",
]
