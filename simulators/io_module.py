"""A simulated Modbus digital I/O module in front of a simulated lane (barrier + loops): ``parkgate sim io-module``.

The Modbus side is pymodbus' own server (RTU on a serial port or pseudo-terminal, RTU over TCP or Modbus TCP),
so the driver is tested against a real Modbus implementation, byte for byte. Its data model is a pymodbus
``SimDevice`` whose action hook does two things on every request: before a read, it advances the
:class:`~simulators.barrier.LaneModel` to the current time and writes the inputs into the registers; on a write,
it turns the new output levels into the contact closures the barrier controller sees (open / close pulses,
hold-open). The same I/O map as the driver's decides which coil or register bit is which.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pymodbus.constants import ExcCodes
from pymodbus.framer import FramerType
from pymodbus.server import ModbusSerialServer, ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from drivers.modbus.config import DEFAULT_IO_MAP, Addressing, IoMap, IoPoint
from drivers.tasks import cancel_and_wait
from simulators.barrier import BarrierConfig, BarrierModel, LaneModel

_LOGGER = logging.getLogger(__name__)
_CONTACT_EDGES = {("open", True): "open", ("close", True): "close", ("hold_open", True): "hold"}
_CONTACT_EDGES[("hold_open", False)] = "release"


def bit_block(size: int) -> list[SimData]:
    return [SimData(0, values=[False] * max(16, (size + 15) // 16 * 16), datatype=DataType.BITS)]


def register_block(size: int) -> list[SimData]:
    return [SimData(0, count=max(size, 1), values=0, datatype=DataType.REGISTERS)]


def _set_level(words: list[int], start: int, point: IoPoint, level: bool, bits: bool) -> None:
    index, bit = (point.address // 16 - start, point.address % 16) if bits else (point.address - start, point.bit or 0)
    if 0 <= index < len(words):
        words[index] = words[index] | (1 << bit) if level else words[index] & ~(1 << bit) & 0xFFFF


def _get_level(words: list[int], start: int, point: IoPoint, bits: bool) -> bool:
    index, bit = (point.address // 16 - start, point.address % 16) if bits else (point.address - start, point.bit or 0)
    return 0 <= index < len(words) and bool(words[index] >> bit & 1)


class ModbusServing:
    """Runs one pymodbus server for one or more ``SimDevice`` (several units on one RS-485 line) on a serial port
    and/or TCP, and reopens the serial port after it was unplugged (pymodbus' serial server gives up on a port
    that hung up)."""

    def __init__(self, *devices: SimDevice) -> None:
        self.devices = list(devices)
        self.serial: ModbusSerialServer | None = None
        self.tcp: ModbusTcpServer | None = None
        self._serial_args: dict[str, Any] = {}
        self._watch: asyncio.Task[None] | None = None

    async def serve_serial(self, port: str, *, baudrate: int = 9600, parity: str = "N") -> None:
        self._serial_args = {"port": port, "baudrate": baudrate, "parity": parity}
        await self._open_serial()
        self._watch = asyncio.create_task(self._watch_serial())

    async def _open_serial(self) -> bool:
        server = ModbusSerialServer(self.devices, framer=FramerType.RTU, timeout=0.5, **self._serial_args)
        try:
            await server.serve_forever(background=True)
        except RuntimeError:
            return False
        self.serial = server
        return True

    async def _watch_serial(self) -> None:
        while True:
            await asyncio.sleep(0.05)
            server = self.serial
            if server is not None and server.active_connections:
                continue
            if server is not None:
                await server.shutdown()  # type: ignore[no-untyped-call]
                self.serial = None
            await self._open_serial()

    async def serve_tcp(self, host: str = "127.0.0.1", port: int = 0, *, framer: FramerType = FramerType.RTU) -> int:
        """Listen on TCP (RTU over TCP by default, like a serial server); returns the port (``0`` picks one)."""
        server = ModbusTcpServer(self.devices, framer=framer, address=(host, port))
        await server.serve_forever(background=True)
        self.tcp = server
        sockets = getattr(server.transport, "sockets", None) or []
        return int(sockets[0].getsockname()[1]) if sockets else port

    async def stop_tcp(self) -> None:
        if self.tcp is not None:
            # pymodbus's shutdown waits on its clients' connections; a client half gone must not hold it for ever.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(5):
                    await self.tcp.shutdown()  # type: ignore[no-untyped-call]
            self.tcp = None

    async def stop(self) -> None:
        if self._watch is not None:
            await cancel_and_wait(self._watch)
            self._watch = None
        if self.serial is not None:
            await self.serial.shutdown()  # type: ignore[no-untyped-call]
            self.serial = None
        await self.stop_tcp()


@dataclass(frozen=True, slots=True)
class OutputChange:
    """An output level the simulated module received, with the time it did (for tests and the benchmark)."""

    point: str
    active: bool
    at: float


class IoModuleSimulator:
    """An I/O module at ``unit_id`` wired to ``lane`` through ``io_map``."""

    def __init__(
        self,
        lane: LaneModel | None = None,
        *,
        io_map: IoMap = DEFAULT_IO_MAP,
        unit_id: int = 1,
        addressing: Addressing = "bits",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.clock = clock
        self.lane = lane or LaneModel(BarrierModel(now=clock()))
        self.io_map = io_map
        self.unit_id = unit_id
        self.addressing = addressing
        self.bits = addressing == "bits"
        self.outputs = {name: False for name in io_map.outputs()}
        self.output_changes: list[OutputChange] = []
        self.on_output: list[Callable[[OutputChange], None]] = []
        self.on_read: list[Callable[[float], None]] = []  # called with the time of each input read
        self.reads = 0
        self.device = self._make_device()

    def serving(self) -> ModbusServing:
        """A server for this module alone (tests put several devices on one :class:`ModbusServing`)."""
        return ModbusServing(self.device)

    def _make_device(self) -> SimDevice:
        points = [*self.io_map.inputs().values(), *self.io_map.outputs().values()]
        size = max((p.address for p in points), default=0) + 1
        bits, words = (size, 1) if self.bits else (16, size)
        return SimDevice(
            self.unit_id,
            simdata=(bit_block(bits), bit_block(bits), register_block(words), register_block(words)),
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
        if function in (0x02, 0x04):
            self.reads += 1
            for listener in self.on_read:
                listener(now)
            inputs = self.lane.inputs(now)
            for name, point in self.io_map.inputs().items():
                _set_level(registers, start, point, inputs[name] != point.active_low, self.bits)
        elif values is not None and function in ((0x05, 0x0F) if self.bits else (0x06, 0x10)):
            self._written(now, start, address, registers, values)
        return None

    def _written(
        self, now: float, start: int, address: int, registers: list[int], values: list[int] | list[bool]
    ) -> None:
        after = list(registers)
        for offset, value in enumerate(values):
            if self.bits:
                _set_level(after, start, IoPoint(address + offset), bool(value), True)
            elif 0 <= address + offset - start < len(after):
                after[address + offset - start] = int(value)
        for name, point in self.io_map.outputs().items():
            active = _get_level(after, start, point, self.bits) != point.active_low
            if active == self.outputs[name]:
                continue
            self.outputs[name] = active
            change = OutputChange(name, active, now)
            self.output_changes.append(change)
            for listener in list(self.on_output):
                listener(change)
            edge = _CONTACT_EDGES.get((name, active))
            if edge is not None:
                self.lane.contact(now, edge)


def add_serving_arguments(parser: argparse.ArgumentParser) -> None:
    """Options every Modbus simulator shares: where to serve."""
    where = parser.add_argument_group("where to serve (at least one)")
    where.add_argument("--port", help="serial port (or a pseudo-terminal) to serve on")
    where.add_argument("--pty", metavar="NAME", help="create a linked pseudo-terminal pair and print the host path")
    where.add_argument("--tcp", metavar="HOST:PORT", help="serve on TCP too")
    parser.add_argument("--tcp-framing", choices=("rtu", "socket"), default="rtu", help="RTU over TCP or Modbus TCP")
    parser.add_argument("--baudrate", type=int, default=9600)
    parser.add_argument("--parity", choices=("N", "E", "O"), default="N")
    parser.add_argument("--unit", type=int, default=1, help="Modbus unit id")
    parser.add_argument("--duration", type=float, default=None, help="stop after this many seconds")


async def run_serving(args: argparse.Namespace, sim: ModbusServing, tick: Callable[[], None]) -> None:
    """Serve as the arguments say until the duration passes (or forever), calling ``tick`` every 100 ms."""
    from simulators.pty import PtyLink

    link = PtyLink(args.pty, baudrate=args.baudrate).open() if args.pty else None
    try:
        port = link.device_port if link else args.port
        if port:
            await sim.serve_serial(port, baudrate=args.baudrate, parity=args.parity)
            print(f"serving Modbus RTU on {link.host_port if link else port} (unit {args.unit})", flush=True)
        if args.tcp:
            host, _, tcp_port = args.tcp.rpartition(":")
            framer = FramerType.RTU if args.tcp_framing == "rtu" else FramerType.SOCKET
            bound = await sim.serve_tcp(host or "127.0.0.1", int(tcp_port), framer=framer)
            print(f"serving Modbus ({args.tcp_framing}) on {host or '127.0.0.1'}:{bound}", flush=True)
        deadline = None if args.duration is None else time.monotonic() + args.duration
        while deadline is None or time.monotonic() < deadline:
            await asyncio.sleep(0.1)
            tick()
    finally:
        await sim.stop()
        if link is not None:
            link.close()


def _run_io_module(args: argparse.Namespace) -> int:
    if not (args.port or args.pty or args.tcp):
        print("parkgate sim io-module: give --port, --pty or --tcp")
        return 2
    config = BarrierConfig(travel_time_s=args.travel)
    sim = IoModuleSimulator(
        LaneModel(BarrierModel(config, now=time.monotonic())), unit_id=args.unit, addressing=args.addressing
    )
    last: dict[str, bool] = {}
    next_vehicle = time.monotonic() + (args.vehicle_every or 0)

    def tick() -> None:
        nonlocal next_vehicle, last
        now = time.monotonic()
        if args.vehicle_every and now >= next_vehicle:
            sim.lane.add_vehicle(now)
            next_vehicle = now + args.vehicle_every
            print(f"{now:.1f} vehicle arrives", flush=True)
        inputs = sim.lane.inputs(now)
        if inputs != last:
            print(f"{now:.1f} " + " ".join(f"{k}={int(v)}" for k, v in inputs.items()), flush=True)
            last = inputs

    asyncio.run(run_serving(args, sim.serving(), tick))
    return 0


def register_sim(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("io-module", help="Modbus digital I/O module with a barrier and two loops")
    add_serving_arguments(parser)
    parser.add_argument("--addressing", choices=("bits", "registers"), default="bits")
    parser.add_argument("--travel", type=float, default=3.0, help="barrier travel time, 1-6 s")
    parser.add_argument("--vehicle-every", type=float, default=None, help="send a vehicle every N seconds")
    parser.set_defaults(handler=_run_io_module)
