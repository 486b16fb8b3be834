"""The Modbus simulators seen through a plain pymodbus client (not our driver): the registers follow the lane."""

from __future__ import annotations

import asyncio
import time

from pymodbus.client import AsyncModbusTcpClient
from pymodbus.framer import FramerType

from drivers.modbus import IoMap, IoPoint
from drivers.modbus.loop_detector import decode_channels
from simulators.barrier import BarrierConfig, BarrierModel, LaneModel
from simulators.io_module import IoModuleSimulator, ModbusServing
from simulators.loop_detector import LoopDetectorSimulator


def fast_lane() -> LaneModel:
    return LaneModel(BarrierModel(BarrierConfig(travel_time_s=0.1, allow_short_travel=True), now=time.monotonic()))


async def test_coils_drive_the_barrier_and_inputs_report_it() -> None:
    lane = fast_lane()
    sim = IoModuleSimulator(lane, unit_id=4)  # default map: open coil 0; open limit input 0, closed limit input 1
    serving = sim.serving()
    port = await serving.serve_tcp()
    client = AsyncModbusTcpClient("127.0.0.1", port=port, framer=FramerType.RTU)
    await client.connect()
    try:
        inputs = await client.read_discrete_inputs(0, count=6, device_id=4)
        assert inputs.bits[:2] == [False, True]
        await client.write_coil(0, True, device_id=4)
        await client.write_coil(0, False, device_id=4)
        await asyncio.sleep(0.2)
        inputs = await client.read_discrete_inputs(0, count=6, device_id=4)
        assert inputs.bits[:2] == [True, False]
        assert [name for _, name in lane.barrier.commands] == ["open"]
        lane.add_vehicle(time.monotonic(), front=0.0)
        inputs = await client.read_discrete_inputs(0, count=6, device_id=4)
        assert inputs.bits[2]  # arming loop
    finally:
        client.close()
        await serving.stop()


async def test_register_clone_uses_bits_of_registers() -> None:
    io_map = IoMap(open=IoPoint(100, bit=3), open_limit=IoPoint(0, bit=5), closed_limit=IoPoint(0, bit=6))
    lane = fast_lane()
    sim = IoModuleSimulator(lane, io_map=io_map, addressing="registers")
    serving = sim.serving()
    port = await serving.serve_tcp()
    client = AsyncModbusTcpClient("127.0.0.1", port=port, framer=FramerType.RTU)
    await client.connect()
    try:
        assert (await client.read_input_registers(0, count=1, device_id=1)).registers == [1 << 6]
        await client.write_register(100, 1 << 3, device_id=1)
        await asyncio.sleep(0.2)
        assert (await client.read_input_registers(0, count=1, device_id=1)).registers == [1 << 5]
        assert sim.outputs == {"open": True}
    finally:
        client.close()
        await serving.stop()


async def test_loop_detector_registers_and_commands() -> None:
    lane = fast_lane()
    lane.barrier.position, lane.barrier.hold = 1.0, True
    io = IoModuleSimulator(lane, unit_id=1)
    ld = LoopDetectorSimulator(lane, unit_id=9)
    serving = ModbusServing(io.device, ld.device)
    port = await serving.serve_tcp()
    client = AsyncModbusTcpClient("127.0.0.1", port=port, framer=FramerType.RTU)
    await client.connect()
    try:
        lane.add_vehicle(time.monotonic(), front=0.0)
        arming, safety = decode_channels(list((await client.read_input_registers(0, count=8, device_id=9)).registers))
        assert arming.present
        assert not safety.present
        assert arming.count == 1
        assert arming.frequency_hz == 48_000
        lane.safety.fault = "short-circuit"
        _, safety = decode_channels(list((await client.read_input_registers(0, count=8, device_id=9)).registers))
        assert safety.fault == "short-circuit"
        assert safety.present  # fail-safe
        await client.write_register(0, 1, device_id=9)
        assert lane.arming.count == 0
        refused = await client.write_register(0, 7, device_id=9)
        assert refused.isError()
    finally:
        client.close()
        await serving.stop()
