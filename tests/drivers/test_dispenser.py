"""The dispenser protocol (pure) and the dispenser driver against its simulator over a pseudo-terminal and TCP."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drivers.dispenser import (
    CardPresented,
    CardRecalled,
    CardTaken,
    DispenserError,
    DispenserProtocolError,
    DispenserRefusedError,
    DispenserStatus,
    DispenserTally,
    Jammed,
    LineLinkConfig,
    SerialCardDispenser,
    StockChanged,
    StockLevel,
)
from drivers.dispenser.protocol import Notice, format_notice, format_status, parse_notice, parse_status
from drivers.health import Health
from drivers.serial_line.line import Line, LineDecoder, encode_line
from simulators.dispenser import DispenserModel, DispenserSimulator
from simulators.pty import PtyLink


def test_golden_messages() -> None:
    assert parse_status(Line(4, "STATUS", "LOW 9 0 1")) == DispenserStatus(StockLevel.LOW, 9, False, True)
    assert parse_notice(Line(0, "TAKEN", "04A1B2C3")) == Notice("TAKEN", card="04A1B2C3")
    assert parse_notice(Line(0, "RECALLED", "-")) == Notice("RECALLED", card=None)
    assert encode_line(format_notice(Notice("STOCK", stock=StockLevel.EMPTY, count=0))) == b"0 STOCK EMPTY 0\n"


@pytest.mark.parametrize(
    "line",
    [Line(1, "STATUS", "MEH 9 0 1"), Line(1, "STATUS", "OK x 0 1"), Line(1, "STATUS", "OK 1 2 1"), Line(1, "STATUS")],
)
def test_bad_status_raises_the_family_error(line: Line) -> None:
    with pytest.raises(DispenserProtocolError):
        parse_status(line)


@given(
    stock=st.sampled_from(list(StockLevel)),
    count=st.none() | st.integers(0, 10**6),
    jam=st.booleans(),
    mouth=st.booleans(),
)
def test_status_round_trips(stock: StockLevel, count: int | None, jam: bool, mouth: bool) -> None:
    status = DispenserStatus(stock, count, jam, mouth)
    line = LineDecoder(DispenserProtocolError).feed(encode_line(format_status(3, status)))[0]
    assert isinstance(line, Line)
    assert parse_status(line) == status


@given(
    kind=st.sampled_from(["PRESENTED", "TAKEN", "RECALLED"]),
    card=st.none() | st.from_regex(r"[0-9A-F]{8}", fullmatch=True),
)
def test_card_notices_round_trip(kind: str, card: str | None) -> None:
    assert parse_notice(format_notice(Notice(kind, card=card))) == Notice(kind, card=card)


def _parse_all(data: bytes) -> None:
    for item in LineDecoder(DispenserProtocolError).feed(data + b"\n"):
        assert isinstance(item, Line | DispenserProtocolError)
        if isinstance(item, Line):
            with contextlib.suppress(DispenserError):
                parse_notice(item)
            with contextlib.suppress(DispenserError):
                parse_status(item)


@given(st.binary(max_size=200))
def test_any_bytes_raise_only_family_errors(data: bytes) -> None:
    _parse_all(data)


# ------------------------------------------------------------------------------------------ against the simulator


Pair = tuple[DispenserSimulator, SerialCardDispenser, list[object]]


async def _until(check: Callable[[], bool], within: float = 2.0) -> None:
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


@pytest.fixture(params=["pty", "tcp"])
async def pair(
    request: pytest.FixtureRequest,
) -> AsyncIterator[tuple[DispenserSimulator, SerialCardDispenser, list[object]]]:
    sim = DispenserSimulator(DispenserModel(stock=3, low_threshold=2, present_time_s=0.05, take_after_s=0.1))
    await sim.start_ticking()
    link = None
    if request.param == "pty":
        link = PtyLink("dispenser", baudrate=9600).open()
        await sim.server.serve_serial(link.device_port, 9600)
        url = link.host_port
    else:
        url = f"socket://127.0.0.1:{await sim.server.serve_tcp()}"
    driver = SerialCardDispenser(LineLinkConfig("entry-1-dispenser", url, timeout_ms=300, keepalive_ms=200))
    events: list[object] = []
    driver.add_listener(events.append)
    await driver.start()
    await asyncio.wait_for(driver.wait_connected(), 3)
    try:
        yield sim, driver, events
    finally:
        await driver.stop()
        await sim.stop()
        if link is not None:
            link.close()


async def test_cards_are_issued_taken_and_counted_until_empty(
    pair: Pair,
) -> None:
    sim, driver, events = pair

    def taken() -> int:
        return len([e for e in events if isinstance(e, CardTaken)])

    for issued in range(1, 4):
        await driver.issue()
        await _until(lambda: taken() == issued)  # noqa: B023 (awaited within the iteration)
    assert driver.tally == DispenserTally(presented=3, taken=3, recalled=0)
    presented = [e.card for e in events if isinstance(e, CardPresented)]
    assert presented == [e.card for e in events if isinstance(e, CardTaken)]
    assert len(set(presented)) == 3
    levels = [e.stock for e in events if isinstance(e, StockChanged)]
    assert levels == [StockLevel.LOW, StockLevel.EMPTY]
    with pytest.raises(DispenserRefusedError) as caught:
        await driver.issue()
    assert caught.value.reason == "EMPTY"
    await _until(lambda: driver.health.health is Health.FAULT)
    assert driver.take_tally().taken == 3
    assert driver.tally == DispenserTally()
    assert sim.model.stock == 0


async def test_a_card_not_taken_is_recalled(pair: Pair) -> None:
    sim, driver, events = pair
    sim.model.take_after_s, sim.model.recall_after_s = None, 0.2
    await driver.issue()
    with pytest.raises(DispenserRefusedError, match="BUSY"):
        await driver.issue()
    await _until(lambda: any(isinstance(e, CardRecalled) for e in events))
    assert driver.tally == DispenserTally(presented=1, taken=0, recalled=1)
    assert sim.model.recall_bin == 1


async def test_jam_is_a_fault_until_reset(pair: Pair) -> None:
    sim, driver, events = pair
    sim.jam()
    await _until(lambda: driver.health.health is Health.FAULT)
    with pytest.raises(DispenserRefusedError, match="JAM"):
        await driver.issue()
    await driver.reset()
    assert driver.health.health is Health.ONLINE
    assert [e.jammed for e in events if isinstance(e, Jammed)] == [True, False]


async def test_killed_tcp_dispenser_goes_offline_and_recovers() -> None:
    sim = DispenserSimulator(DispenserModel(present_time_s=0.05, take_after_s=0.05))
    await sim.start_ticking()
    port = await sim.server.serve_tcp()
    driver = SerialCardDispenser(LineLinkConfig("d", f"socket://127.0.0.1:{port}", timeout_ms=300, keepalive_ms=200))
    await driver.start()
    await asyncio.wait_for(driver.wait_connected(), 3)
    killed = time.monotonic()
    await sim.server.stop_tcp()
    await _until(lambda: driver.health.health is Health.OFFLINE, within=1.0)
    assert time.monotonic() - killed < 1.0
    await sim.server.serve_tcp("127.0.0.1", port)
    await asyncio.wait_for(driver.wait_connected(), 4)
    await driver.issue()
    await _until(lambda: driver.tally.taken == 1)
    await driver.stop()
    await sim.stop()
