"""Every codec in ``drivers/`` fuzzed with invariants, not only "no crash" (issue 18).

Per codec: seeded mutations of golden frames (:class:`tests.fuzzing.Mutator`), and per input the invariants:

* the decoder raises only its family's documented error, with a message (anything else is a crash);
* a frame it decodes with a good check re-encodes to the same bytes (the round trip), and for the text protocols
  a parsed message formats back to one that parses the same;
* a frame with a bad check (CRC, checksum, Wiegand parity) is never delivered by the stream decoders or as a card.

``make test`` runs :data:`tests.fuzzing.SHORT` inputs per codec; ``make soak``/``make fuzz`` run a million each, and
every run adds its row (inputs, crashes, inputs/s) to the soak summary.
"""

from __future__ import annotations

import asyncio
import base64
import json
import random
import re
import struct
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

import pytest

from drivers.cards import CardRead
from drivers.dispenser import DispenserError, DispenserProtocolError
from drivers.dispenser.protocol import format_notice, format_status, parse_notice, parse_status
from drivers.display import DisplayError, DisplayProtocolError
from drivers.display.protocol import command_line, parse_command
from drivers.escpos.commands import EscPos
from drivers.escpos.decode import Command, Item, Text, decode, decode_paper_status, paper_status_byte
from drivers.escpos.errors import EscPosError
from drivers.lpr import (
    MILESIGHT,
    CameraHeartbeat,
    LprError,
    PlateRead,
    decode_isapi,
    decode_json,
    encode_isapi_multipart,
    encode_isapi_xml,
)
from drivers.lpr.fields import EARLIEST, LATEST, MAX_EVENT_ID, MAX_NAME, MAX_PLATE_TEXT, MAX_WORD
from drivers.lpr.jsonmap import encode_milesight
from drivers.lpr.mqtt import MqttCameraConfig, MqttPlateSubscriber
from drivers.modbus import rtu
from drivers.modbus.errors import ModbusError
from drivers.osdp import OsdpError, PacketFramer, checksum8, crc16_aug_ccitt, decode_packet, encode_packet
from drivers.osdp.raw import decode_raw, encode_raw
from drivers.osdp.reader import card_from_event
from drivers.serial_line.line import Line, LineDecoder, encode_line
from drivers.wiegand import ConverterFramer, WiegandError, decode_bits, encode_bits, parse_converter_line
from drivers.wiegand.codec import bits_to_bytes, clean_bits
from tests.fuzzing import LONG, SHORT, Campaign, Mutator, TomlMutator, check

# ---------------------------------------------------------------------------------------------------- Modbus RTU

MODBUS_SEEDS = [
    rtu.read_request(1, 3, 0, 10), rtu.read_request(17, 1, 19, 37), rtu.write_coil(1, 3, True),
    rtu.write_register(2, 40, 0xBEEF), rtu.write_coils(1, 3, [True, False, True]),
    rtu.read_bits_response(1, 1, [True, False, True]), rtu.read_registers_response(1, 3, list(range(20))),
    rtu.write_multiple_response(1, 0x0F, 3, 3), rtu.exception_response(1, 3, 2),
    rtu.with_crc(bytes.fromhex("01 10 00 01 00 02 04 00 0a 01 02")),
]  # fmt: skip


def _modbus_reencode(frame: rtu.Frame) -> bytes:
    """An independent encoder from the decoded fields: if the fields lose a byte, this round trip shows it."""
    pdu, f = frame.pdu, frame.pdu.fields
    head = bytes([pdu.unit, pdu.function | (0x80 if pdu.exception is not None else 0)])
    if pdu.exception is not None:
        body = bytes([f["exception_code"]])  # type: ignore[list-item]
    elif pdu.function == 0x05:
        body = struct.pack(">HH", f["address"], 0xFF00 if f["value"] else 0)
    elif pdu.function == 0x06 or ("values" not in f and "byte_count" not in f):
        body = struct.pack(">HH", f["address"], f.get("value", f.get("count")))
    elif "byte_count" in f:
        items: Any = f.get("bits", f.get("registers"))
        packed = rtu.pack_bits(items) if "bits" in f else struct.pack(f">{len(items)}H", *items)
        body = bytes([f["byte_count"]]) + packed  # type: ignore[list-item]
    else:
        values: Any = f["values"]
        packed = rtu.pack_bits(values) if pdu.function == 0x0F else struct.pack(f">{len(values)}H", *values)
        body = struct.pack(">HHB", f["address"], f["count"], len(packed)) + packed
    return rtu.with_crc(head + body)


def _modbus_padding_cleared(raw: bytes, frame: rtu.Frame) -> bytes:
    """A 0F request's last data byte with its unused high bits zeroed (the protocol pads with zeros; decoding cuts
    the padding, so only this part of the frame does not come back)."""
    if frame.pdu.function != 0x0F or frame.pdu.direction != "request" or frame.pdu.exception is not None:
        return raw
    count = int(frame.pdu.fields["count"])  # type: ignore[call-overload]
    if count % 8 == 0:
        return raw
    body = bytearray(raw[:-2])
    body[-1] &= (1 << (count % 8)) - 1
    return rtu.with_crc(bytes(body))


def modbus(count: int, seed: int) -> Campaign:
    mutator = Mutator(seed, MODBUS_SEEDS, [b"\x01\x03", b"\x83", b"\xff\x00", b"\x00\x00", b"\x10", b"\x0f"])
    streams = {d: rtu.RtuStreamDecoder(d) for d in ("request", "response")}
    directions: tuple[rtu.Direction, ...] = ("request", "response")

    def one(data: bytes) -> None:
        direction: rtu.Direction = directions[data[-1] & 1] if data else "request"
        for frame in streams[direction].feed(data):
            check(frame.crc_ok and rtu.crc16(frame.raw[:-2]) == frame.crc_received, "stream delivered a bad CRC")
            check(_modbus_reencode(frame) == _modbus_padding_cleared(frame.raw, frame), f"stream frame {frame}")
        frame = rtu.decode_exact(data, direction)
        check(frame.raw == data, "raw is not the input")
        if frame.crc_ok:
            again = _modbus_reencode(frame)
            check(again == _modbus_padding_cleared(data, frame), f"re-encoded as {again.hex(' ')}")
        else:
            check(rtu.crc16(data[:-2]) != int.from_bytes(data[-2:], "little"), "good CRC reported as bad")

    def samples() -> Iterable[bytes]:  # half the mutants get a good CRC, so the decoder's checks are reached
        for data in mutator.many(count):
            yield rtu.with_crc(data[:-2]) if len(data) > 2 and mutator.rng.random() < 0.5 else data

    return Campaign("Modbus RTU frames", ModbusError).run(samples(), one)


# ---------------------------------------------------------------------------------------------------------- OSDP

LIBOSDP_POLL = bytes.fromhex("ff 53 65 08 00 04 60 60 90")
LIBOSDP_ID = bytes.fromhex("ff 53 65 09 00 05 61 00 e9 4d")
LIBOSDP_PDCAP = bytes.fromhex("ff 53 65 0b 00 05 46 04 04 01 32 11")
RAW_REPLY = bytes.fromhex("53 81 10 00 05 50 00 01 1a 00 bd d9 37 40 56 c0")
OSDP_SECURE = bytes.fromhex("53 05 1c 00 0e 02 17 69") + b"\x01" * 16
OSDP_SECURE = OSDP_SECURE + bytes.fromhex("aa bb cc dd")
OSDP_SECURE = OSDP_SECURE[:2] + bytes([len(OSDP_SECURE) + 2, 0]) + OSDP_SECURE[4:]
OSDP_SECURE += crc16_aug_ccitt(OSDP_SECURE).to_bytes(2, "little")
OSDP_SEEDS = [LIBOSDP_POLL, LIBOSDP_ID, LIBOSDP_PDCAP, RAW_REPLY, OSDP_SECURE, LIBOSDP_POLL[1:] + RAW_REPLY]


def _raw_padding_cleared(body: bytes) -> bytes:
    count = body[2] | body[3] << 8
    if count % 8 == 0 or len(body) <= 4:
        return body
    return body[:-1] + bytes([body[-1] & (0xFF << (8 - count % 8)) & 0xFF])


def osdp(count: int, seed: int) -> Campaign:
    mutator = Mutator(seed, OSDP_SEEDS, [b"\x53", b"\xff", b"\x0c", b"\x08", b"\x02\x11", b"\x50", b"\x00\x00"])
    framer = PacketFramer()

    def one(data: bytes) -> None:
        for packet in framer.feed(data):
            check(packet.check_ok, "the framer delivered a packet with a bad check")
            check(decode_packet(encode_packet(packet)).check_ok, "a delivered packet does not re-encode")
        packet = decode_packet(data)
        if packet.check_ok:
            again = encode_packet(packet, mark=packet.mark)
            check(again == data, f"re-encoded as {again.hex(' ')}")
        if packet.reply and packet.code == 0x50 and not packet.encrypted:
            reader, fmt, bits = decode_raw(packet.data)
            again = encode_raw(bits, reader, fmt)
            check(again == _raw_padding_cleared(packet.data), f"osdp_RAW re-encoded as {again.hex(' ')}")

    def samples() -> Iterable[bytes]:  # most mutants get a good length and check, so the decoder's checks are reached
        rng = mutator.rng
        for data in mutator.many(count):
            start = 1 if data[:1] == b"\xff" else 0
            body = bytearray(data[start:])
            if len(body) > 6 and rng.random() < 0.7:
                crc = body[4] & 0x04 if rng.random() < 0.9 else rng.randrange(2) * 4
                body = body[: -2 if crc else -1]
                size = len(body) + (2 if crc else 1)
                body[2:4] = size.to_bytes(2, "little")
                head = bytes(body)
                body += crc16_aug_ccitt(head).to_bytes(2, "little") if crc else bytes([checksum8(head)])
            yield data[:start] + bytes(body)

    return Campaign("OSDP packets", OsdpError).run(samples(), one)


def osdp_cards(count: int, seed: int) -> Campaign:
    """libosdp's card events as the reader driver turns them into :class:`CardRead`: a read whose Wiegand parity
    fails is never delivered (it could be another card's number)."""
    rng = random.Random(seed)
    at = datetime(2026, 11, 27, tzinfo=UTC)
    good = [encode_bits(123, 45678), encode_bits(1000, 2000, "W34")]

    def samples() -> Iterable[dict[str, Any]]:
        for _ in range(count):
            bits = list(rng.choice(good))
            for _ in range(rng.randint(0, 2)):
                position = rng.randrange(len(bits))
                bits[position] = "1" if bits[position] == "0" else "0"
            if rng.random() < 0.1:
                bits = bits[: rng.randrange(len(bits) + 1)]
            text = "".join(bits)
            data = bits_to_bytes(text)
            data = data if rng.random() < 0.9 else rng.randbytes(rng.randint(0, 20))
            fmt = rng.choice([0, 1, 1, 1, 2, None])  # 2: libosdp's ASCII format
            if fmt == 2 and rng.random() < 0.5:
                data = rng.choice([b"12345", b" 42 ", b"4\xb22", b"", b"-1", "٣".encode()])
            length = len(text) if rng.random() < 0.9 else rng.randint(-2, 200)
            yield {"event": 1, "format": fmt, "data": data, "length": length, "reader_no": 0}

    def one(event: dict[str, Any]) -> None:
        read = card_from_event("r", event, at)
        check(isinstance(read, CardRead), "not a CardRead")
        check(read.parity_ok is not False, f"a read with bad parity was delivered: {read}")

    return Campaign("OSDP card reads", OsdpError).run(samples(), one)


# ------------------------------------------------------------------------------------------------------- Wiegand

H10301_123_45678 = encode_bits(123, 45678)
W34_1000_2000 = encode_bits(1000, 2000, "W34")


def wiegand(count: int, seed: int) -> Campaign:
    mutator = Mutator(seed, [H10301_123_45678.encode(), W34_1000_2000.encode(), b"1" * 32, b"0101 1010\n"],
                      [b"0", b"1", b" ", b"_", b"-", b"\r\n", b"2", b"\xef\xbc\x91"])  # fmt: skip

    def one(data: bytes) -> None:
        card = decode_bits(data)
        bits = clean_bits(data)
        if card.format == "raw":
            check(card.parity_ok is None and f"{card.value:0{card.bits}b}" == bits, f"raw {card}")
        elif card.parity_ok:
            again = encode_bits(card.facility or 0, card.card_number, card.format)
            check(again == bits, f"re-encoded as {again}")
        else:
            check(encode_bits(card.facility or 0, card.card_number, card.format) != bits, "good parity refused")

    return Campaign("Wiegand bit strings", WiegandError).run(mutator.many(count), one)


def wiegand_lines(count: int, seed: int) -> Campaign:
    mutator = Mutator(seed, [b"0008106606\r\n", b"4294967295\r\n0000000001\n", b"\x02 42 \x03\r"],
                      [b"\r", b"\n", b"\r\n", b"9", b" ", b"\x00", b"x"], max_ops=3)  # fmt: skip
    framer = ConverterFramer()

    def one(data: bytes) -> None:
        for line in framer.feed(data):
            check(b"\r" not in line and b"\n" not in line and 0 < len(line) <= 32, f"line {line!r}")
            try:
                number = parse_converter_line(line)
            except WiegandError as err:
                check(bool(str(err)), "empty refusal")
                continue
            digits = line.strip(b" \t\x00\x02\x03")
            check(int(digits) == number and f"{number:0{len(digits)}d}".encode() == digits, f"{line!r} -> {number}")

    return Campaign("Wiegand converter lines", WiegandError).run(mutator.many(count), one)


# ------------------------------------------------------------------------------- serial line: display, dispenser

LINE_TOKENS = [b" ", b"\r", b"\n", b"SHOW", b"STATUS", b"\xc2\xb2", b"\xd9\xa3", b"\xe7\xb2\xa4", b"\xff", b"\x00",
               b"-", b"0", b"9999", b"x" * 40, b"SHOW \xc2\xb2 ", b"SHOW \xd9\xa3 red "]  # fmt: skip


def _line_round_trip(line: Line) -> None:
    data = encode_line(line)  # a decoded line must survive encoding ...
    again = LineDecoder().feed(data)
    check(again == [line], f"{line} re-encoded as {data!r}, decodes as {again}")  # ... and decode the same


def display(count: int, seed: int) -> Campaign:
    seeds = [b"12 SHOW 1 green \xe7\xb2\xa4B3R7K2\n", b"0 FAULT x\n", b"7 OK\r\n", b"3 SAY hello\n", b"4 CLEAR\n",
             b"5 PING\n", b"1 SAY " + b"x" * 505 + b"\n"]  # fmt: skip
    mutator = Mutator(seed, seeds, LINE_TOKENS)
    decoder = LineDecoder(DisplayProtocolError)

    def one(data: bytes) -> None:
        for item in decoder.feed(data):
            if not isinstance(item, Line):
                check(isinstance(item, DisplayProtocolError) and bool(str(item)), f"not a line nor ours: {item!r}")
                continue
            _line_round_trip(item)
            try:
                command = parse_command(item)
            except DisplayError as err:
                check(bool(str(err)), "empty refusal")
                continue
            text = getattr(command, "text", "")
            if len(text.encode()) <= 200:
                check(parse_command(command_line(item.seq, command)) == command, f"{command} does not round-trip")

    return Campaign("display lines", DisplayError).run(mutator.many(count), one)


def dispenser(count: int, seed: int) -> Campaign:
    seeds = [b"4 STATUS LOW 9 0 1\n", b"0 TAKEN 04A1B2C3\n", b"0 STOCK EMPTY 0\n", b"0 JAM\n", b"5 ERR EMPTY\n",
             b"0 PRESENTED -\n", b"0 READY\n", b"2 STATUS OK - 1 0\r\n"]  # fmt: skip
    mutator = Mutator(seed, seeds, [*LINE_TOKENS, b"OK", b"LOW", b"EMPTY", b"1", b"\xef\xbc\x91"])
    decoder = LineDecoder(DispenserProtocolError)

    def parsed_both_ways(line: Line) -> None:
        try:
            notice = parse_notice(line)
        except DispenserError as err:
            check(bool(str(err)), "empty refusal")
        else:
            again = format_notice(notice)
            _line_round_trip(again)
            check(parse_notice(again) == notice, f"{notice} formats as {again}")
        try:
            status = parse_status(line)
        except DispenserError as err:
            check(bool(str(err)), "empty refusal")
        else:
            line = format_status(line.seq, status)
            _line_round_trip(line)
            check(parse_status(line) == status, f"{status} formats as {line}")

    def one(data: bytes) -> None:
        for item in decoder.feed(data):
            if not isinstance(item, Line):
                check(isinstance(item, DispenserProtocolError) and bool(str(item)), f"not a line nor ours: {item!r}")
                continue
            _line_round_trip(item)
            parsed_both_ways(item)

    return Campaign("dispenser lines", DispenserError).run(mutator.many(count), one)


# -------------------------------------------------------------------------------------------------------- ESC/POS

_ESCPOS_PREFIX = {"init": b"\x1b\x40", "mode": b"\x1b\x21", "bold": b"\x1b\x45", "align": b"\x1b\x61",
                  "feed": b"\x1b\x64", "code_table": b"\x1b\x74", "size": b"\x1d\x21", "chinese_on": b"\x1c\x26",
                  "chinese_off": b"\x1c\x2e", "status": b"\x10\x04", "lf": b"\x0a", "cut": b"\x1d\x56"}  # fmt: skip
_QR = {"qr_model": 65, "qr_module": 67, "qr_error_correction": 69, "qr_store": 80, "qr_print": 81}


def escpos_encode(items: list[Item], encoding: str = "gb18030") -> bytes:
    """The printer job for decoded items (the inverse of :func:`drivers.escpos.decode.decode`)."""
    out = bytearray()
    for item in items:
        if isinstance(item, Text):
            out += item.text.encode(encoding)
        elif item.name in _QR:
            args = (b"0" + item.args) if item.name == "qr_store" else item.args
            out += b"\x1d\x28\x6b" + (len(args) + 2).to_bytes(2, "little") + bytes([49, _QR[item.name]]) + args
        else:
            out += _ESCPOS_PREFIX[item.name] + item.args
    return bytes(out)


def _escpos_seeds() -> list[bytes]:
    job = EscPos().init().bold().line("停车收费 Parking receipt").columns_line("金额", "12.50").rule()
    return [job.qr("https://pay.example/p/42").feed(2).cut().build(), EscPos().size(2, 2).line("粤B3R7K2").build(),
            b"\x10\x04\x04", EscPos().cut(partial=True).build()]  # fmt: skip


def escpos(count: int, seed: int) -> Campaign:
    tokens = [b"\x1b", b"\x1d", b"\x1c", b"\x10\x04", b"\x1d\x28\x6b", b"\x1d\x56\x41", b"\x0a", b"\x81", b"\xfe"]
    mutator = Mutator(seed, _escpos_seeds(), tokens)

    def one(data: bytes) -> None:
        items = decode(data)
        check(all(isinstance(i, Command | Text) for i in items), "not an item")
        again = escpos_encode(items)
        check(again == data, f"re-encoded as {again.hex(' ')}")

    return Campaign("ESC/POS printer jobs", EscPosError).run(mutator.many(count), one)


def test_every_paper_status_byte() -> None:
    good = 0
    for byte in range(256):
        try:
            status = decode_paper_status(byte)
        except EscPosError:
            continue
        good += 1
        assert paper_status_byte(status) & 0x93 == 0x12
        assert decode_paper_status(paper_status_byte(status)) == status
    assert good == 16  # bits 2, 3, 5, 6 free


# ------------------------------------------------------------------------------------------------------------ LPR

AT = datetime(2026, 11, 27, 10, 15, 2, tzinfo=UTC)
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00plate\xff\xd9"
JSON_TOKENS = [b'"', b"null", b"[", b"{", b"}", b"1e999", b'"\\ud800"', b"-0.0", b"NaN", b":", b",", b"\\u0000",
               b'"plate"', b'"confidence"', b'"time"', b"\xe7\xb2\xa4"]  # fmt: skip


def _check_read(event: object) -> None:
    """What any decoded camera event must look like, whatever the document was."""
    if isinstance(event, CameraHeartbeat):
        check(event.at.tzinfo is not None, "naive heartbeat time")
        return
    check(isinstance(event, PlateRead), f"not an event: {event!r}")
    assert isinstance(event, PlateRead)
    check(event.plate is None or (0 < len(event.plate) <= MAX_PLATE_TEXT and event.plate == event.plate.strip()),
          f"plate {event.plate!r}")  # fmt: skip
    check(event.confidence is None or 0.0 <= event.confidence <= 1.0, f"confidence {event.confidence!r}")
    check(event.at.tzinfo is not None and EARLIEST <= event.at < LATEST, f"time {event.at!r}")
    check(0 < len(event.camera) <= MAX_NAME, f"camera {event.camera!r}")
    for word in (event.plate_color, event.vehicle_type):
        check(word is None or len(word) <= MAX_WORD, f"word {word!r}")
    check(event.event_id is None or len(event.event_id) <= MAX_EVENT_ID, f"event id {event.event_id!r}")


def _json_seeds() -> list[bytes]:
    body = encode_milesight(plate="粤B3R7K2", confidence=0.93, direction="Approach", at=AT.replace(tzinfo=None),
                            device="LPR-Entry-1")  # fmt: skip
    doc = json.loads(body)
    doc["plate_image"] = base64.b64encode(JPEG).decode()
    return [body, json.dumps(doc, ensure_ascii=False).encode(), b'{"plate": "AB123", "confidence": 93}']


def json_mutants(seed: int, count: int) -> Iterable[bytes]:
    """Half byte mutations (mostly not JSON any more), half mutations of the parsed event (valid JSON with odd
    values, missing and extra fields), so the decoder's field checks are reached, not only its JSON parser."""
    seeds = _json_seeds()
    raw = Mutator(seed, seeds, JSON_TOKENS, max_ops=3)
    structured = TomlMutator(seed, [json.loads(s) for s in seeds])
    for _ in range(count):
        if raw.rng.random() < 0.5:
            yield raw.one()
        else:
            doc = structured.one()
            yield json.dumps(doc, ensure_ascii=raw.rng.random() < 0.5, default=str).encode()


def lpr_json(count: int, seed: int) -> Campaign:
    def one(data: bytes) -> None:
        _check_read(decode_json(data, MILESIGHT, received_at=AT))

    return Campaign("LPR JSON (HTTP push)", LprError).run(json_mutants(seed, count), one)


def lpr_mqtt(count: int, seed: int) -> Campaign:
    """The MQTT subscriber's message handler with the topic as camera name: refusals are counted, never raised."""
    rng = random.Random(seed)
    topics = ["parkgate/lpr/entry-1", "parkgate/lpr/", "parkgate/lpr/" + "x" * 100, "parkgate/lpr/\x00", "a"]
    subscriber = MqttPlateSubscriber(MqttCameraConfig("mqtt-cam", "parkgate/lpr/+", camera_topic_level=2))
    loop = asyncio.new_event_loop()  # the queue's loop; nothing runs on it

    def one(data: bytes) -> None:
        topic = rng.choice(topics)
        subscriber._on_message(topic, data if rng.random() < 0.95 else data.decode("latin-1"))
        while not subscriber.events.empty():
            read = subscriber.events.get_nowait()
            _check_read(read)

    try:
        return Campaign("LPR MQTT payloads", LprError).run(json_mutants(seed, count), one)
    finally:
        loop.close()


def _isapi_seeds() -> list[bytes]:
    xml = encode_isapi_xml(plate="粤B3R7K2", confidence=97, direction="forward", at=AT, event_id="e-1",
                           pictures=["licensePlatePicture.jpg"])  # fmt: skip
    gbk = encode_isapi_xml(plate="京A12345", confidence=91, direction="reverse", at=AT, event_id="e-2",
                           pictures=[], encoding="GBK")  # fmt: skip
    multipart, _ = encode_isapi_multipart(xml, {"licensePlatePicture.jpg": JPEG})
    heartbeat = (b'<EventNotificationAlert version="2.0"><dateTime>2026-11-27T10:16:00+08:00</dateTime>'
                 b"<eventType>videoloss</eventType></EventNotificationAlert>")  # fmt: skip
    js = b'{"eventType": "ANPR", "ANPR": {"licensePlate": "AB1", "confidenceLevel": 9, "pictureInfoList": [{}]}}'
    return [xml, gbk, multipart, heartbeat, js]


XML_ODD = ["", " ", "0", "-1", "101", "1e999", "NaN", "9" * 40, "粤B3R7K2", "无车牌", "unknown", "x" * 300,
           "2026-11-27T10:15:02", "9999-12-31T23:59:59+14:00", "0001-01-01T00:00:00Z", "forward", "reverse",
           "&#0;", "&amp;", "&lt;", "<b/>", "&unknown;", "\u202e", "\x00"]  # fmt: skip
_ELEMENT = re.compile(rb"<([A-Za-z]+)>([^<]*)</\1>")


def isapi_mutants(seed: int, count: int) -> Iterable[bytes]:
    """Byte mutations, and documents with one to three elements' text replaced by an odd value (so the field
    checks after the XML parser are reached)."""
    tokens = [b"<", b">", b"</", b"&", b"&#0;", b"&amp;", b"--boundary", b"\r\n\r\n", b"\xe7", b"<![CDATA[",
              b"]]>", b"<ANPR>", b"<licensePlate>", b"Content-Length: 99999\r\n", b"<!DOCTYPE x>",
              b'encoding="GBK"', b"Content-Length: \xc2\xb2\r\n"]  # fmt: skip
    seeds = _isapi_seeds()
    raw = Mutator(seed, seeds, tokens, max_ops=4)
    rng = raw.rng
    for _ in range(count):
        if rng.random() < 0.5:
            yield raw.one()
            continue
        data = rng.choice(seeds)
        for _ in range(rng.randint(1, 3)):
            found = list(_ELEMENT.finditer(data))
            if not found:
                break
            match = rng.choice(found)
            value = rng.choice(XML_ODD).encode("utf-8", "surrogatepass")
            data = data[: match.start(2)] + value + data[match.end(2) :]
        yield data


def lpr_isapi(count: int, seed: int) -> Campaign:
    def one(data: bytes) -> None:
        _check_read(decode_isapi(data, received_at=AT))

    return Campaign("LPR Hikvision ISAPI", LprError).run(isapi_mutants(seed, count), one)


# ---------------------------------------------------------------------------------------------------- the runs

TARGETS: dict[str, Callable[[int, int], Campaign]] = {
    "modbus-rtu": modbus, "osdp": osdp, "osdp-cards": osdp_cards, "wiegand": wiegand, "wiegand-lines": wiegand_lines,
    "display": display, "dispenser": dispenser, "escpos": escpos, "lpr-json": lpr_json, "lpr-mqtt": lpr_mqtt,
    "lpr-isapi": lpr_isapi,
}  # fmt: skip


@pytest.mark.parametrize("name", TARGETS)
def test_fuzz_short(name: str) -> None:
    TARGETS[name](SHORT, 1).finish("short")


@pytest.mark.fuzz
@pytest.mark.timeout(1800)
@pytest.mark.parametrize("name", TARGETS)
def test_fuzz_million(name: str) -> None:
    TARGETS[name](LONG, 2).finish("long")
