"""The lane's say/show interface and the serial text display that implements it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from drivers.display.errors import (
    DisplayError,
    DisplayProtocolError,
    DisplayRefusedError,
    DisplayTimeoutError,
    DisplayTransportError,
)
from drivers.display.protocol import MAX_ROWS, Clear, Colour, DisplayCommand, Say, Show, command_line
from drivers.health import Health, HealthChange
from drivers.serial_line.line import Line
from drivers.serial_line.link import ErrorSet, LineClient, LineLinkConfig

_LOGGER = logging.getLogger(__name__)


class LaneDisplay(Protocol):
    """What a lane needs from a display and voice, whoever makes it."""

    async def show(self, lines: Sequence[str], *, colour: Colour = "green") -> None:
        """Show these lines (row 1 first); rows beyond them are cleared."""

    async def say(self, text: str) -> None:
        """Speak the text."""

    async def clear(self) -> None:
        """Blank the display."""


@dataclass(frozen=True, slots=True)
class DisplayFault:
    """The display reported a fault (``reason``), or cleared it (``reason`` None)."""

    device: str
    reason: str | None
    at: datetime


DisplayEvent = DisplayFault | HealthChange


@dataclass
class NullDisplay:
    """A lane without a display: remembers the last text, for the booth console, and does nothing else."""

    lines: list[str] = field(default_factory=list)
    spoken: list[str] = field(default_factory=list)

    async def show(self, lines: Sequence[str], *, colour: Colour = "green") -> None:
        self.lines = list(lines)

    async def say(self, text: str) -> None:
        self.spoken.append(text)

    async def clear(self) -> None:
        self.lines = []


class SerialTextDisplay(LineClient):
    """An LED text display (and voice module) speaking our line protocol on a serial port or serial server."""

    family = "display"
    errors = ErrorSet(
        DisplayError, DisplayProtocolError, DisplayTransportError, DisplayTimeoutError, DisplayRefusedError
    )

    def __init__(self, config: LineLinkConfig, **kwargs: Any) -> None:
        super().__init__(config, **kwargs)
        self._listeners: list[Callable[[DisplayEvent], None]] = []
        self.fault: str | None = None
        self._shown: tuple[list[str], Colour] | None = None  # restored after the display reboots or reconnects
        self._restore_task: asyncio.Task[None] | None = None

    def add_listener(self, listener: Callable[[DisplayEvent], None]) -> None:
        self._listeners.append(listener)

    def _emit(self, event: DisplayEvent) -> None:
        for listener in list(self._listeners):
            listener(event)

    def on_health(self, change: HealthChange) -> None:
        self._emit(change)

    def healthy_state(self) -> tuple[Health, str]:
        return (Health.FAULT, self.fault) if self.fault else (Health.ONLINE, "answering")

    def on_unsolicited(self, line: Line) -> None:
        if line.keyword == "FAULT":
            self.fault = line.rest or None
            self._emit(DisplayFault(self.name, self.fault, datetime.now(UTC)))
            self.health.set(*self.healthy_state())
        elif line.keyword == "READY" and self._connected.is_set():  # it rebooted: put the text back
            self._restore_task = asyncio.create_task(self._restore())

    async def on_connected(self) -> None:
        await self._restore()

    async def _restore(self) -> None:
        if not self._shown:
            return
        lines, colour = self._shown
        try:
            await self.show(lines, colour=colour)
        except DisplayError as err:
            _LOGGER.warning("%s: could not restore the text: %s", self.name, err)

    async def send(self, command: DisplayCommand) -> None:
        line = command_line(0, command)
        await self.request(line.keyword, line.rest)

    async def show(self, lines: Sequence[str], *, colour: Colour = "green") -> None:
        if len(lines) > MAX_ROWS:
            raise DisplayProtocolError(f"{len(lines)} lines, the display has {MAX_ROWS} rows", device=self.name)
        await self.clear()
        for row, text in enumerate(lines, start=1):
            await self.send(Show(row, colour, text))
        self._shown = (list(lines), colour)

    async def say(self, text: str) -> None:
        await self.send(Say(text))

    async def clear(self) -> None:
        await self.send(Clear())
        self._shown = None
