"""The end-to-end benchmark's hardware in a process of its own: the Modbus I/O module wired to a simulated lane and the
OSDP card reader, each behind a pseudo-terminal paced at its baud rate.

In a deployment the I/O module and the reader are other devices, not threads in the edge's process: run in the
edge's process, the simulators, their event loop and the pseudo-terminals' copying threads take the edge's GIL in
turn and their delays show in the edge's figures. Here they run apart, and the two processes share only the serial
lines and ``time.monotonic`` (``CLOCK_MONOTONIC``, one clock for the whole machine), by which the simulated module
stamps what it sees.

The benchmark (:class:`SimProcess`) drives the child with one JSON object a line on its standard input
(``add_vehicle``, ``present_card``, ``rearm``, ``clear``, ``counts``, ``stop``); the child answers with one JSON
object a line on its standard output: ``ready`` with the ports, ``armed`` (the first input read that shows the
arming loop occupied after a ``rearm``), ``output`` (a coil the module received), ``lane`` (vehicles passed and the
closed limit, when they change), ``presented`` and ``counts``.

Run by :class:`SimProcess`, as ``python benchmarks/sim_process.py --io-baud 115200 --folder DIR``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SCBK = bytes(range(16))


# ------------------------------------------------------------------------------------------------ the parent's side


@dataclass
class SimState:
    """What the child reported, kept up to date by :class:`SimProcess` (times on ``time.monotonic``)."""

    armed_read: float | None = None
    opens: list[float] = field(default_factory=list)
    closes: list[float] = field(default_factory=list)
    passed: int = 0
    closed_limit: bool = False
    presented: list[float] = field(default_factory=list)


class SimProcess:
    """The simulators in a child process; ``io_port`` and ``reader_port`` are the host ends of their serial lines."""

    def __init__(self, folder: Path, io_baud: int | None, reader: bool = True) -> None:
        self.folder, self.io_baud, self.reader = folder, io_baud, reader
        self.state = SimState()
        self.io_port = ""
        self.reader_port = ""
        self._proc: asyncio.subprocess.Process | None = None
        self._reader_task: asyncio.Task[None] | None = None
        self._ready: asyncio.Future[dict[str, Any]] | None = None
        self._counts: asyncio.Future[dict[str, Any]] | None = None

    async def start(self) -> SimProcess:
        loop = asyncio.get_running_loop()
        self._ready = loop.create_future()
        args = [sys.executable, str(Path(__file__)), "--folder", str(self.folder)]
        if self.io_baud:
            args += ["--io-baud", str(self.io_baud)]
        if self.reader:
            args.append("--reader")
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
        self._proc = await asyncio.create_subprocess_exec(
            *args, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, env=env, limit=1 << 20
        )
        self._reader_task = asyncio.create_task(self._read())
        ready = await asyncio.wait_for(self._ready, 30)
        self.io_port, self.reader_port = ready.get("io_port", ""), ready.get("reader_port", "")
        return self

    async def stop(self) -> None:
        if self._proc is None:
            return
        if self._proc.returncode is None:
            with contextlib.suppress(OSError):  # the child has gone already
                await self.send("stop")
            try:
                await asyncio.wait_for(self._proc.wait(), 15)
            except TimeoutError:
                self._proc.kill()
                await self._proc.wait()
        if self._reader_task is not None:
            self._reader_task.cancel()
        self._proc = None

    async def send(self, command: str, **fields: Any) -> None:
        assert self._proc is not None
        assert self._proc.stdin is not None
        self._proc.stdin.write(json.dumps({"command": command, **fields}).encode() + b"\n")
        await self._proc.stdin.drain()

    async def add_vehicle(self, front: float, speed: float) -> None:
        await self.send("add_vehicle", front=front, speed=speed)

    async def rearm(self) -> None:
        """Forget the armed read: the next read showing the arming loop occupied is reported."""
        self.state.armed_read = None
        await self.send("rearm")

    async def present_card(self, facility: int, number: int) -> None:
        await self.send("present_card", facility=facility, number=number)

    async def counts(self) -> dict[str, Any]:
        """Input reads answered and bytes carried each way on the I/O module's line, so far."""
        self._counts = asyncio.get_running_loop().create_future()
        await self.send("counts")
        return await asyncio.wait_for(self._counts, 10)

    async def _read(self) -> None:
        assert self._proc is not None
        assert self._proc.stdout is not None
        while line := await self._proc.stdout.readline():
            if not line.startswith(b'{"event"'):  # a library's print: not ours
                sys.stderr.write(f"simulators: {line.decode(errors='replace').rstrip()}\n")
                continue
            event = json.loads(line)
            kind = event.pop("event")
            if kind == "ready" and self._ready is not None and not self._ready.done():
                self._ready.set_result(event)
            elif kind == "armed":
                self.state.armed_read = event["at"]
            elif kind == "output" and event["active"] and event["point"] in ("open", "close"):
                (self.state.opens if event["point"] == "open" else self.state.closes).append(event["at"])
            elif kind == "lane":
                self.state.passed, self.state.closed_limit = event["passed"], event["closed_limit"]
            elif kind == "presented":
                self.state.presented.append(event["at"])
            elif kind == "counts" and self._counts is not None and not self._counts.done():
                self._counts.set_result(event)
        if self._ready is not None and not self._ready.done():
            self._ready.set_exception(RuntimeError("the simulators' process ended before it was ready"))


# ------------------------------------------------------------------------------------------------ the child


def _emit(event: str, **fields: Any) -> None:
    sys.stdout.write(json.dumps({"event": event, **fields}) + "\n")
    sys.stdout.flush()


async def _child(args: argparse.Namespace) -> None:
    from bench_edge_start import IO_MAP

    from simulators.barrier import BarrierConfig, BarrierModel, LaneModel
    from simulators.card_reader import OsdpCardReaderSim
    from simulators.io_module import IoModuleSimulator, OutputChange
    from simulators.pty import PtyLink

    folder = Path(args.folder)
    links: list[PtyLink] = []
    ready: dict[str, Any] = {}
    io: IoModuleSimulator | None = None
    serving = None
    reader: OsdpCardReaderSim | None = None
    armed = {"pending": True}
    try:
        if args.io_baud:
            link = PtyLink("io", folder, baudrate=args.io_baud).open()
            links.append(link)
            barrier = BarrierModel(BarrierConfig(travel_time_s=1.0), now=time.monotonic())
            io = IoModuleSimulator(LaneModel(barrier), io_map=IO_MAP)
            lane = io.lane

            def on_read(now: float) -> None:
                if armed["pending"] and lane.inputs(now)["arming_loop"]:
                    armed["pending"] = False
                    _emit("armed", at=now)

            def on_output(change: OutputChange) -> None:
                _emit("output", point=change.point, active=change.active, at=change.at)

            io.on_read.append(on_read)
            io.on_output.append(on_output)
            serving = io.serving()
            await serving.serve_serial(link.device_port, baudrate=args.io_baud)
            ready["io_port"] = link.host_port
        if args.reader:
            link = PtyLink("osdp", folder, baudrate=115200).open()
            links.append(link)
            reader = OsdpCardReaderSim(link.device_port, address=1, scbk=SCBK, baudrate=115200).start()
            ready["reader_port"] = link.host_port
        _emit("ready", **ready)

        loop = asyncio.get_running_loop()
        commands: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()

        def read_commands() -> None:  # in a thread: stdin is a pipe the loop need not watch
            for line in sys.stdin:
                loop.call_soon_threadsafe(commands.put_nowait, json.loads(line))
            loop.call_soon_threadsafe(commands.put_nowait, None)

        loop.run_in_executor(None, read_commands)

        async def watch_lane() -> None:
            last: tuple[int, bool] | None = None
            while io is not None:
                now = (io.lane.passed, io.lane.barrier.closed_limit)
                if now != last:
                    _emit("lane", passed=now[0], closed_limit=now[1])
                    last = now
                await asyncio.sleep(0.005)

        watcher = asyncio.create_task(watch_lane())
        while (command := await commands.get()) is not None:
            name = command["command"]
            if name == "stop":
                break
            if name == "add_vehicle" and io is not None:
                io.lane.add_vehicle(time.monotonic(), front=command["front"], speed=command["speed"])
            elif name == "rearm":
                armed["pending"] = True
            elif name == "present_card" and reader is not None:
                at = time.monotonic()
                reader.present_card(command["facility"], command["number"])
                _emit("presented", at=at)
            elif name == "counts":
                io_link = links[0] if io is not None else None
                _emit("counts", reads=io.reads if io is not None else 0,
                      to_device=io_link.bytes_to_device if io_link else 0,
                      to_host=io_link.bytes_to_host if io_link else 0)  # fmt: skip
        watcher.cancel()
    finally:
        if reader is not None:
            reader.stop()
        if serving is not None:
            await serving.stop()
        for link in links:
            link.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--folder", required=True, help="where the pseudo-terminals' links are made")
    parser.add_argument("--io-baud", type=int, default=0, help="the I/O module's line (0: no I/O module)")
    parser.add_argument("--reader", action="store_true", help="an OSDP card reader, secure channel, 115200 baud")
    args = parser.parse_args()
    sys.setswitchinterval(0.001)
    asyncio.run(_child(args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
