"""ESC/POS transports against real endpoints: a TCP printer on localhost, pyserial's loopback port."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
import serial

from drivers.escpos.commands import Align, EscPos
from drivers.escpos.decode import Command, PaperStatus, decode, paper_status_byte, printed_text
from drivers.escpos.errors import EscPosTimeoutError, EscPosTransportError
from drivers.escpos.transport import NetworkPrinter, SerialPrinter
from drivers.health import Health


@dataclass
class TcpPrinter:
    """A port-9100 printer: takes jobs until the client closes, answers DLE EOT 4 with its paper status."""

    paper: PaperStatus = field(default_factory=lambda: PaperStatus(False, False))
    jobs: list[bytes] = field(default_factory=list)
    received: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        data = bytearray()
        while chunk := await reader.read(4096):
            data += chunk
            if data == b"\x10\x04\x04":
                writer.write(bytes((paper_status_byte(self.paper),)))
                await writer.drain()
                data.clear()
        if data:
            self.jobs.append(bytes(data))
            self.received.set()
        writer.close()


@pytest.fixture
async def tcp_printer() -> AsyncIterator[tuple[TcpPrinter, int]]:
    printer = TcpPrinter()
    server = await asyncio.start_server(printer.handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        yield printer, port


def a_receipt() -> bytes:
    job = EscPos().init().align(Align.CENTER).line("湖景停车场").align(Align.LEFT)
    return job.columns_line("车牌", "粤B3R7K2").columns_line("实收", "15.00").cut().build()


async def test_a_job_reaches_a_tcp_printer(tcp_printer: tuple[TcpPrinter, int]) -> None:
    printer, port = tcp_printer
    device = NetworkPrinter("booth-printer", "127.0.0.1", port)
    job = a_receipt()
    await device.print_job(job)
    await asyncio.wait_for(printer.received.wait(), 5)
    assert printer.jobs == [job]
    items = decode(printer.jobs[0])
    assert items[0] == Command("init")
    assert "粤B3R7K2" in printed_text(items)
    assert device.health.health is Health.ONLINE


async def test_paper_status_over_tcp(tcp_printer: tuple[TcpPrinter, int]) -> None:
    printer, port = tcp_printer
    device = NetworkPrinter("booth-printer", "127.0.0.1", port)
    assert await device.paper() == PaperStatus(False, False)
    assert device.health.health is Health.ONLINE
    printer.paper = PaperStatus(near_end=True, out=True)
    assert (await device.paper()).out
    assert (device.health.health, device.health.reason) == (Health.FAULT, "paper out")


async def test_no_printer_listening() -> None:
    probe = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = probe.sockets[0].getsockname()[1]
    probe.close()
    await probe.wait_closed()
    device = NetworkPrinter("booth-printer", "127.0.0.1", port, timeout=1)
    with pytest.raises(EscPosTransportError) as info:
        await device.print_job(a_receipt())
    assert info.value.device == "booth-printer"
    assert "booth-printer" in str(info.value)
    assert device.health.health is Health.OFFLINE


async def test_a_printer_that_never_answers_status() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    async with server:
        device = NetworkPrinter("booth-printer", "127.0.0.1", server.sockets[0].getsockname()[1], timeout=0.2)
        with pytest.raises(EscPosTimeoutError) as info:
            await device.paper()
        assert isinstance(info.value, TimeoutError)
        assert device.health.health is Health.OFFLINE


def loopback() -> tuple[Callable[..., Any], list[Any]]:
    ports: list[Any] = []

    def open_port(url: str, **kw: Any) -> Any:
        port = serial.serial_for_url(url, **kw)
        ports.append(port)
        return port

    return open_port, ports


async def test_a_job_goes_out_of_a_serial_port() -> None:
    open_port, ports = loopback()
    device = SerialPrinter("booth-serial", "loop://", baudrate=115200, timeout=1, open_port=open_port)
    job = a_receipt()
    await device.print_job(job)
    (port,) = ports
    assert port.read(len(job)) == job  # the loopback hands back what the printer would have received
    assert device.health.health is Health.ONLINE
    device.close()


async def test_paper_status_over_serial() -> None:
    class Answering:
        """A serial port whose printer answers DLE EOT 4 with paper near end."""

        def __init__(self, url: str, **kw: Any) -> None:
            self.written = bytearray()

        def reset_input_buffer(self) -> None: ...

        def write(self, data: bytes) -> int:
            self.written += data
            return len(data)

        def flush(self) -> None: ...

        def read(self, size: int) -> bytes:
            return (
                bytes((paper_status_byte(PaperStatus(True, False)),)) if self.written[-3:] == b"\x10\x04\x04" else b""
            )

        def close(self) -> None: ...

    device = SerialPrinter("booth-serial", "/dev/ttyUSB0", open_port=Answering)
    assert await device.paper() == PaperStatus(near_end=True, out=False)
    assert device.health.health is Health.DEGRADED


async def test_a_missing_serial_port() -> None:
    device = SerialPrinter("booth-serial", "/dev/ttyNOPE-parkgate", timeout=0.5)
    with pytest.raises(EscPosTransportError) as info:
        await device.print_job(b"\x1b\x40")
    assert "/dev/ttyNOPE-parkgate" in str(info.value)
    assert device.health.health is Health.OFFLINE
