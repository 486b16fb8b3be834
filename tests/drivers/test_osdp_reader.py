"""The OSDP control panel (libosdp) against the simulated reader (libosdp's peripheral device) over a real pty."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from drivers.health import Health
from drivers.osdp import OsdpConfigError, OsdpParityError, PacketFramer
from drivers.osdp.reader import SCBK_D, OsdpReader, OsdpReaderConfig, card_from_event
from drivers.wiegand import encode_bits
from drivers.wiegand.codec import bits_to_bytes
from simulators.card_reader import OsdpCardReaderSim
from simulators.pty import PtyLink

KEY = bytes.fromhex("00112233445566778899aabbccddeeff")


@pytest.fixture
def link() -> Iterator[PtyLink]:
    with PtyLink("osdp", baudrate=115200) as pty:
        yield pty


async def _until(predicate: object, within: float) -> float:
    started = time.monotonic()
    while not predicate():  # type: ignore[operator]
        if time.monotonic() - started > within:
            raise AssertionError(f"condition not met within {within} s")
        await asyncio.sleep(0.01)
    return time.monotonic() - started


@pytest.mark.parametrize("key", [SCBK_D, bytes(16)])
def test_install_mode_keys_refused_outside_commissioning(key: bytes) -> None:
    with pytest.raises(OsdpConfigError, match="install-mode key"):
        OsdpReader(OsdpReaderConfig("r", "/dev/null", scbk=key))
    OsdpReaderConfig("r", "/dev/null", scbk=key, commissioning=True).check()


def test_no_key_refused_when_secure_required() -> None:
    with pytest.raises(OsdpConfigError, match="no secure channel key"):
        OsdpReaderConfig("r", "/dev/null").check()
    OsdpReaderConfig("r", "/dev/null", require_secure=False).check()


async def test_card_read_over_secure_channel(link: PtyLink) -> None:
    wire: list[bytes] = []
    with OsdpCardReaderSim(link.device_port, address=7, scbk=KEY, baudrate=115200) as sim:
        sim.channel.tap = lambda direction, data: wire.append(data) if direction == "rx" else None
        config = OsdpReaderConfig("entry-1-reader", link.host_port, address=7, baudrate=115200, scbk=KEY)
        async with OsdpReader(config) as reader:
            await reader.wait_online(5)
            assert reader.health.reason == "secure channel active"
            assert sim.secure
            bits = sim.present_card(123, 45678)
            read = await asyncio.wait_for(reader.events.get(), 3)
    assert (read.reader, read.source, read.format) == ("entry-1-reader", "osdp", "H10301")
    assert (read.facility, read.card_number, read.parity_ok, read.raw) == (123, 45678, True, bits)
    assert read.at.tzinfo is not None
    # Every command the panel put on the wire decodes with our codec, CRCs good, nothing skipped, and the panel
    # really did run the secure channel handshake (SCS_11 / SCS_13) and secure polls (SCS_15/17).
    framer = PacketFramer()
    packets = framer.feed(b"".join(wire))
    assert packets
    assert framer.skipped == 0
    assert all(p.check_ok and p.address == 7 and not p.reply for p in packets)
    types = {p.scb_type for p in packets}
    assert {0x11, 0x13} <= types
    assert types & {0x15, 0x17}


async def test_wrong_key_never_comes_online(link: PtyLink) -> None:
    with OsdpCardReaderSim(link.device_port, address=1, scbk=KEY, baudrate=115200):
        other = bytes(reversed(KEY))
        config = OsdpReaderConfig("r", link.host_port, address=1, baudrate=115200, scbk=other)
        async with OsdpReader(config) as reader:
            await asyncio.sleep(1.0)
            assert reader.health.health is not Health.ONLINE


async def test_unplug_offline_within_a_second_and_recovers(link: PtyLink) -> None:
    with OsdpCardReaderSim(link.device_port, address=2, scbk=KEY, baudrate=115200) as sim:
        config = OsdpReaderConfig("r", link.host_port, address=2, baudrate=115200, scbk=KEY)
        async with OsdpReader(config) as reader:
            await reader.wait_online(5)
            link.unplug()
            assert await _until(lambda: reader.health.health is Health.OFFLINE, 1.0) < 1.0
            await asyncio.sleep(0.3)
            link.replug()
            await reader.wait_online(10)
            await _until(lambda: sim.secure, 5)
            sim.present_card(7, 4242)
            read = await asyncio.wait_for(reader.events.get(), 3)
            assert (read.facility, read.card_number) == (7, 4242)


async def test_commissioning_sets_a_new_key(link: PtyLink) -> None:
    with OsdpCardReaderSim(link.device_port, address=4, scbk=None, install_mode=True, baudrate=115200) as sim:
        config = OsdpReaderConfig("r", link.host_port, address=4, baudrate=115200, scbk=None, commissioning=True)
        async with OsdpReader(config) as reader:
            await reader.wait_online(5)
            await _until(lambda: sim.secure, 5)
            reader.set_key(KEY)
            await _until(lambda: any(c.get("data") == KEY for c in sim.commands), 3)
    # libosdp's peripheral saw our osdp_KEYSET with the new key (over the SCBK-D secure channel)
    assert {"command": 5, "type": 1, "data": KEY} in sim.commands


async def test_reader_dies_offline_within_a_second_and_recovers(link: PtyLink) -> None:
    # The cable stays, the reader stops answering (power cut, process killed): libosdp alone would notice after
    # ~8 s and then park the reader for 300 s; the driver notices the silence and restarts libosdp's state machine.
    sim = OsdpCardReaderSim(link.device_port, address=5, scbk=KEY, baudrate=115200).start()
    config = OsdpReaderConfig("r", link.host_port, address=5, baudrate=115200, scbk=KEY)
    async with OsdpReader(config) as reader:
        await reader.wait_online(5)
        sim.stop()
        assert await _until(lambda: reader.health.health is Health.OFFLINE, 1.0) < 1.0
        assert reader.health.reason == "reader not answering"
        await asyncio.sleep(2.0)
        with OsdpCardReaderSim(link.device_port, address=5, scbk=KEY, baudrate=115200) as again:
            await reader.wait_online(5)
            assert reader.restarts >= 1
            await _until(lambda: again.secure, 5)
            again.present_card(9, 999)
            read = await asyncio.wait_for(reader.events.get(), 3)
    assert (read.facility, read.card_number) == (9, 999)


def test_a_card_whose_parity_fails_is_never_delivered() -> None:
    """Found by tests/drivers/test_codec_fuzz.py: a misread with bad Wiegand parity reached the lanes as a card."""
    at = datetime(2026, 11, 27, tzinfo=UTC)
    good = encode_bits(123, 45678)
    flipped = good[:5] + ("1" if good[5] == "0" else "0") + good[6:]
    data = bits_to_bytes(flipped)
    with pytest.raises(OsdpParityError, match=r"H10301 card data .* fails its parity check"):
        card_from_event("r", {"event": 1, "format": 1, "data": data, "length": 26}, at)
    read = card_from_event("r", {"event": 1, "format": 1, "data": bits_to_bytes(good), "length": 26}, at)
    assert (read.card_number, read.parity_ok) == (45678, True)
