"""A simulated temporary-card dispenser with a finite stack of cards: ``parkgate sim dispenser``.

:class:`DispenserModel` is the clock-driven mechanism (no I/O): a card takes ``present_time_s`` to reach the
mouth, is taken by the simulated driver after ``take_after_s`` (``None``: never) or pulled back into the recall
bin after ``recall_after_s``; the stock runs down to LOW and EMPTY; a jam can be injected. The device side of the
wire uses the driver's own grammar and messages (:mod:`drivers.dispenser.protocol`) through
:class:`~simulators.display.LineDeviceServer`.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from drivers.dispenser.errors import DispenserProtocolError
from drivers.dispenser.protocol import DispenserStatus, Notice, StockLevel, format_notice, format_status
from drivers.serial_line.line import Line
from simulators.display import LineDeviceServer, add_line_device_arguments, serve_line_device


@dataclass
class DispenserModel:
    stock: int = 50
    low_threshold: int = 10
    present_time_s: float = 0.3
    take_after_s: float | None = 1.0
    recall_after_s: float = 20.0
    jammed: bool = False
    recall_bin: int = 0
    issued: int = 0
    card: str | None = None  # the card on its way or at the mouth
    at_mouth: bool = False
    _since: float = 0.0
    _serial: int = 0
    notices: list[Notice] = field(default_factory=list)

    def level(self) -> StockLevel:
        if self.stock <= 0:
            return StockLevel.EMPTY
        return StockLevel.LOW if self.stock <= self.low_threshold else StockLevel.OK

    def status(self) -> DispenserStatus:
        return DispenserStatus(self.level(), self.stock, self.jammed, self.at_mouth)

    def issue(self, now: float) -> str | None:
        """Start dispensing; the refusal reason (EMPTY, JAM, BUSY) if it cannot."""
        self.advance(now)
        if self.jammed:
            return "JAM"
        if self.card is not None:
            return "BUSY"
        if self.stock <= 0:
            return "EMPTY"
        self._serial += 1
        self.card, self._since = f"{0x04A10000 + self._serial:08X}", now
        return None

    def jam(self, now: float) -> None:
        self.advance(now)
        self.jammed = True
        self.notices.append(Notice("JAM"))

    def reset(self, now: float) -> None:
        self.advance(now)
        if self.jammed and self.card is not None and not self.at_mouth:
            self.card = None  # the attendant pulled the stuck card out
        self.jammed = False

    def take(self, now: float) -> None:
        """Someone takes the card at the mouth now."""
        self.advance(now)
        if self.at_mouth:
            self.notices.append(Notice("TAKEN", card=self.card))
            self.card, self.at_mouth = None, False

    def advance(self, now: float) -> list[Notice]:
        """Run the mechanism up to ``now``; returns (and keeps in :attr:`notices`) what it would report."""
        start = len(self.notices)
        if self.card is not None and not self.jammed:
            if not self.at_mouth and now - self._since >= self.present_time_s:
                before = self.level()
                self.stock -= 1
                self.issued += 1
                self.at_mouth, self._since = True, self._since + self.present_time_s
                self.notices.append(Notice("PRESENTED", card=self.card))
                if self.level() is not before:
                    self.notices.append(Notice("STOCK", stock=self.level(), count=self.stock))
            if self.at_mouth and self.take_after_s is not None and now - self._since >= self.take_after_s:
                self.notices.append(Notice("TAKEN", card=self.card))
                self.card, self.at_mouth = None, False
            elif self.at_mouth and now - self._since >= self.recall_after_s:
                self.notices.append(Notice("RECALLED", card=self.card))
                self.recall_bin += 1
                self.card, self.at_mouth = None, False
        return self.notices[start:]


class DispenserSimulator:
    """The model behind the line protocol. Call :meth:`tick` often (the CLI and the fixture do, every 20 ms)."""

    def __init__(self, model: DispenserModel | None = None, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.model = model or DispenserModel()
        self.clock = clock
        self.server = LineDeviceServer(self.handle, DispenserProtocolError)
        self.history: list[tuple[float, Line]] = []
        self._task: asyncio.Task[None] | None = None

    def handle(self, line: Line) -> list[Line]:
        now = self.clock()
        self.history.append((now, line))
        if line.keyword == "ISSUE":
            refused = self.model.issue(now)
            return [Line(line.seq, "ERR", refused) if refused else Line(line.seq, "OK")]
        if line.keyword == "STATUS":
            self.model.advance(now)
            return [format_status(line.seq, self.model.status())]
        if line.keyword == "RESET":
            self.model.reset(now)
            return [Line(line.seq, "OK")]
        if line.keyword == "PING":
            return [Line(line.seq, "PONG", "ParkGate sim dispenser 1.0")]
        return [Line(line.seq, "ERR", f"UNKNOWN {line.keyword}")]

    def tick(self) -> None:
        """Advance the mechanism to now and send what it reports."""
        self.model.advance(self.clock())
        for notice in self.model.notices:
            self.server.broadcast(format_notice(notice))
        self.model.notices.clear()

    def jam(self) -> None:
        self.model.jam(self.clock())
        self.tick()

    async def start_ticking(self, interval: float = 0.02) -> None:
        async def loop() -> None:
            while True:
                self.tick()
                await asyncio.sleep(interval)

        self._task = asyncio.create_task(loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None
        await self.server.stop()


def _run(args: argparse.Namespace) -> int:
    if not (args.port or args.pty or args.tcp):
        print("parkgate sim dispenser: give --port, --pty or --tcp")
        return 2
    model = DispenserModel(stock=args.stock, low_threshold=args.low, take_after_s=args.take_after)
    sim = DispenserSimulator(model)
    asyncio.run(serve_line_device(args, sim.server, sim.tick))
    return 0


def register_sim(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("dispenser", help="temporary-card dispenser with a finite stack")
    add_line_device_arguments(parser)
    parser.add_argument("--stock", type=int, default=50, help="cards in the stack")
    parser.add_argument("--low", type=int, default=10, help="stock LOW at or below this many")
    parser.add_argument("--take-after", type=float, default=2.0, help="the simulated driver takes the card after N s")
    parser.set_defaults(handler=_run)
