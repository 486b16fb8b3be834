"""The Wiegand-to-RS485 converter driver against the simulated converter over a real pty."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest

from drivers.health import Health
from drivers.wiegand.converter import ERRORS, WiegandConverterConfig, WiegandConverterReader
from simulators.card_reader import WiegandConverterSim
from simulators.pty import PtyLink


@pytest.fixture
def link() -> Iterator[PtyLink]:
    with PtyLink("wiegand", baudrate=9600) as pty:
        yield pty


async def _until(predicate: object, within: float) -> float:
    started = time.monotonic()
    while not predicate():  # type: ignore[operator]
        if time.monotonic() - started > within:
            raise AssertionError(f"condition not met within {within} s")
        await asyncio.sleep(0.01)
    return time.monotonic() - started


async def test_lines_become_card_reads(link: PtyLink) -> None:
    sim = WiegandConverterSim(link.device_port)
    async with WiegandConverterReader(WiegandConverterConfig("exit-2-reader", link.host_port)) as reader:
        await _until(lambda: reader.health.health is Health.ONLINE, 2)
        sim.send(8106606)
        sim.send_raw(b"00000")  # a line split across writes
        sim.send_raw(b"42\r\n")
        before = ERRORS.labels("exit-2-reader", "protocol")._value.get()
        sim.send_raw(b"12AB\r\n")  # garbage: counted, never an event
        sim.send(7)
        reads = [await asyncio.wait_for(reader.events.get(), 2) for _ in range(3)]
    sim.close()
    assert [r.card_number for r in reads] == [8106606, 42, 7]
    assert reads[0].raw == "0008106606"
    assert reads[0].source == "wiegand-converter"
    assert ERRORS.labels("exit-2-reader", "protocol")._value.get() == before + 1


async def test_unplug_offline_within_a_second_and_recovers(link: PtyLink) -> None:
    sim = WiegandConverterSim(link.device_port)
    async with WiegandConverterReader(WiegandConverterConfig("r", link.host_port, max_backoff=0.2)) as reader:
        await _until(lambda: reader.health.health is Health.ONLINE, 2)
        link.unplug()
        assert await _until(lambda: reader.health.health is Health.OFFLINE, 1.0) < 1.0
        link.replug()
        await _until(lambda: reader.health.health is Health.ONLINE, 3)
        sim.send(99)
        read = await asyncio.wait_for(reader.events.get(), 2)
        assert read.card_number == 99
    sim.close()


async def test_converter_behind_a_serial_server() -> None:
    # socket://host:port, as a site file's tcp connection to an RS-485 serial server; a dropped connection is
    # reconnected by itself.
    lines = [b"0000000042\r\n", b"0000000043\r\n"]

    async def serial_server(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not lines:
            writer.close()
            return
        await asyncio.sleep(0.2)  # pyserial flushes input on connect: a card is presented after, not during
        writer.write(lines.pop(0))
        await writer.drain()
        writer.close()  # the serial server drops the connection after each card

    server = await asyncio.start_server(serial_server, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    config = WiegandConverterConfig("tcp-reader", f"socket://127.0.0.1:{port}", max_backoff=0.1)
    async with server, WiegandConverterReader(config) as reader:
        first = await asyncio.wait_for(reader.events.get(), 3)
        second = await asyncio.wait_for(reader.events.get(), 3)
    assert [first.card_number, second.card_number] == [42, 43]
