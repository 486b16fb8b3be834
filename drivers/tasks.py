"""A driver's background task: started once, cancelled and awaited on stop (every transport has one)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from typing import Any

_LOGGER = logging.getLogger(__name__)


async def cancel_and_wait(task: asyncio.Future[Any]) -> None:
    """Cancel ``task`` and wait until it has ended, without swallowing a cancellation of the caller: the common
    ``task.cancel(); with suppress(CancelledError): await task`` also suppresses the CancelledError meant for the task
    that awaits, which then runs on (a shutdown that gives up on it waits for ever)."""
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        current = asyncio.current_task()
        if current is not None and current.cancelling():
            raise


class DriverTask:
    """The one task a transport runs (its connect-and-serve loop); :meth:`start` twice runs it once."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        return self._task is not None

    def start(self, work: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Run ``work()`` in a task named after the driver, unless it runs already."""
        if self._task is None:
            self._task = asyncio.create_task(work(), name=self.name)

    async def stop(self, within_s: float = 5.0) -> None:
        """Cancel the task and wait until it has ended, at most ``within_s`` (a library that swallows the
        cancellation, as a client in its reconnect wait may, must not hold up a shutdown); nothing to do when it
        does not run."""
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        done, _ = await asyncio.wait({task}, timeout=within_s)
        if not done:
            _LOGGER.warning("%s: its task did not end within %.0f s of being cancelled", self.name, within_s)
            return
        with contextlib.suppress(asyncio.CancelledError):
            task.result()
