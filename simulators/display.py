"""A simulated lane display (LED text + voice) speaking our line protocol: ``parkgate sim display``.

It reads the host's lines with the driver's own grammar and command parser (:mod:`drivers.serial_line.line`,
:mod:`drivers.display.protocol`) from the device side. :class:`LineDeviceServer` serves any such device on a
serial port or pseudo-terminal (reopened after an unplug) and on TCP; the dispenser simulator uses it too.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from drivers.display.errors import DisplayProtocolError
from drivers.display.protocol import Clear, Colour, Say, Show, parse_command
from drivers.errors import ProtocolError
from drivers.serial_line.line import Line, LineDecoder, encode_line
from drivers.serial_line.link import Stream, TcpStream, open_stream
from drivers.tasks import cancel_and_wait

_LOGGER = logging.getLogger(__name__)

Handler = Callable[[Line], list[Line]]


class LineDeviceServer:
    """Serves a device-side ``handler`` (host line in, reply lines out) on serial and/or TCP, and can send
    unsolicited lines to every connected host. ``silent`` makes the device stop answering (a hung device)."""

    def __init__(self, handler: Handler, error: type[ProtocolError] = ProtocolError) -> None:
        self.handler = handler
        self.error = error
        self.streams: set[Stream] = set()
        self.silent = False
        self.on_connect: Callable[[], list[Line]] = lambda: [Line(0, "READY")]
        self._tasks: list[asyncio.Task[None]] = []
        self._tcp: asyncio.Server | None = None

    async def _session(self, stream: Stream) -> None:
        self.streams.add(stream)
        decoder = LineDecoder(self.error)
        try:
            for line in self.on_connect():
                stream.write(encode_line(line))
            while data := await stream.read():
                for item in decoder.feed(data):
                    if self.silent:
                        continue
                    replies = (
                        [Line(0, "ERR", str(item)[:200])] if isinstance(item, ProtocolError) else self.handler(item)
                    )
                    for reply in replies:
                        stream.write(encode_line(reply))
        except OSError:
            pass
        finally:
            self.streams.discard(stream)
            stream.close()

    def broadcast(self, line: Line) -> None:
        for stream in list(self.streams):
            with contextlib.suppress(OSError):
                stream.write(encode_line(line))

    async def _serial_loop(self, port: str, baudrate: int) -> None:
        while True:
            try:
                stream = await open_stream(port, baudrate)
            except OSError:
                await asyncio.sleep(0.05)  # unplugged: wait for the replug
                continue
            await self._session(stream)
            await asyncio.sleep(0.05)

    async def serve_serial(self, port: str, baudrate: int = 9600) -> None:
        self._tasks.append(asyncio.create_task(self._serial_loop(port, baudrate)))

    async def serve_tcp(self, host: str = "127.0.0.1", port: int = 0) -> int:
        async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await self._session(TcpStream(reader, writer))

        self._tcp = await asyncio.start_server(accept, host, port)
        return int(self._tcp.sockets[0].getsockname()[1])

    async def stop_tcp(self) -> None:
        if self._tcp is not None:
            self._tcp.close()
            for stream in list(self.streams):
                if isinstance(stream, TcpStream):
                    stream.close()
            await self._tcp.wait_closed()
            self._tcp = None

    async def stop(self) -> None:
        for task in self._tasks:
            await cancel_and_wait(task)
        self._tasks.clear()
        await self.stop_tcp()
        for stream in list(self.streams):
            stream.close()


class DisplaySimulator:
    """Rows of coloured text and a voice; :attr:`history` keeps every command with its time."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic, model: str = "ParkGate sim LED 1.0") -> None:
        self.clock = clock
        self.model = model
        self.rows: dict[int, tuple[Colour, str]] = {}
        self.spoken: list[str] = []
        self.history: list[tuple[float, Line]] = []
        self.server = LineDeviceServer(self.handle, DisplayProtocolError)

    def handle(self, line: Line) -> list[Line]:
        self.history.append((self.clock(), line))
        try:
            command = parse_command(line)
        except DisplayProtocolError as err:
            return [Line(line.seq, "ERR", str(err))]
        if isinstance(command, Show):
            self.rows[command.row] = (command.colour, command.text)
        elif isinstance(command, Clear):
            self.rows.clear()
        elif isinstance(command, Say):
            self.spoken.append(command.text)
        else:
            return [Line(line.seq, "PONG", self.model)]
        return [Line(line.seq, "OK")]

    def text(self) -> list[str]:
        """The rows as shown, row 1 first (empty rows as empty strings)."""
        last = max(self.rows, default=0)
        return [self.rows.get(row, ("white", ""))[1] for row in range(1, last + 1)]

    def fault(self, reason: str | None) -> None:
        self.server.broadcast(Line(0, "FAULT", reason or ""))


async def serve_line_device(args: argparse.Namespace, server: LineDeviceServer, tick: Callable[[], None]) -> None:
    """Serve as ``--port/--pty/--tcp`` say, until ``--duration`` passes (or forever)."""
    from simulators.pty import PtyLink

    link = PtyLink(args.pty, baudrate=args.baudrate).open() if args.pty else None
    try:
        port = link.device_port if link else args.port
        if port:
            await server.serve_serial(port, args.baudrate)
            print(f"serving on {link.host_port if link else port}", flush=True)
        if args.tcp:
            host, _, tcp_port = args.tcp.rpartition(":")
            bound = await server.serve_tcp(host or "127.0.0.1", int(tcp_port))
            print(f"serving on socket://{host or '127.0.0.1'}:{bound}", flush=True)
        deadline = None if args.duration is None else time.monotonic() + args.duration
        while deadline is None or time.monotonic() < deadline:
            await asyncio.sleep(0.02)
            tick()
    finally:
        await server.stop()
        if link is not None:
            link.close()


def add_line_device_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", help="serial port (or pseudo-terminal) to serve on")
    parser.add_argument("--pty", metavar="NAME", help="create a linked pseudo-terminal pair and print the host path")
    parser.add_argument("--tcp", metavar="HOST:PORT", help="serve on TCP (a serial server's socket://)")
    parser.add_argument("--baudrate", type=int, default=9600)
    parser.add_argument("--duration", type=float, default=None, help="stop after this many seconds")


def _run(args: argparse.Namespace) -> int:
    if not (args.port or args.pty or args.tcp):
        print("parkgate sim display: give --port, --pty or --tcp")
        return 2
    sim = DisplaySimulator()
    seen = 0

    def tick() -> None:
        nonlocal seen
        for _, line in sim.history[seen:]:
            if line.keyword != "PING":
                print(f"{line.keyword} {line.rest}".rstrip(), flush=True)
        seen = len(sim.history)

    asyncio.run(serve_line_device(args, sim.server, tick))
    return 0


def register_sim(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("display", help="LED text display and voice, our serial line protocol")
    add_line_device_arguments(parser)
    parser.set_defaults(handler=_run)
