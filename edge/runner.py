"""Runs one lane: feeds it events with the time, carries out its actions in order against the lane's devices.

The runner is where "durability before motion" becomes real: a :class:`Commit` is awaited until the journal
returned, and if it fails nothing after it in the list is carried out (no opening without its record); the lane
hears of it (:class:`~edge.lanes.events.JournalFailed`), takes back what it did in memory, refuses the vehicle with
a message on the display and alerts the booth. The next vehicle tries again, so the lane recovers by itself once the
journal can store again (space freed on a full disk). Events for one lane are handled one at a time.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Protocol

from drivers.errors import DriverError
from edge.lanes.actions import (
    Alert,
    CloseBarrier,
    Commit,
    Decided,
    DispenseCard,
    Display,
    LaneAction,
    OpenBarrier,
    Passed,
    Released,
    TakeSnapshot,
    Voice,
)
from edge.lanes.events import BarrierCommandFailed, JournalFailed, LaneEvent
from edge.lanes.lane import Lane
from edge.store.journal import JournalError
from edge.store.writer import JournalWriter
from parking import clock

_LOGGER = logging.getLogger(__name__)


class LanePort(Protocol):
    """What a lane's devices can be asked to do (implemented over the drivers by :mod:`edge.devices.wiring`)."""

    async def open_barrier(self) -> None: ...

    async def close_barrier(self) -> None: ...

    async def show(self, lines: tuple[str, ...]) -> None: ...

    async def say(self, text: str) -> None: ...

    async def dispense_card(self) -> None: ...


class LaneObserver(Protocol):
    """Metrics and the booth console listen here."""

    def decided(self, lane: str, direction: str, outcome: str, identity: str, reason: str) -> None: ...

    def barrier_command(self, lane: str, command: str, latency_s: float | None) -> None: ...

    def alert(self, lane: str, alert: Alert) -> None: ...


class LaneListener(Protocol):
    """Told what happened to the vehicles in a lane, one typed callback a happening (the booth desk listens)."""

    def released(self, lane: str, release: Released) -> None:
        """An exit lane let a vehicle go (its transaction committed, the barrier about to open)."""
        ...

    def passed(self, lane: str, session: str | None) -> None:
        """The vehicle of the lane's opening crossed the barrier line."""
        ...

    def alerted(self, lane: str, alert: Alert) -> None:
        """The lane wants the booth to know (a stopped card, a blacklisted vehicle, a fault)."""
        ...


def utc_now() -> datetime:
    """The lanes' default clock: real time, or the accelerated clock of a simulated run (:mod:`parking.clock`)."""
    return clock.now()


class LaneRunner:
    def __init__(
        self,
        lane: Lane,
        writer: JournalWriter,
        port: LanePort,
        observer: LaneObserver,
        clock: Callable[[], datetime] = utc_now,
        listeners: Sequence[LaneListener] = (),
        snapshots: Callable[[str], Awaitable[None]] | None = None,
    ) -> None:
        self.lane = lane
        self.snapshots = snapshots  # takes the lane's snapshot camera's frame and stores it under the given name
        self.listeners = list(listeners)
        self.writer = writer
        self.port = port
        self.observer = observer
        self.clock = clock
        self.out_of_service: str | None = None
        self.journal_failing: str | None = None  # the last urgent commit's error, until one is stored again
        self._lock = asyncio.Lock()
        self._side_tasks: set[asyncio.Task[None]] = set()
        self.inbox: asyncio.Queue[tuple[LaneEvent, float]] = asyncio.Queue()
        self.draining = False

    def submit(self, event: LaneEvent, received: float) -> None:
        """Queue an event from a driver callback; :meth:`serve` handles them in arrival order."""
        self.inbox.put_nowait((event, received))

    async def serve(self) -> None:
        """Handle queued events until cancelled. While draining, an idle lane takes no new vehicle."""
        while True:
            event, received = await self.inbox.get()
            if self.draining and not self.lane.busy:
                continue
            try:
                await self.feed(event, received)
            except Exception:
                _LOGGER.exception("lane %s: event %r failed", self.lane.id, event)

    async def feed(self, event: LaneEvent, received: float | None = None) -> list[LaneAction]:
        """Handle one event; ``received`` is the ``perf_counter()`` when it left the driver (for latency)."""
        received = time.perf_counter() if received is None else received
        async with self._lock:
            if self.out_of_service is not None:
                return []
            actions = self.lane.handle(event, self.clock())
            return await self._execute(actions, received)

    async def _execute(self, actions: list[LaneAction], received: float) -> list[LaneAction]:
        """Carry out ``actions`` in order; returns them, or, when a commit failed, those before it and the lane's
        answer to the failure (so a caller never takes a record for stored that is not). The decisions are counted
        and logged last, once the barrier has its command: a log line is no reason for a vehicle to wait."""
        decided: list[Decided] = []
        try:
            return await self._carry_out(actions, received, decided)
        finally:
            for action in decided:
                self.observer.decided(self.lane.id, self.lane.direction, action.outcome, action.identity, action.reason)
                _LOGGER.info(
                    "lane %s: %s (%s): %s", self.lane.id, action.outcome, action.identity, action.reason,
                    extra={"lane": self.lane.id, "outcome": action.outcome, "identity": action.identity},
                )  # fmt: skip

    async def _carry_out(self, actions: list[LaneAction], received: float, decided: list[Decided]) -> list[LaneAction]:
        lane = self.lane
        for index, action in enumerate(actions):
            if isinstance(action, Commit):
                if not action.urgent:
                    self.writer.defer(action.drafts)
                    continue
                try:
                    await self.writer.commit(action.drafts)
                except JournalError as err:
                    return actions[:index] + await self._journal_failed(err, received)
                if self.journal_failing is not None:
                    _LOGGER.warning("lane %s: the journal stores records again", lane.id)
                    self.journal_failing = None
            elif isinstance(action, OpenBarrier):
                try:
                    await self.port.open_barrier()
                except DriverError as err:  # the lane hears it (and undoes the opening); nothing after it is done
                    await self._barrier_failed("open", err, received)
                    return actions
                self.observer.barrier_command(lane.id, "open", time.perf_counter() - received)
            elif isinstance(action, CloseBarrier):
                try:
                    await self.port.close_barrier()
                except DriverError as err:
                    await self._barrier_failed("close", err, received)
                    continue
                self.observer.barrier_command(lane.id, "close", None)
            elif isinstance(action, Display):
                self._side(self.port.show(action.lines))
            elif isinstance(action, Voice):
                self._side(self.port.say(action.text))
            elif isinstance(action, DispenseCard):
                self._side(self.port.dispense_card())
            elif isinstance(action, TakeSnapshot) and self.snapshots is not None:
                self._side(self.snapshots(action.image))
            elif isinstance(action, Released | Passed | Alert):
                self._tell(action)
            elif isinstance(action, Decided):
                decided.append(action)
        return actions

    async def _journal_failed(self, err: JournalError, received: float) -> list[LaneAction]:
        if self.journal_failing is None:
            _LOGGER.error("lane %s: the journal cannot store records; vehicles are held: %s", self.lane.id, err)
        self.journal_failing = str(err)
        answer = self.lane.handle(JournalFailed(str(err)), self.clock())
        assert not any(isinstance(a, Commit) for a in answer)  # nothing to store: it could not be
        await self._execute(answer, received)
        return answer

    def _tell(self, happening: Released | Passed | Alert) -> None:
        """The lane's listeners, by their typed callback for what happened in the lane (an alert to metrics too)."""
        if isinstance(happening, Alert):
            self.observer.alert(self.lane.id, happening)
        for listener in self.listeners:
            if isinstance(happening, Released):
                listener.released(self.lane.id, happening)
            elif isinstance(happening, Passed):
                listener.passed(self.lane.id, happening.session)
            else:
                listener.alerted(self.lane.id, happening)

    async def _barrier_failed(self, command: str, err: DriverError, received: float) -> None:
        """A barrier command the driver could not carry out becomes a lane event (and so a lane alert)."""
        _LOGGER.error("lane %s: barrier %s failed: %s", self.lane.id, command, err)
        await self._execute(self.lane.handle(BarrierCommandFailed(command, str(err)), self.clock()), received)

    def _side(self, work: Awaitable[None]) -> None:
        """Displays, voice and the dispenser never hold up the barrier: run them beside the lane."""

        async def run() -> None:
            try:
                await work
            except Exception:
                _LOGGER.warning("lane %s: device action failed", self.lane.id, exc_info=True)

        task = asyncio.ensure_future(run())
        self._side_tasks.add(task)
        task.add_done_callback(self._side_tasks.discard)

    SIDE_DRAIN_S = 5.0  # what a display, voice or snapshot still under way at shutdown is given to finish

    async def drain(self) -> None:
        """Let the side actions under way finish, for at most :attr:`SIDE_DRAIN_S`; the rest are cancelled (a device
        that stopped answering must not hold the edge's shutdown)."""
        if not self._side_tasks:
            return
        pending = list(self._side_tasks)
        _, late = await asyncio.wait(pending, timeout=self.SIDE_DRAIN_S)
        if late:
            _LOGGER.warning("lane %s: %d device action(s) still under way after %.0f s at shutdown: cancelled",
                            self.lane.id, len(late), self.SIDE_DRAIN_S)  # fmt: skip
            for task in late:
                task.cancel()
            await asyncio.wait(late, timeout=1.0)
