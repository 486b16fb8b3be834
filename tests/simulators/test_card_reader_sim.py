"""``parkgate sim card-reader``: the OSDP reader and the Wiegand converter as separate processes on a pty."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from drivers.osdp.reader import OsdpReader, OsdpReaderConfig
from drivers.wiegand.converter import WiegandConverterConfig, WiegandConverterReader
from simulators.pty import PtyLink

ROOT = Path(__file__).resolve().parents[2]
KEY = "000102030405060708090a0b0c0d0e0f"


@pytest.fixture
def link() -> Iterator[PtyLink]:
    with PtyLink("cli") as pty:
        yield pty


async def _start(*argv: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "parking.cli", "sim", "card-reader", *argv, cwd=ROOT,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip


async def test_osdp_reader_process(link: PtyLink) -> None:
    process = await _start("osdp", link.device_port, "--address", "3", "--key", KEY, "--card", "123:45678",
                           "--interval", "1.5")  # fmt: skip
    try:
        config = OsdpReaderConfig("entry", link.host_port, address=3, scbk=bytes.fromhex(KEY))
        async with OsdpReader(config) as reader:
            await reader.wait_online(10)
            read = await asyncio.wait_for(reader.events.get(), 10)
    finally:
        process.terminate()
        await process.wait()
    assert (read.facility, read.card_number, read.parity_ok) == (123, 45678, True)


async def test_wiegand_converter_process(link: PtyLink) -> None:
    async with WiegandConverterReader(WiegandConverterConfig("exit", link.host_port)) as reader:
        process = await _start("wiegand", link.device_port, "--card", "8106606", "--card", "42", "--interval", "0")
        out, _ = await asyncio.wait_for(process.communicate(), 30)
        assert process.returncode == 0, out
        reads = [await asyncio.wait_for(reader.events.get(), 5) for _ in range(2)]
    assert [r.card_number for r in reads] == [8106606, 42]
