"""What every polled Modbus device shares: the poll loop, health from poll results, listeners, start/stop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from types import TracebackType
from typing import Self

from drivers.health import Health, HealthChange, HealthTracker
from drivers.modbus.bus import ModbusBus
from drivers.modbus.config import ModbusLink
from drivers.modbus.errors import ModbusError, ModbusExceptionResponseError, ModbusTimeoutError, ModbusTransportError
from drivers.modbus.events import ModbusEvent
from drivers.tasks import DriverTask

_LOGGER = logging.getLogger(__name__)

Listener = Callable[[ModbusEvent], None]


def utc_now() -> datetime:
    return datetime.now(UTC)


class PolledDevice:
    """Base of the Modbus device drivers: subclasses implement :meth:`_poll` and may override :meth:`_on_link_up`."""

    def __init__(
        self,
        name: str,
        link: ModbusLink,
        *,
        poll_interval_ms: int,
        offline_after_failures: int,
        bus: ModbusBus | None,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], datetime] = utc_now,
    ) -> None:
        self.name = name
        self._own_bus = bus is None
        self.bus = bus or ModbusBus(link, clock=clock)
        self.poll_interval = poll_interval_ms / 1000
        self.offline_after_failures = max(1, offline_after_failures)
        self.clock = clock
        self.wall = wall
        self.health = HealthTracker(name)
        self.health.listeners.append(self._emit_health)
        self._listeners: list[Listener] = []
        self._task = DriverTask(f"modbus-{self.name}")
        self._failures = 0
        self._link_fresh = True  # the next good poll follows a (re)connect: resync outputs, report all states
        # After a poll that reported a change, the next poll waits (briefly) for the command the change
        # may bring: on a half-duplex bus a poll started first would hold that command for a whole transaction.
        self._react_until: float | None = None
        self._commanded = asyncio.Event()

    # ------------------------------------------------------------------ events

    def add_listener(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener`` with every event (state changes and health changes); returns an unsubscribe function."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def emit(self, event: ModbusEvent) -> None:
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:
                _LOGGER.exception("%s: event listener failed", self.name)

    def _emit_health(self, change: HealthChange) -> None:
        self.emit(change)

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        self._task.start(self._run)

    async def stop(self) -> None:
        """Stop polling and close the bus it owns; the bus is closed even when this is cancelled while the poll
        task ends (a shutdown that gives up on a slow driver must not leave the client reconnecting forever)."""
        try:
            await self._task.stop()
        finally:
            if self._own_bus:
                self.bus.close()
            self.health.set(Health.OFFLINE, "stopped")

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    # ------------------------------------------------------------------ polling

    async def _poll(self, fresh: bool) -> None:
        """Read the device once and emit what changed (everything when ``fresh``)."""
        raise NotImplementedError

    async def _on_link_up(self) -> None:
        """Called before the first poll after a (re)connect."""

    def _on_link_down(self) -> None:
        """Called when the device goes offline: forget states so the next good poll reports them all."""

    def _healthy_state(self) -> tuple[Health, str]:
        return Health.ONLINE, "polling"

    # How long the poll after a change waits for the command it may bring: an edge's decision takes 2-4 ms; longer
    # would delay the next input read (the safety loop's included) for a command that is not coming.
    REACTION_WAIT_S = 0.008

    def _changed(self) -> None:
        """A poll reported a change: hold the next poll until a command is written or :attr:`REACTION_WAIT_S` (at
        most one interval) passes."""
        self._react_until = self.clock() + min(self.poll_interval, self.REACTION_WAIT_S)
        self._commanded.clear()

    def _command_written(self) -> None:
        """A command reached the device (or failed): the poll held for it may go."""
        self._commanded.set()

    async def _await_reaction(self) -> None:
        until, self._react_until = self._react_until, None
        if until is None or self._commanded.is_set():
            return
        remaining = until - self.clock()
        if remaining > 0:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(remaining):
                    await self._commanded.wait()

    async def _run(self) -> None:
        next_poll = self.clock()
        while True:
            await self._await_reaction()
            await self.poll_once()
            next_poll += self.poll_interval
            now = self.clock()
            if next_poll < now:  # late (a timeout, a slow bus): do not burst to catch up
                next_poll = now
            await asyncio.sleep(next_poll - now)

    async def poll_once(self) -> None:
        """One poll cycle with its health bookkeeping (the loop calls it; tests may too)."""
        try:
            if self._link_fresh:
                await self._on_link_up()
            await self._poll(self._link_fresh)
        except ModbusTransportError as err:
            self._failed(Health.OFFLINE, str(err))
        except ModbusTimeoutError as err:
            self._failures += 1
            offline = self._failures >= self.offline_after_failures
            self._failed(Health.OFFLINE if offline else Health.DEGRADED, str(err))
        except ModbusExceptionResponseError as err:
            self._failures += 1
            self.health.set(Health.DEGRADED, str(err))
        except ModbusError as err:
            self._failures += 1
            self.health.set(Health.DEGRADED, str(err))
        except Exception as err:  # a bug or a library surprise must not end the poll loop
            _LOGGER.exception("%s: unexpected error while polling", self.name)
            self._failures += 1
            self.health.set(Health.DEGRADED, f"internal error: {err!r}")
        else:
            self._failures = 0
            self._link_fresh = False
            self.health.set(*self._healthy_state())

    def _failed(self, health: Health, reason: str) -> None:
        if health is Health.OFFLINE and not self._link_fresh:
            self._link_fresh = True
            self._on_link_down()
        self.health.set(health, reason)
