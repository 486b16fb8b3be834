"""What actually crosses the pseudo-terminal: the driver's requests, read with our RTU codec from the device side and
answered with frames our codec builds (checked against pymodbus elsewhere). Also: the metrics move."""

from __future__ import annotations

import asyncio
import time

import serial
from prometheus_client import REGISTRY

from drivers.health import Health
from drivers.modbus import (
    BarrierChanged,
    BarrierPosition,
    IoMap,
    IoPoint,
    ModbusIoConfig,
    ModbusIoModule,
    ModbusLink,
    rtu,
)
from drivers.modbus.events import ModbusEvent
from simulators.pty import PtyLink

MAP = IoMap(
    open=IoPoint(0),
    close=IoPoint(1),
    hold_open=IoPoint(2),
    open_limit=IoPoint(0),
    closed_limit=IoPoint(1),
    arming_loop=IoPoint(2),
    safety_loop=IoPoint(3),
)


def _next_request(port: serial.Serial, decoder: rtu.RtuStreamDecoder) -> rtu.Frame:
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        frames = decoder.feed(port.read(port.in_waiting or 1))
        if frames:
            assert len(frames) == 1  # a master sends one request and waits
            return frames[0]
    raise AssertionError("no request on the wire")


async def test_requests_on_the_wire_are_rtu_frames() -> None:
    with PtyLink("wire", baudrate=38400) as link:
        device = serial.Serial(link.device_port, 38400, timeout=0.05)
        decoder = rtu.RtuStreamDecoder("request")
        events: list[ModbusEvent] = []
        driver = ModbusIoModule(
            ModbusIoConfig("wire", ModbusLink(link.host_port, baudrate=38400), io_map=MAP, unit_id=7)
        )
        driver.add_listener(events.append)
        await driver.start()
        try:
            sync = await asyncio.to_thread(_next_request, device, decoder)
            assert (sync.pdu.unit, sync.pdu.function, sync.pdu.fields) == (7, 0x01, {"address": 0, "count": 3})
            device.write(rtu.read_bits_response(7, 0x01, [True, False, False]))  # open coil left on
            release = await asyncio.to_thread(_next_request, device, decoder)
            assert release.pdu.function == 0x0F
            assert release.pdu.fields == {"address": 0, "count": 3, "values": [0, 0, 0]}
            device.write(rtu.write_multiple_response(7, 0x0F, 0, 3))
            poll = await asyncio.to_thread(_next_request, device, decoder)
            assert (poll.pdu.function, poll.pdu.fields) == (0x02, {"address": 0, "count": 4})
            assert poll.raw == rtu.read_request(7, 0x02, 0, 4)
            device.write(rtu.read_bits_response(7, 0x02, [False, True, False, False]))
            for _ in range(100):
                if any(isinstance(e, BarrierChanged) for e in events):
                    break
                await asyncio.sleep(0.01)
            changed = next(e for e in events if isinstance(e, BarrierChanged))
            assert changed.status.position is BarrierPosition.CLOSED
            assert driver.health.health is Health.ONLINE
            assert decoder.skipped == 0
            assert link.bytes_to_device >= 3 * 8 + 10
            assert _sample("parkgate_modbus_request_seconds_count", {"device": "wire"}) >= 3
        finally:
            await driver.stop()
            device.close()


def _sample(name: str, labels: dict[str, str]) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_metrics_count_frames_and_timeouts() -> None:
    with PtyLink("metrics") as link:
        device = serial.Serial(link.device_port, timeout=0.05)
        driver = ModbusIoModule(
            ModbusIoConfig("metrics-dev", ModbusLink(link.host_port, timeout_ms=100), io_map=MAP, unit_id=2)
        )
        before = _sample("parkgate_modbus_errors_total", {"device": "metrics-dev", "kind": "timeout"})
        await driver.start()
        await asyncio.sleep(0.5)  # nobody answers: timeouts
        await driver.stop()
        device.close()
        assert _sample("parkgate_modbus_errors_total", {"device": "metrics-dev", "kind": "timeout"}) > before
        assert _sample("parkgate_modbus_frames_total", {"device": link.host_port, "direction": "tx"}) >= 2
        assert driver.health.reason == "stopped"
