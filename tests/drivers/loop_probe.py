"""How long the event loop went without giving a waiting coroutine its turn (what another lane's decision waits).

A coroutine asks to run every ``period``; for each turn it records the wall-clock lateness and the CPU time the
loop's thread spent meanwhile. Lateness alone also counts the time the operating system gave the CPU to other
processes (the test machines are shared); the CPU time is what our own code held the loop for.
"""

from __future__ import annotations

import asyncio
import gc
import time


class LoopProbe:
    """Run as a task between :meth:`start` and :meth:`stop`; then read :attr:`worst_late` and :attr:`worst_busy`.

    While it runs, the objects that existed at :meth:`start` (the test process's imports: pytest, Hypothesis, OpenCV,
    SQLAlchemy... far more than an edge holds) are frozen out of the garbage collector, so a full collection costs
    what it would cost the edge, not the test runner. :attr:`worst_gc` is the longest collection seen.
    """

    def __init__(self, period: float = 0.005) -> None:
        self.period = period
        self.worst_late = 0.0  # seconds later than asked, at worst
        self.worst_busy = 0.0  # CPU seconds the loop's thread spent in one such gap, at worst
        self.turns = 0
        self.worst_gc = 0.0
        self._gc_started = 0.0
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        gc.collect()
        gc.freeze()
        gc.callbacks.append(self._on_gc)
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            await self._task
            self._task = None
            gc.callbacks.remove(self._on_gc)
            gc.unfreeze()

    def _on_gc(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._gc_started = time.perf_counter()
        else:
            self.worst_gc = max(self.worst_gc, time.perf_counter() - self._gc_started)

    async def _run(self) -> None:
        while not self._stop.is_set():
            wall, cpu = time.perf_counter(), time.thread_time()
            await asyncio.sleep(self.period)
            self.worst_late = max(self.worst_late, time.perf_counter() - wall - self.period)
            self.worst_busy = max(self.worst_busy, time.thread_time() - cpu)
            self.turns += 1
