"""The journal's writer thread with group commit: lanes await their commit without blocking the event loop.

Commits requested while the previous one is being written are gathered into one SQLite transaction (one fsync),
so 32 busy lanes cost a few fsyncs a second, not 32. Each lane still gets its own records back, in chain order.
Records no barrier waits for (close commands) are deferred: they ride with the next commit, or go within
``DEFER_S``, so they never queue in front of an opening.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence

from edge.lanes.actions import Draft
from edge.store.journal import Journal, JournalClosedError
from parking.wire import JournalRecord

_LOGGER = logging.getLogger(__name__)

_Request = tuple[Sequence[Draft], asyncio.AbstractEventLoop, "asyncio.Future[list[JournalRecord]]"]


class JournalWriter:
    MAX_GROUP = 256
    DEFER_S = 0.2  # deferred records wait at most this long for a commit to ride with

    def __init__(
        self, journal: Journal, on_commit: Callable[[float, int], None] | None = None, *, inline: bool = False
    ) -> None:
        self.journal = journal
        self.inline = inline
        self._busy = 0  # requests queued or being written by the thread
        self._queue: queue.Queue[_Request | None] = queue.Queue()
        self._on_commit = on_commit
        self._deferred: list[Draft] = []
        self._deferred_lock = threading.Lock()
        self._deferred_failing = False  # told once, not at every retry
        self._thread = threading.Thread(target=self._run, name="journal-writer", daemon=True)
        self._thread.start()

    async def commit(self, drafts: Sequence[Draft]) -> list[JournalRecord]:
        """Write ``drafts`` in one transaction (possibly shared with other lanes' commits); raises JournalError."""
        if self.inline and not self._busy:
            # Nothing queued: a thread hand-off would cost more than the commit itself.
            started = time.perf_counter()
            records = self.journal.commit(drafts)
            if self._on_commit is not None:
                self._on_commit(time.perf_counter() - started, len(drafts))
            return records
        loop = asyncio.get_running_loop()
        future: asyncio.Future[list[JournalRecord]] = loop.create_future()
        self._busy += 1
        self._queue.put((drafts, loop, future))
        try:
            return await future
        finally:
            self._busy -= 1

    def defer(self, drafts: Sequence[Draft]) -> None:
        """Records nothing waits for (a close command): written with the next commit, or within ``DEFER_S``."""
        with self._deferred_lock:
            self._deferred.extend(drafts)

    def stop(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while True:
            try:
                first = self._queue.get(timeout=self.DEFER_S)
            except queue.Empty:
                self._write([])  # only deferred records, if any
                continue
            if first is None:
                self._write([])
                return
            group = [first]
            stop = False
            while len(group) < self.MAX_GROUP:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stop = True
                    break
                group.append(item)
            self._write(group)
            if stop:
                return

    def _write(self, group: list[_Request]) -> None:
        with self._deferred_lock:
            deferred, self._deferred = self._deferred, []
        if not group and not deferred:
            return
        started = time.perf_counter()
        drafts = [*deferred, *(d for request in group for d in request[0])]
        try:
            records = self.journal.commit(drafts)
        except JournalClosedError as err:
            # Closed under a running writer (the owner closed the journal before stopping it): nothing can be
            # stored any more. Waiting lanes learn it; deferred records are named as unwritten, once, and dropped.
            if deferred:
                _LOGGER.error("journal closed before its writer stopped: %d deferred records not written (%s)",
                              len(deferred), ", ".join(sorted({d.kind.value for d in deferred})))  # fmt: skip
            for _, loop, future in group:
                loop.call_soon_threadsafe(_set_exception, future, err)
            return
        except Exception as err:
            if deferred:
                # Not lost: they go again with the next commit (a full disk refuses them now, not for ever). The
                # lanes' own records are tried alone, so deferred records can never keep an opening from its record.
                with self._deferred_lock:
                    self._deferred[:0] = deferred
                if not self._deferred_failing:
                    _LOGGER.warning("journal: %d deferred records kept for the next commit: %s", len(deferred), err)
                self._deferred_failing = True
                if group:
                    self._write_alone(group, started)
                return
            for _, loop, future in group:  # every waiting lane learns of the failure; none opens
                loop.call_soon_threadsafe(_set_exception, future, err)
            return
        self._deferred_failing = False
        self._settle(group, records, len(deferred), started, len(drafts))

    def _write_alone(self, group: list[_Request], started: float) -> None:
        drafts = [d for request in group for d in request[0]]
        try:
            records = self.journal.commit(drafts)
        except Exception as err:
            for _, loop, future in group:
                loop.call_soon_threadsafe(_set_exception, future, err)
            return
        self._settle(group, records, 0, started, len(drafts))

    def _settle(self, group: list[_Request], records: list[JournalRecord], offset: int, started: float,
                count: int) -> None:  # fmt: skip
        if self._on_commit is not None:
            self._on_commit(time.perf_counter() - started, count)
        for request_drafts, loop, future in group:
            mine = records[offset : offset + len(request_drafts)]
            offset += len(request_drafts)
            loop.call_soon_threadsafe(_set_result, future, mine)


def _set_result(future: asyncio.Future[list[JournalRecord]], value: list[JournalRecord]) -> None:
    if not future.done():
        future.set_result(value)


def _set_exception(future: asyncio.Future[list[JournalRecord]], err: Exception) -> None:
    if not future.done():
        future.set_exception(err)
