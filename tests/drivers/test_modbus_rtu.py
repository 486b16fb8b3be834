"""The RTU codec: golden frames with real CRCs, agreement with pymodbus' own framer, round-trips, and garbage that
only ever raises the Modbus family's errors."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pymodbus.framer import FramerRTU
from pymodbus.pdu import DecodePDU
from pymodbus.pdu import bit_message as pm_bits
from pymodbus.pdu import register_message as pm_regs

from drivers.errors import DriverError
from drivers.modbus import rtu
from drivers.modbus.errors import ModbusError, ModbusProtocolError

GOLDEN = [
    # (hex, direction, unit, function, fields)
    ("01 03 00 00 00 0A C5 CD", "request", 1, 3, {"address": 0, "count": 10}),
    ("01 03 02 00 01 79 84", "response", 1, 3, {"byte_count": 2, "registers": [1]}),
    ("11 01 00 13 00 25 0E 84", "request", 17, 1, {"address": 19, "count": 37}),
    ("01 05 00 03 FF 00 7C 3A", "request", 1, 5, {"address": 3, "value": True}),
    ("01 0F 00 03 00 03 01 05 0B 54", "request", 1, 15, {"address": 3, "count": 3, "values": [1, 0, 1]}),
    ("01 01 01 05 91 8B", "response", 1, 1, {"byte_count": 1, "bits": [1, 0, 1, 0, 0, 0, 0, 0]}),
    ("01 83 02 C0 F1", "response", 1, 3, {"exception_code": 2, "exception": "illegal data address"}),
]


def test_crc_of_the_textbook_frame() -> None:
    assert rtu.crc16(bytes.fromhex("01030000000A")) == 0xCDC5
    assert rtu.read_request(1, 3, 0, 10) == bytes.fromhex("01030000000AC5CD")


@pytest.mark.parametrize(("text", "direction", "unit", "function", "fields"), GOLDEN)
def test_golden_frames(
    text: str, direction: rtu.Direction, unit: int, function: int, fields: dict[str, object]
) -> None:
    frame = rtu.decode_exact(bytes.fromhex(text), direction)
    assert frame.crc_ok
    assert (frame.pdu.unit, frame.pdu.function, frame.pdu.fields) == (unit, function, fields)


def test_a_flipped_bit_is_reported_not_hidden() -> None:
    data = bytearray(bytes.fromhex("01030000000AC5CD"))
    data[5] ^= 0x01
    frame = rtu.decode_exact(bytes(data), "request")
    assert not frame.crc_ok
    assert frame.pdu.fields == {"address": 0, "count": 11}


def test_errors_belong_to_the_family() -> None:
    with pytest.raises(ModbusProtocolError) as caught:
        rtu.decode_exact(bytes.fromhex("01 63 00 00"), "request")
    assert isinstance(caught.value, ModbusError)
    assert isinstance(caught.value, DriverError)
    assert "01 63" in str(caught.value)


_CLIENT = FramerRTU(DecodePDU(False))


@given(
    unit=st.integers(1, 247), address=st.integers(0, 60000), count=st.integers(1, 125), fc=st.sampled_from([1, 2, 3, 4])
)
def test_read_requests_match_pymodbus(unit: int, address: int, count: int, fc: int) -> None:
    cls = {
        1: pm_bits.ReadCoilsRequest,
        2: pm_bits.ReadDiscreteInputsRequest,
        3: pm_regs.ReadHoldingRegistersRequest,
        4: pm_regs.ReadInputRegistersRequest,
    }[fc]
    ours = rtu.read_request(unit, fc, address, count)
    assert ours == _CLIENT.buildFrame(cls(address=address, count=count, dev_id=unit))
    frame = rtu.decode_exact(ours, "request")
    assert frame.crc_ok
    assert frame.pdu.fields == {"address": address, "count": count}


@given(unit=st.integers(1, 247), address=st.integers(0, 65000), values=st.lists(st.booleans(), min_size=1, max_size=64))
def test_write_coils_match_pymodbus_and_round_trip(unit: int, address: int, values: list[bool]) -> None:
    ours = rtu.write_coils(unit, address, values)
    assert ours == _CLIENT.buildFrame(pm_bits.WriteMultipleCoilsRequest(address=address, bits=values, dev_id=unit))
    assert rtu.decode_exact(ours, "request").pdu.fields["values"] == [int(v) for v in values]


@given(unit=st.integers(1, 247), address=st.integers(0, 65535), value=st.booleans(), reg=st.integers(0, 0xFFFF))
def test_single_writes_match_pymodbus(unit: int, address: int, value: bool, reg: int) -> None:
    assert rtu.write_coil(unit, address, value) == _CLIENT.buildFrame(
        pm_bits.WriteSingleCoilRequest(address=address, bits=[value], dev_id=unit)
    )
    assert rtu.write_register(unit, address, reg) == _CLIENT.buildFrame(
        pm_regs.WriteSingleRegisterRequest(address=address, registers=[reg], dev_id=unit)
    )


@given(unit=st.integers(0, 255), registers=st.lists(st.integers(0, 0xFFFF), min_size=1, max_size=125))
def test_register_responses_round_trip(unit: int, registers: list[int]) -> None:
    frame = rtu.decode_exact(rtu.read_registers_response(unit, 4, registers), "response")
    assert frame.crc_ok
    assert frame.pdu.fields["registers"] == registers


@given(bits=st.lists(st.booleans(), min_size=1, max_size=2000))
def test_bit_responses_round_trip(bits: list[bool]) -> None:
    frame = rtu.decode_exact(rtu.read_bits_response(3, 2, bits), "response")
    got = frame.pdu.fields["bits"]
    assert isinstance(got, list)
    assert got[: len(bits)] == [int(b) for b in bits]


def test_stream_decoder_resynchronises_after_garbage() -> None:
    good = [rtu.read_request(1, 2, 0, 6), rtu.write_coil(1, 0, True), rtu.read_request(2, 4, 0, 8)]
    stream = b"\xff\x00" + good[0] + b"\x13\x37\x42" + good[1] + good[2]
    decoder = rtu.RtuStreamDecoder("request")
    frames = [f for i in range(0, len(stream), 3) for f in decoder.feed(stream[i : i + 3])]
    assert [f.raw for f in frames] == good
    assert decoder.skipped == 5


@given(data=st.binary(max_size=300), direction=st.sampled_from(["request", "response"]))
def test_any_bytes_raise_only_family_errors(data: bytes, direction: rtu.Direction) -> None:
    with contextlib.suppress(ModbusError):
        rtu.decode_exact(data, direction)
    rtu.RtuStreamDecoder(direction).feed(data)
