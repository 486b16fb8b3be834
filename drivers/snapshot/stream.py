"""A kept-open stream for lanes that want the frame of *now*: one reader thread keeps the latest frame.

Opening an RTSP stream per snapshot costs 0.5-2 s on real cameras; a lane that photographs every vehicle keeps the
stream open instead. The thread reads continuously (file sources are paced at their frame rate), reopens with
backoff when the stream drops, and :meth:`SnapshotStream.grab` encodes the latest frame if it is fresh enough, or
says the stream is stale. One thread per stream, whatever the number of grabs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import cv2

from drivers.health import Backoff, Health, HealthTracker
from drivers.snapshot.errors import SnapshotTimeoutError
from drivers.snapshot.frames import encode_jpeg, source_argument
from drivers.snapshot.grabber import ERRORS, FRAMES, LATENCY, Snapshot, SnapshotConfig

_LOGGER = logging.getLogger(__name__)


def _utcnow() -> datetime:
    return datetime.now(UTC)


class SnapshotStream:
    """Keeps ``config.source`` open; ``max_age`` is how old the latest frame may be for :meth:`grab`."""

    def __init__(
        self, config: SnapshotConfig, *, max_age: float = 1.0, clock: Callable[[], datetime] = _utcnow
    ) -> None:  # fmt: skip
        self.config = config
        self.max_age = max_age
        self.health = HealthTracker(config.name, reason="stream not started")
        self._clock = clock
        self._lock = threading.Lock()
        self._frame: Any = None
        self._frame_at = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.reopens = 0

    async def start(self) -> None:
        if self._thread is None:
            self._loop = asyncio.get_running_loop()
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name=f"stream-{self.config.name}", daemon=True)
            self._thread.start()

    async def stop(self) -> None:
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            await asyncio.to_thread(thread.join, self.config.timeout * 2)
        self.health.set(Health.OFFLINE, "stream stopped")

    async def __aenter__(self) -> SnapshotStream:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def grab(self) -> Snapshot:
        """The latest frame as JPEG, if younger than ``max_age``; else :class:`SnapshotTimeoutError` (stale)."""
        started = time.perf_counter()
        with self._lock:
            frame, frame_at = self._frame, self._frame_at
        age = time.monotonic() - frame_at
        if frame is None or age > self.max_age:
            ERRORS.labels(self.config.name, "stale").inc()
            shown = "no frame yet" if frame is None else f"latest frame is {age:.1f} s old"
            raise SnapshotTimeoutError(f"stream {self.config.source}: {shown}", device=self.config.name)
        jpeg, width, height = await asyncio.to_thread(
            encode_jpeg, frame, self.config.jpeg_quality, self.config.max_width
        )
        elapsed = time.perf_counter() - started
        FRAMES.labels(self.config.name).inc()
        LATENCY.labels(self.config.name).observe(elapsed)
        return Snapshot(self.config.name, jpeg, width, height, self._clock(), elapsed)

    # ------------------------------------------------------------------ the reader thread

    def _set_health(self, health: Health, reason: str) -> None:
        loop = self._loop
        if loop is not None:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self.health.set, health, reason)

    def _run(self) -> None:
        cfg = self.config
        backoff = Backoff(initial=0.2, maximum=5.0)
        milliseconds = max(1, int(cfg.timeout * 1000))
        params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, milliseconds, cv2.CAP_PROP_READ_TIMEOUT_MSEC, milliseconds]
        while not self._stop.is_set():
            capture = cv2.VideoCapture(source_argument(cfg.source), cv2.CAP_ANY, params)
            try:
                if not capture.isOpened():
                    self._set_health(Health.OFFLINE, f"cannot open {cfg.source}")
                else:
                    self.reopens += 1
                    fps = capture.get(cv2.CAP_PROP_FPS) or 0.0
                    target = source_argument(cfg.source)
                    live = not isinstance(target, str) or "://" in target or target.startswith("/dev/")
                    pace = 0.0 if live or not 0 < fps < 200 else 1.0 / fps  # files play in real time
                    self._read_frames(capture, pace, backoff)
            finally:
                capture.release()
            if not self._stop.is_set():
                ERRORS.labels(cfg.name, "reopen").inc()
                self._stop.wait(backoff.next_delay())

    def _read_frames(self, capture: Any, pace: float, backoff: Backoff) -> None:
        while not self._stop.is_set():
            ok, frame = capture.read()
            if not ok:
                self._set_health(Health.OFFLINE, f"{self.config.source}: stream ended or stalled")
                return
            with self._lock:
                self._frame, self._frame_at = frame, time.monotonic()
            if self.health.health is not Health.ONLINE:
                backoff.reset()
                self._set_health(Health.ONLINE, "streaming")
            if pace:
                self._stop.wait(pace)
