"""The temporary-card dispenser interface and the driver for our serial line protocol.

The counts (cards presented, taken, recalled) feed the shift's temporary-card tally: the edge adds each
:class:`CardTaken` to the shift, and reconciles the dispenser's own stock count at handover.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from drivers.dispenser.errors import (
    DispenserError,
    DispenserProtocolError,
    DispenserRefusedError,
    DispenserTimeoutError,
    DispenserTransportError,
)
from drivers.dispenser.protocol import DispenserStatus, Notice, StockLevel, parse_notice, parse_status
from drivers.health import Health, HealthChange
from drivers.serial_line.line import Line
from drivers.serial_line.link import ErrorSet, LineClient, LineLinkConfig

_LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class CardPresented:
    device: str
    card: str | None
    at: datetime
    mono: float


@dataclass(frozen=True, slots=True)
class CardTaken:
    device: str
    card: str | None
    at: datetime
    mono: float


@dataclass(frozen=True, slots=True)
class CardRecalled:
    """Not taken in time: the card went back into the dispenser's recall bin."""

    device: str
    card: str | None
    at: datetime
    mono: float


@dataclass(frozen=True, slots=True)
class StockChanged:
    device: str
    stock: StockLevel
    count: int | None
    at: datetime


@dataclass(frozen=True, slots=True)
class Jammed:
    device: str
    jammed: bool  # False when a RESET cleared it
    at: datetime


DispenserEvent = CardPresented | CardTaken | CardRecalled | StockChanged | Jammed | HealthChange


@dataclass(frozen=True, slots=True)
class DispenserTally:
    """Cards presented, taken and recalled since the driver started (or the last :meth:`take_tally`)."""

    presented: int = 0
    taken: int = 0
    recalled: int = 0


class CardDispenser(Protocol):
    """What an entry lane needs from a card dispenser, whoever makes it."""

    async def issue(self) -> None:
        """Present one card; raises the family's refused error (EMPTY, JAM, BUSY) if it cannot."""

    async def status(self) -> DispenserStatus: ...

    @property
    def tally(self) -> DispenserTally: ...

    def add_listener(self, listener: Callable[[DispenserEvent], None]) -> None: ...


class SerialCardDispenser(LineClient):
    """A dispenser speaking our line protocol on a serial port or serial server."""

    family = "dispenser"
    errors = ErrorSet(
        DispenserError, DispenserProtocolError, DispenserTransportError, DispenserTimeoutError, DispenserRefusedError
    )

    def __init__(self, config: LineLinkConfig, **kwargs: Any) -> None:
        super().__init__(config, **kwargs)
        self._listeners: list[Callable[[DispenserEvent], None]] = []
        self._tally = DispenserTally()
        self.last_status: DispenserStatus | None = None

    @property
    def tally(self) -> DispenserTally:
        return self._tally

    def take_tally(self) -> DispenserTally:
        """The tally so far, and start a new one (at a shift change)."""
        tally, self._tally = self._tally, DispenserTally()
        return tally

    def add_listener(self, listener: Callable[[DispenserEvent], None]) -> None:
        self._listeners.append(listener)

    def _emit(self, event: DispenserEvent) -> None:
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:
                _LOGGER.exception("%s: listener failed", self.name)

    def on_health(self, change: HealthChange) -> None:
        self._emit(change)

    def healthy_state(self) -> tuple[Health, str]:
        status = self.last_status
        if status is not None and status.jammed:
            return Health.FAULT, "card jam"
        if status is not None and status.stock is StockLevel.EMPTY:
            return Health.FAULT, "out of cards"
        return Health.ONLINE, "answering"

    async def on_connected(self) -> None:
        await self.status()

    def _update(self, **changes: Any) -> None:
        base = self.last_status or DispenserStatus(StockLevel.OK, None, False, False)
        self.last_status = dataclasses.replace(base, **changes)
        if self.health.health is not Health.OFFLINE:
            self.health.set(*self.healthy_state())

    def on_unsolicited(self, line: Line) -> None:
        try:
            notice = parse_notice(line)
        except DispenserProtocolError as err:
            _LOGGER.warning("%s: %s", self.name, err)
            return
        self._notice(notice)

    def _notice(self, notice: Notice) -> None:
        at, mono, t = datetime.now(UTC), self.clock(), self._tally
        if notice.kind == "PRESENTED":
            self._tally = DispenserTally(t.presented + 1, t.taken, t.recalled)
            self._update(card_at_mouth=True)
            self._emit(CardPresented(self.name, notice.card, at, mono))
        elif notice.kind == "TAKEN":
            self._tally = DispenserTally(t.presented, t.taken + 1, t.recalled)
            self._update(card_at_mouth=False)
            self._emit(CardTaken(self.name, notice.card, at, mono))
        elif notice.kind == "RECALLED":
            self._tally = DispenserTally(t.presented, t.taken, t.recalled + 1)
            self._update(card_at_mouth=False)
            self._emit(CardRecalled(self.name, notice.card, at, mono))
        elif notice.kind == "STOCK" and notice.stock is not None:
            self._update(stock=notice.stock, count=notice.count)
            self._emit(StockChanged(self.name, notice.stock, notice.count, at))
        elif notice.kind == "JAM":
            self._update(jammed=True)
            self._emit(Jammed(self.name, True, at))

    async def issue(self) -> None:
        await self.request("ISSUE")

    async def status(self) -> DispenserStatus:
        status = parse_status(await self.request("STATUS"))
        was_jammed = self.last_status is not None and self.last_status.jammed
        self.last_status = status
        self.health.set(*self.healthy_state())
        if was_jammed and not status.jammed:
            self._emit(Jammed(self.name, False, datetime.now(UTC)))
        return status

    async def reset(self) -> None:
        """Clear a jam (after the attendant removed the card)."""
        await self.request("RESET")
        await self.status()
