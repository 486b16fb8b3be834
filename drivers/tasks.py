"""A driver's background task: started once, cancelled and awaited on stop (every transport has one)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine
from typing import Any


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

    async def stop(self) -> None:
        """Cancel the task and wait until it has ended (nothing to do when it does not run)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
