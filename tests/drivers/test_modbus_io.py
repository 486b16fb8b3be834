"""The I/O module and loop detector drivers against the simulators, over a real pseudo-terminal and over TCP:
pymodbus client on one side, pymodbus server on the other, the lane physics behind it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import pytest

from drivers.health import Health, HealthChange
from drivers.modbus import (
    BarrierChanged,
    BarrierPosition,
    IoMap,
    IoPoint,
    LoopChanged,
    LoopDetectorConfig,
    LoopRole,
    ModbusBus,
    ModbusEvent,
    ModbusIoConfig,
    ModbusIoModule,
    ModbusLink,
    ModbusLoopDetector,
    ModbusTimeoutError,
    SafetyInterlockError,
    VehicleCounted,
)
from simulators.barrier import BarrierConfig, BarrierModel, LaneModel
from simulators.io_module import IoModuleSimulator, ModbusServing
from simulators.loop_detector import LoopDetectorSimulator
from simulators.pty import PtyLink

BITS_MAP = IoMap(
    open=IoPoint(0),
    close=IoPoint(1),
    hold_open=IoPoint(2),
    pulse_ms=100,
    open_limit=IoPoint(0),
    closed_limit=IoPoint(1),
    arming_loop=IoPoint(2),
    safety_loop=IoPoint(3),
    fault=IoPoint(4, active_low=True),  # a normally-closed fault contact
    obstacle=IoPoint(5),
)
REGISTER_MAP = IoMap(
    open=IoPoint(100, bit=0),
    close=IoPoint(100, bit=1),
    hold_open=IoPoint(100, bit=2),
    pulse_ms=100,
    open_limit=IoPoint(0, bit=0),
    closed_limit=IoPoint(0, bit=1),
    arming_loop=IoPoint(0, bit=2),
    safety_loop=IoPoint(1, bit=0),
)


class Events:
    """Collects a driver's events; :meth:`wait` returns the first after ``since`` matching a predicate."""

    def __init__(self) -> None:
        self.items: list[ModbusEvent] = []

    def __call__(self, event: ModbusEvent) -> None:
        self.items.append(event)

    def mark(self) -> int:
        return len(self.items)

    async def wait(self, pred: Callable[[ModbusEvent], bool], since: int = 0, within: float = 2.0) -> ModbusEvent:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            for event in self.items[since:]:
                if pred(event):
                    return event
            await asyncio.sleep(0.005)
        raise AssertionError(f"no matching event in {within} s; got {self.items[since:]}")


def barrier_at(position: BarrierPosition) -> Callable[[ModbusEvent], bool]:
    return lambda e: isinstance(e, BarrierChanged) and e.status.position is position


def loop_is(role: LoopRole, present: bool) -> Callable[[ModbusEvent], bool]:
    return lambda e: isinstance(e, LoopChanged) and e.loop is role and e.present is present


def health_is(health: Health) -> Callable[[ModbusEvent], bool]:
    return lambda e: isinstance(e, HealthChange) and e.health is health


def fast_lane() -> LaneModel:
    return LaneModel(BarrierModel(BarrierConfig(travel_time_s=0.2, allow_short_travel=True), now=time.monotonic()))


@dataclass
class Rig:
    sim: IoModuleSimulator
    serving: ModbusServing
    driver: ModbusIoModule
    events: Events
    link: PtyLink | None
    tcp_port: int | None


async def _rig(transport: str, addressing: str) -> AsyncIterator[Rig]:
    io_map = BITS_MAP if addressing == "bits" else REGISTER_MAP
    sim = IoModuleSimulator(fast_lane(), io_map=io_map, unit_id=3, addressing=addressing)  # type: ignore[arg-type]
    serving = sim.serving()
    link: PtyLink | None = None
    port: int | None = None
    if transport == "pty":
        link = PtyLink("rs485", baudrate=115200).open()
        await serving.serve_serial(link.device_port, baudrate=115200)
        url = link.host_port
    else:
        port = await serving.serve_tcp("127.0.0.1", 0)
        url = f"socket://127.0.0.1:{port}"
    config = ModbusIoConfig(
        "lane-1-io",
        ModbusLink(url, baudrate=115200),
        io_map=io_map,
        unit_id=3,
        addressing=addressing,  # type: ignore[arg-type]
    )
    driver = ModbusIoModule(config)
    events = Events()
    driver.add_listener(events)
    await driver.start()
    try:
        await events.wait(health_is(Health.ONLINE), within=3)
        yield Rig(sim, serving, driver, events, link, port)
    finally:
        await driver.stop()
        await serving.stop()
        if link is not None:
            link.close()


@pytest.fixture(params=[("pty", "bits"), ("tcp", "registers")], ids=["pty-bits", "tcp-registers"])
async def rig(request: pytest.FixtureRequest) -> AsyncIterator[Rig]:
    async for value in _rig(*request.param):
        yield value


@pytest.fixture
async def pty_rig() -> AsyncIterator[Rig]:
    async for value in _rig("pty", "bits"):
        yield value


async def test_open_and_close_follow_the_limit_switches(rig: Rig) -> None:
    first = await rig.events.wait(barrier_at(BarrierPosition.CLOSED))
    assert isinstance(first, BarrierChanged)
    assert first.previous is None  # the first reading reports every state
    mark = rig.events.mark()
    await rig.driver.open()
    await rig.events.wait(barrier_at(BarrierPosition.MOVING), mark)
    opened = await rig.events.wait(barrier_at(BarrierPosition.OPEN), mark)
    assert rig.sim.lane.barrier.open_limit
    mark = rig.events.mark()
    await rig.driver.close()
    closed = await rig.events.wait(barrier_at(BarrierPosition.CLOSED), mark)
    assert isinstance(opened, BarrierChanged)
    assert isinstance(closed, BarrierChanged)
    assert closed.mono - opened.mono >= 0.2  # travel time
    await asyncio.sleep(0.2)
    pulses = [(c.point, c.active) for c in rig.sim.output_changes]
    assert pulses == [("open", True), ("open", False), ("close", True), ("close", False)]
    gap = rig.sim.output_changes[1].at - rig.sim.output_changes[0].at
    assert 0.09 <= gap <= 0.3  # the configured 100 ms pulse


async def test_hold_open_is_idempotent(rig: Rig) -> None:
    await rig.driver.hold_open(True)
    await rig.driver.hold_open(True)
    await rig.events.wait(barrier_at(BarrierPosition.OPEN))
    assert [(c.point, c.active) for c in rig.sim.output_changes] == [("hold_open", True)]
    mark = rig.events.mark()
    await rig.driver.close()  # the controller ignores close while held
    await asyncio.sleep(0.4)
    assert not any(barrier_at(BarrierPosition.MOVING)(e) for e in rig.events.items[mark:])
    await rig.driver.hold_open(False)
    await rig.driver.close()
    await rig.events.wait(barrier_at(BarrierPosition.CLOSED), mark)


async def test_a_vehicle_crosses_the_loops(pty_rig: Rig) -> None:
    rig, lane = pty_rig, pty_rig.sim.lane
    lane.add_vehicle(time.monotonic(), speed=8.0)
    await rig.events.wait(loop_is(LoopRole.ARMING, True))
    await asyncio.sleep(1.0)  # 7.5 m at 8 m/s to the stop line, then it waits for the barrier
    lane.advance(time.monotonic())
    assert lane.vehicles[0].front == pytest.approx(2.5)
    mark = rig.events.mark()
    await rig.driver.open()
    await rig.events.wait(loop_is(LoopRole.SAFETY, True), mark)
    with pytest.raises(SafetyInterlockError):
        await rig.driver.close()
    await rig.events.wait(loop_is(LoopRole.ARMING, False), mark)
    await rig.events.wait(loop_is(LoopRole.SAFETY, False), mark)
    await rig.driver.close()
    await rig.events.wait(barrier_at(BarrierPosition.CLOSED), mark)
    order = [(e.loop, e.present) for e in rig.events.items[mark:] if isinstance(e, LoopChanged)]
    assert order == [
        (LoopRole.SAFETY, True),
        (LoopRole.ARMING, False),
        (LoopRole.SAFETY, False),
    ]


async def test_fault_input_sets_fault_health(pty_rig: Rig) -> None:
    pty_rig.sim.lane.barrier.inject_fault(time.monotonic(), "motor overheated")
    change = await pty_rig.events.wait(health_is(Health.FAULT))
    assert isinstance(change, HealthChange)
    await pty_rig.events.wait(barrier_at(BarrierPosition.FAULT))


async def test_pty_unplug_goes_offline_within_a_second_and_recovers(pty_rig: Rig) -> None:
    rig = pty_rig
    assert rig.link is not None
    mark = rig.events.mark()
    unplugged = time.monotonic()
    rig.link.unplug()
    await rig.events.wait(health_is(Health.OFFLINE), mark, within=1.0)
    assert time.monotonic() - unplugged < 1.0
    assert rig.driver.status is None
    await asyncio.sleep(0.5)
    mark = rig.events.mark()
    rig.link.replug()
    await rig.events.wait(health_is(Health.ONLINE), mark, within=4.0)
    await rig.events.wait(barrier_at(BarrierPosition.CLOSED), mark)
    await rig.driver.open()
    await rig.events.wait(barrier_at(BarrierPosition.OPEN), mark)


async def test_killed_tcp_simulator_goes_offline_and_recovers() -> None:
    async for rig in _rig("tcp", "bits"):
        assert rig.tcp_port is not None
        mark = rig.events.mark()
        killed = time.monotonic()
        await rig.serving.stop_tcp()
        await rig.events.wait(health_is(Health.OFFLINE), mark, within=1.0)
        assert time.monotonic() - killed < 1.0
        mark = rig.events.mark()
        await rig.serving.serve_tcp("127.0.0.1", rig.tcp_port)
        await rig.events.wait(health_is(Health.ONLINE), mark, within=4.0)
        await rig.events.wait(barrier_at(BarrierPosition.CLOSED), mark)


async def test_outputs_are_resynchronised_at_connect() -> None:
    sim = IoModuleSimulator(fast_lane(), io_map=BITS_MAP, unit_id=3)
    serving = sim.serving()
    port = await serving.serve_tcp()
    link = ModbusLink(f"socket://127.0.0.1:{port}")
    # another master leaves the open contact closed, as a crash in the middle of a pulse would
    raw = ModbusBus(link)
    await raw.write_coil("raw", 3, 0, True)
    raw.close()
    assert sim.outputs["open"] is True
    config = ModbusIoConfig("resync", link, io_map=BITS_MAP, unit_id=3)
    async with ModbusIoModule(config) as driver:
        events = Events()
        driver.add_listener(events)
        await events.wait(health_is(Health.ONLINE))
        assert sim.outputs.get("open") is False  # released with one write of all outputs (function 0F)
        await driver.hold_open(True)
    async with ModbusIoModule(config) as driver:
        events = Events()
        driver.add_listener(events)
        await events.wait(health_is(Health.ONLINE))
        assert driver.hold_open_active is True  # learnt from the coils (function 01), and kept
        assert sim.outputs["hold_open"] is True
    await serving.stop()


async def test_loop_detector_shares_the_rs485_bus_with_the_io_module() -> None:
    lane = fast_lane()
    io_sim = IoModuleSimulator(lane, io_map=BITS_MAP, unit_id=1)
    ld_sim = LoopDetectorSimulator(lane, unit_id=5)
    serving = ModbusServing(io_sim.device, ld_sim.device)
    with PtyLink("bus", baudrate=115200) as link:
        await serving.serve_serial(link.device_port, baudrate=115200)
        bus = ModbusBus(ModbusLink(link.host_port, baudrate=115200))
        io = ModbusIoModule(ModbusIoConfig("io", bus.link, io_map=BITS_MAP, unit_id=1), bus=bus)
        ld = ModbusLoopDetector(LoopDetectorConfig("ld", bus.link, unit_id=5, poll_interval_ms=20), bus=bus)
        events = Events()
        io.add_listener(events)
        ld.add_listener(events)
        await io.start()
        await ld.start()
        try:
            await events.wait(lambda e: isinstance(e, LoopChanged) and e.device == "ld")
            mark = events.mark()
            lane.add_vehicle(time.monotonic(), speed=8.0)
            armed = await events.wait(lambda e: loop_is(LoopRole.ARMING, True)(e) and e.device == "ld", mark)
            assert isinstance(armed, LoopChanged)
            await io.open()
            counted = await events.wait(lambda e: isinstance(e, VehicleCounted) and e.loop is LoopRole.SAFETY, mark)
            assert isinstance(counted, VehicleCounted)
            assert counted.count == 1
            await events.wait(lambda e: loop_is(LoopRole.SAFETY, False)(e) and e.device == "ld", mark)
            lane.safety.fault = "open-circuit"
            fault = await events.wait(lambda e: isinstance(e, LoopChanged) and e.fault == "open-circuit", mark)
            assert isinstance(fault, LoopChanged)
            assert fault.occupied_or_faulted
            assert ld.health.health is Health.FAULT
            await ld.reset_counters()
            assert lane.arming.count == 0
        finally:
            await ld.stop()
            await io.stop()
            bus.close()
            await serving.stop()


async def test_a_command_after_a_change_goes_before_the_next_poll() -> None:
    """On a slow half-duplex bus a poll started while the edge decides would hold the barrier command for a whole
    transaction: after a poll that reported a change, the next poll waits (briefly) for the command."""
    sim = IoModuleSimulator(fast_lane(), io_map=BITS_MAP, unit_id=3, addressing="bits")
    serving = sim.serving()
    reads: list[float] = []
    read_seen = asyncio.Event()
    sim.on_read.extend([reads.append, lambda now: read_seen.set()])
    # 2400 baud: a poll takes ~60 ms of a 150 ms interval, so the bus is free ~90 ms after each poll's answer
    with PtyLink("rs485", baudrate=2400) as link:
        await serving.serve_serial(link.device_port, baudrate=2400)
        config = ModbusIoConfig("lane-1-io", ModbusLink(link.host_port, baudrate=2400, timeout_ms=500),
                                io_map=BITS_MAP, unit_id=3, poll_interval_ms=150)  # fmt: skip
        driver = ModbusIoModule(config)
        driver.REACTION_WAIT_S = 0.14  # this slow decision (120 ms) on this slow bus, as 8 ms is to a real edge's
        events = Events()
        driver.add_listener(events)
        commanded: list[asyncio.Task[None]] = []

        def decide(event: ModbusEvent) -> None:
            if loop_is(LoopRole.ARMING, True)(event):

                async def open_later() -> None:  # a slow decision: after the next poll would have started
                    await asyncio.sleep(0.12)
                    await driver.open()

                commanded.append(asyncio.ensure_future(open_later()))

        driver.add_listener(decide)
        await driver.start()
        try:
            await events.wait(health_is(Health.ONLINE), within=5)
            sim.lane.add_vehicle(time.monotonic(), front=-0.5, speed=4.0)
            await events.wait(loop_is(LoopRole.ARMING, True), within=5)
            change_read = reads[-1]
            await commanded[0]
            opened = next(c.at for c in sim.output_changes if c.point == "open" and c.active)
            while not (after_change := [r for r in reads if r > change_read]):
                read_seen.clear()  # polling goes on once the command is written
                await asyncio.wait_for(read_seen.wait(), 2)
            assert opened < after_change[0]
        finally:
            await driver.stop()
            await serving.stop()


def write_coil_request(data: bytes) -> bool:
    """A Write Single Coil request to the rig's unit (3): noise is put on these only, not on the polls."""
    return len(data) >= 2 and data[0] == 3 and data[1] == 0x05


async def test_an_open_command_lost_twice_on_the_line_is_written_again_and_the_barrier_opens(
    pty_rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    rig, link = pty_rig, pty_rig.link
    assert link is not None
    await rig.events.wait(barrier_at(BarrierPosition.CLOSED))
    link.garble_to_device(2, write_coil_request)  # the first two copies of the open arrive with a bad CRC
    mark = rig.events.mark()
    await rig.driver.open()
    await rig.events.wait(barrier_at(BarrierPosition.OPEN), mark)
    assert link.garbled == 2
    assert [(c.point, c.active) for c in rig.sim.output_changes][:1] == [("open", True)]
    assert caplog.text.count("open command lost on the line") == 2


async def test_an_open_command_lost_every_time_fails_after_three_writes_and_the_barrier_stays_shut(
    pty_rig: Rig,
) -> None:
    rig, link = pty_rig, pty_rig.link
    assert link is not None
    await rig.events.wait(barrier_at(BarrierPosition.CLOSED))
    link.garble_to_device(3, write_coil_request)
    with pytest.raises(ModbusTimeoutError):
        await rig.driver.open()
    assert link.garbled == 3
    assert rig.sim.output_changes == []
    assert not rig.sim.lane.barrier.open_limit


async def test_a_stop_given_up_on_during_the_release_still_ends_polling_and_closes_the_bus(pty_rig: Rig) -> None:
    """A shutdown that abandons a slow driver (edge/devices/lifecycle.py cancels its stop after 3 s) must not leave
    the poll task and the Modbus client running: a pulse is under way, the line goes dead so its release cannot get
    through, and the stop is cancelled while it waits for the release."""
    rig = pty_rig
    await rig.events.wait(barrier_at(BarrierPosition.CLOSED))
    await rig.driver.open()
    assert rig.driver._pulses  # the open contact is held for its pulse
    await rig.serving.stop()  # the module stops answering; the line stays
    stopping = asyncio.ensure_future(rig.driver.stop())
    await asyncio.sleep(0.05)  # inside the release write, waiting on the dead line
    assert not stopping.done()
    stopping.cancel()
    await asyncio.wait({stopping}, timeout=10)
    assert stopping.done()
    assert not rig.driver._task.running
    assert rig.driver.bus._closed
    assert rig.driver.health.health is Health.OFFLINE
