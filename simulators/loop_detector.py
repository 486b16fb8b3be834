"""A simulated LD120-style two-channel loop detector on Modbus: ``parkgate sim loop-detector``.

pymodbus' server answers on the wire; the registers (map in :mod:`drivers.modbus.loop_detector`) are filled, on
every read, from the loops of a :class:`~simulators.barrier.LaneModel` (channel 1 = arming loop, channel 2 =
safety loop) with the driver's own :func:`~drivers.modbus.loop_detector.encode_channels`. Writing holding register
0 resets the counters (1) or retunes (2: a presence held past its limit is forgotten).
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Callable

from pymodbus.constants import ExcCodes
from pymodbus.simulator import SimDevice

from drivers.modbus.loop_detector import (
    COMMAND_REGISTER,
    COMMAND_RESET_COUNTERS,
    COMMAND_RETUNE,
    REGISTER_COUNT,
    ChannelState,
    encode_channels,
)
from simulators.barrier import BarrierModel, LaneModel, LoopModel
from simulators.io_module import ModbusServing, add_serving_arguments, bit_block, register_block, run_serving


def channel_state(loop: LoopModel, now: float) -> ChannelState:
    return ChannelState(
        present=loop.output(now),
        fault=loop.fault,
        presence_limited=loop.presence_limited(now),
        count=loop.count & 0xFFFFFFFF,
        frequency_hz=loop.frequency_hz(),
    )


class LoopDetectorSimulator:
    """The detector at ``unit_id`` watching ``lane``'s two loops."""

    def __init__(
        self, lane: LaneModel | None = None, *, unit_id: int = 1, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.clock = clock
        self.lane = lane or LaneModel(BarrierModel(now=clock()))
        self.unit_id = unit_id
        self.commands: list[tuple[float, int]] = []
        self.device = self._make_device()

    def serving(self) -> ModbusServing:
        return ModbusServing(self.device)

    def _make_device(self) -> SimDevice:
        return SimDevice(
            self.unit_id,
            simdata=(bit_block(16), bit_block(16), register_block(1), register_block(REGISTER_COUNT)),
            action=self._action,
        )

    async def _action(
        self,
        function: int,
        start: int,
        address: int,
        count: int,
        registers: list[int],
        values: list[int] | list[bool] | None,
    ) -> ExcCodes | None:
        now = self.clock()
        if function == 0x04:
            self.lane.advance(now)
            words = encode_channels(channel_state(self.lane.arming, now), channel_state(self.lane.safety, now))
            registers[: len(words)] = words
        elif function == 0x06 and values and address == COMMAND_REGISTER:
            command = int(values[0])
            self.commands.append((now, command))
            if command == COMMAND_RESET_COUNTERS:
                self.lane.arming.count = self.lane.safety.count = 0
            elif command == COMMAND_RETUNE:
                for loop in (self.lane.arming, self.lane.safety):
                    loop.occupied_since = now
            else:
                return ExcCodes.ILLEGAL_VALUE
        return None


def _run(args: argparse.Namespace) -> int:
    if not (args.port or args.pty or args.tcp):
        print("parkgate sim loop-detector: give --port, --pty or --tcp")
        return 2
    sim = LoopDetectorSimulator(unit_id=args.unit)
    sim.lane.barrier.hold = True  # no barrier on this device: let vehicles pass
    sim.lane.barrier.position = 1.0
    next_vehicle = time.monotonic()

    def tick() -> None:
        nonlocal next_vehicle
        now = time.monotonic()
        if args.vehicle_every and now >= next_vehicle:
            sim.lane.add_vehicle(now)
            next_vehicle = now + args.vehicle_every
        sim.lane.advance(now)

    asyncio.run(run_serving(args, sim.serving(), tick))
    return 0


def register_sim(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("loop-detector", help="LD120-style two-channel loop detector on Modbus")
    add_serving_arguments(parser)
    parser.add_argument("--vehicle-every", type=float, default=5.0, help="a vehicle crosses every N seconds")
    parser.set_defaults(handler=_run)
