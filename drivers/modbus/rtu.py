"""Modbus RTU frame codec: pure, no I/O.

An RTU frame (ADU) is ``unit (1 byte) | function (1 byte) | data | CRC-16/MODBUS (2 bytes, low byte first)``.
This codec covers the function codes ParkGate's devices use:

========  =====================================  ====================================================
function  request data                           response data
========  =====================================  ====================================================
01, 02    address (2), count (2)                 byte count (1), bits packed LSB first
03, 04    address (2), count (2)                 byte count (1), registers (2 each, big endian)
05        address (2), FF00 = on / 0000 = off    echo of the request
06        address (2), value (2)                 echo of the request
0F        address (2), count (2), n (1), bits    address (2), count (2)
10        address (2), count (2), n (1), regs    address (2), count (2)
fc|0x80   --                                     exception code (1)
========  =====================================  ====================================================

RTU frames do not say whether they are requests or responses, so decoding takes a direction. The live driver
talks through pymodbus; this codec serves ``parkgate decode modbus-rtu``, the tests (its frames are checked
against pymodbus' own framer) and the fuzz runs. Every failure is a :class:`ModbusProtocolError`.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Literal

from drivers.modbus.errors import ModbusProtocolError

Direction = Literal["request", "response"]

FUNCTION_NAMES: dict[int, str] = {
    0x01: "read coils",
    0x02: "read discrete inputs",
    0x03: "read holding registers",
    0x04: "read input registers",
    0x05: "write single coil",
    0x06: "write single register",
    0x0F: "write multiple coils",
    0x10: "write multiple registers",
}
EXCEPTION_NAMES: dict[int, str] = {
    1: "illegal function",
    2: "illegal data address",
    3: "illegal data value",
    4: "server device failure",
    5: "acknowledge",
    6: "server device busy",
    8: "memory parity error",
    10: "gateway path unavailable",
    11: "gateway target device failed to respond",
}
MAX_ADU = 256
_READ_LIMITS = {0x01: 2000, 0x02: 2000, 0x03: 125, 0x04: 125}


def crc16(data: bytes) -> int:
    """CRC-16/MODBUS (poly 0xA001 reflected, init 0xFFFF); sent low byte first."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def with_crc(body: bytes) -> bytes:
    """Append the CRC (low byte first) to ``unit | function | data``."""
    return body + crc16(body).to_bytes(2, "little")


@dataclass(frozen=True, slots=True)
class Pdu:
    """One decoded frame: unit, function and the function's fields (plain JSON-ready values)."""

    unit: int
    function: int
    direction: Direction
    fields: dict[str, object] = field(default_factory=dict)
    exception: int | None = None

    @property
    def name(self) -> str:
        return FUNCTION_NAMES.get(self.function & 0x7F, f"function {self.function & 0x7F:#04x}")


@dataclass(frozen=True, slots=True)
class Frame:
    """A frame as found in a byte stream: the PDU, whether its CRC matched, and the raw bytes."""

    pdu: Pdu
    crc_ok: bool
    crc_received: int
    crc_computed: int
    raw: bytes


# ---------------------------------------------------------------------------------------------- encoding


def _check_unit(unit: int) -> None:
    if not 0 <= unit <= 255:
        raise ModbusProtocolError(f"unit {unit} out of range 0..255")


def _check_address(address: int, count: int = 1) -> None:
    if not 0 <= address <= 0xFFFF or address + count - 1 > 0xFFFF:
        raise ModbusProtocolError(f"address {address} (+{count}) out of range 0..65535")


def pack_bits(bits: tuple[bool, ...] | list[bool]) -> bytes:
    """Pack booleans LSB first, 8 to a byte, the last byte padded with zeros."""
    out = bytearray((len(bits) + 7) // 8)
    for i, bit in enumerate(bits):
        if bit:
            out[i // 8] |= 1 << (i % 8)
    return bytes(out)


def unpack_bits(data: bytes, count: int | None = None) -> tuple[bool, ...]:
    """The inverse of :func:`pack_bits`; ``count`` cuts the padding."""
    bits = tuple(bool(byte >> i & 1) for byte in data for i in range(8))
    return bits if count is None else bits[:count]


def read_request(unit: int, function: int, address: int, count: int) -> bytes:
    """A read request (01, 02, 03, 04)."""
    _check_unit(unit)
    if function not in _READ_LIMITS:
        raise ModbusProtocolError(f"function {function:#04x} is not a read")
    if not 1 <= count <= _READ_LIMITS[function]:
        raise ModbusProtocolError(f"count {count} out of range 1..{_READ_LIMITS[function]}")
    _check_address(address, count)
    return with_crc(struct.pack(">BBHH", unit, function, address, count))


def read_bits_response(unit: int, function: int, bits: list[bool] | tuple[bool, ...]) -> bytes:
    """The answer to 01 or 02."""
    _check_unit(unit)
    if function not in (0x01, 0x02) or not 1 <= len(bits) <= 2000:
        raise ModbusProtocolError(f"bad bit response: function {function:#04x}, {len(bits)} bits")
    packed = pack_bits(tuple(bits))
    return with_crc(bytes([unit, function, len(packed)]) + packed)


def read_registers_response(unit: int, function: int, registers: list[int] | tuple[int, ...]) -> bytes:
    """The answer to 03 or 04."""
    _check_unit(unit)
    if function not in (0x03, 0x04) or not 1 <= len(registers) <= 125:
        raise ModbusProtocolError(f"bad register response: function {function:#04x}, {len(registers)} registers")
    if any(not 0 <= r <= 0xFFFF for r in registers):
        raise ModbusProtocolError("register value out of range 0..65535")
    return with_crc(bytes([unit, function, 2 * len(registers)]) + struct.pack(f">{len(registers)}H", *registers))


def write_coil(unit: int, address: int, value: bool) -> bytes:
    """Function 05 (the device echoes it back)."""
    _check_unit(unit)
    _check_address(address)
    return with_crc(struct.pack(">BBHH", unit, 0x05, address, 0xFF00 if value else 0x0000))


def write_register(unit: int, address: int, value: int) -> bytes:
    """Function 06 (the device echoes it back)."""
    _check_unit(unit)
    _check_address(address)
    if not 0 <= value <= 0xFFFF:
        raise ModbusProtocolError(f"register value {value} out of range 0..65535")
    return with_crc(struct.pack(">BBHH", unit, 0x06, address, value))


def write_coils(unit: int, address: int, values: list[bool] | tuple[bool, ...]) -> bytes:
    """Function 0F request."""
    _check_unit(unit)
    if not 1 <= len(values) <= 1968:
        raise ModbusProtocolError(f"coil count {len(values)} out of range 1..1968")
    _check_address(address, len(values))
    packed = pack_bits(tuple(values))
    return with_crc(struct.pack(">BBHHB", unit, 0x0F, address, len(values), len(packed)) + packed)


def write_multiple_response(unit: int, function: int, address: int, count: int) -> bytes:
    """The answer to 0F or 10."""
    _check_unit(unit)
    _check_address(address, max(count, 1))
    return with_crc(struct.pack(">BBHH", unit, function, address, count))


def exception_response(unit: int, function: int, code: int) -> bytes:
    """An exception answer: function with the high bit set, then the code."""
    _check_unit(unit)
    if not 0 <= function <= 0x7F or not 0 <= code <= 255:
        raise ModbusProtocolError(f"bad exception response: function {function}, code {code}")
    return with_crc(bytes([unit, function | 0x80, code]))


# ---------------------------------------------------------------------------------------------- decoding


def expected_length(buffer: bytes, direction: Direction) -> int | None:
    """How long the frame starting at ``buffer[0]`` is, ``None`` if more bytes are needed to tell.

    Raises :class:`ModbusProtocolError` for an unknown function or an impossible length byte.
    """
    if len(buffer) < 2:
        return None
    function = buffer[1]
    if function & 0x80:
        return 5
    if function not in FUNCTION_NAMES:
        raise ModbusProtocolError(f"unknown function code {function:#04x}", data=buffer[:2])
    if function in (0x05, 0x06) or (direction == "request" and function <= 0x04):
        return 8
    if direction == "response" and function in (0x0F, 0x10):
        return 8
    if direction == "response":  # 01..04: byte count follows
        if len(buffer) < 3:
            return None
        count = buffer[2]
        if count == 0 or (function in (0x03, 0x04) and count % 2):
            raise ModbusProtocolError(f"bad byte count {count} for {FUNCTION_NAMES[function]}", data=buffer[:3])
        return 5 + count
    if len(buffer) < 7:  # 0F/10 request: address, count, byte count
        return None
    return 9 + buffer[6]


def _fields(body: bytes, direction: Direction) -> tuple[dict[str, object], int | None]:
    function, data = body[1], body[2:]
    if function & 0x80:
        code = data[0]
        return {"exception_code": code, "exception": EXCEPTION_NAMES.get(code, "unknown")}, code
    if function in (0x05, 0x06):
        address, value = struct.unpack(">HH", data)
        if function == 0x05:
            if value not in (0xFF00, 0x0000):
                raise ModbusProtocolError(f"coil value {value:#06x} is neither FF00 nor 0000", data=body)
            return {"address": address, "value": value == 0xFF00}, None
        return {"address": address, "value": value}, None
    if direction == "request" and function <= 0x04:
        address, count = struct.unpack(">HH", data)
        if not 1 <= count <= _READ_LIMITS[function]:
            raise ModbusProtocolError(f"count {count} out of range 1..{_READ_LIMITS[function]}", data=body)
        return {"address": address, "count": count}, None
    if direction == "response" and function in (0x0F, 0x10):
        address, count = struct.unpack(">HH", data)
        return {"address": address, "count": count}, None
    if direction == "response":
        payload = data[1:]
        if function in (0x01, 0x02):
            return {"byte_count": data[0], "bits": [int(b) for b in unpack_bits(payload)]}, None
        return {"byte_count": data[0], "registers": list(struct.unpack(f">{len(payload) // 2}H", payload))}, None
    address, count, byte_count = struct.unpack(">HHB", data[:5])
    payload = data[5:]
    if function == 0x0F:
        if not 1 <= count <= 1968 or byte_count != (count + 7) // 8:
            raise ModbusProtocolError(f"byte count {byte_count} does not fit {count} coils", data=body)
        return {"address": address, "count": count, "values": [int(b) for b in unpack_bits(payload, count)]}, None
    if not 1 <= count <= 123 or byte_count != 2 * count:
        raise ModbusProtocolError(f"byte count {byte_count} does not fit {count} registers", data=body)
    return {"address": address, "count": count, "values": list(struct.unpack(f">{count}H", payload))}, None


def decode_frame(buffer: bytes, direction: Direction) -> tuple[Frame | None, int]:
    """Decode the frame at the start of ``buffer``: ``(frame, bytes consumed)``, or ``(None, 0)`` if incomplete.

    A CRC mismatch does not raise: the frame is returned with ``crc_ok`` false so an installer can still read it.
    A structurally impossible frame raises :class:`ModbusProtocolError`.
    """
    length = expected_length(buffer, direction)
    if length is None or len(buffer) < length:
        return None, 0
    if length > MAX_ADU:
        raise ModbusProtocolError(f"frame of {length} bytes exceeds the RTU maximum of {MAX_ADU}", data=buffer[:8])
    raw = bytes(buffer[:length])
    body, received = raw[:-2], int.from_bytes(raw[-2:], "little")
    fields, exception = _fields(body, direction)
    computed = crc16(body)
    pdu = Pdu(unit=body[0], function=body[1] & 0x7F, direction=direction, fields=fields, exception=exception)
    return Frame(pdu, received == computed, received, computed, raw), length


def decode_exact(data: bytes, direction: Direction) -> Frame:
    """Decode exactly one frame, refusing missing or extra bytes."""
    frame, used = decode_frame(data, direction)
    if frame is None:
        raise ModbusProtocolError(f"incomplete {direction} frame ({len(data)} bytes)", data=data)
    if used != len(data):
        raise ModbusProtocolError(f"{len(data) - used} bytes after the {direction} frame", data=data)
    return frame


class RtuStreamDecoder:
    """Finds frames in a byte stream (a bus capture): feed bytes, get frames; resynchronises after garbage.

    Bytes that cannot start a valid frame, or frames whose CRC does not match, are skipped one byte at a time
    and counted in :attr:`skipped`; :attr:`errors` keeps the last errors seen.
    """

    def __init__(self, direction: Direction) -> None:
        self.direction: Direction = direction
        self.buffer = bytearray()
        self.skipped = 0
        self.errors: list[ModbusProtocolError] = []

    def feed(self, data: bytes) -> list[Frame]:
        """Add bytes; return every complete frame with a good CRC now in the buffer."""
        self.buffer += data
        frames: list[Frame] = []
        while self.buffer:
            try:
                frame, used = decode_frame(bytes(self.buffer), self.direction)
            except ModbusProtocolError as err:
                self._skip(err)
                continue
            if frame is None:
                if len(self.buffer) > MAX_ADU:
                    self._skip(ModbusProtocolError("no frame in buffer", data=bytes(self.buffer[:16])))
                    continue
                break
            if not frame.crc_ok:
                self._skip(ModbusProtocolError("CRC mismatch", data=frame.raw))
                continue
            del self.buffer[:used]
            frames.append(frame)
        return frames

    def _skip(self, err: ModbusProtocolError) -> None:
        del self.buffer[:1]
        self.skipped += 1
        self.errors = [*self.errors[-9:], err]
