"""Evidence snapshots on demand, in bounded time.

OpenCV's capture calls block, sometimes far longer than a lane can wait (an RTSP camera that accepts the connection
and never sends a frame). Each grab runs in its own daemon thread and the caller waits at most ``timeout``; a grab
that overruns is reported as :class:`SnapshotTimeoutError` and left to finish in the background. While it is still
hung, further grabs of the same source fail at once instead of starting more threads, so a dead stream costs one
thread, not one per vehicle.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from prometheus_client import Counter, Histogram

from drivers.health import Health, HealthTracker
from drivers.snapshot.errors import SnapshotError, SnapshotTimeoutError
from drivers.snapshot.frames import capture_frame, encode_jpeg

_LOGGER = logging.getLogger(__name__)

FRAMES = Counter("parkgate_snapshot_frames_total", "Snapshots taken", ["device"])
ERRORS = Counter("parkgate_snapshot_errors_total", "Snapshots that failed", ["device", "kind"])
LATENCY = Histogram(
    "parkgate_snapshot_seconds", "Time to take one snapshot", ["device"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0),
)  # fmt: skip


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class SnapshotConfig:
    """A snapshot source: ``rtsp://``, ``http(s)://`` (MJPEG or a JPEG URL), ``v4l2:///dev/video0`` or a V4L2 index
    (``"0"``), ``file:`` or a plain path (video or still image). The site file's ``url`` goes here as it is."""

    name: str
    source: str
    timeout: float = 3.0
    jpeg_quality: int = 85
    max_width: int | None = 1920
    warmup_frames: int = 0


@dataclass(frozen=True, slots=True)
class Snapshot:
    camera: str
    jpeg: bytes
    width: int
    height: int
    at: datetime
    elapsed: float


class SnapshotGrabber:
    """Takes JPEG snapshots of one source; health follows the last grab."""

    def __init__(self, config: SnapshotConfig, *, clock: Callable[[], datetime] = _utcnow) -> None:
        self.config = config
        self.health = HealthTracker(config.name, reason="no snapshot yet")
        self._clock = clock
        self._worker: threading.Thread | None = None

    @property
    def hung(self) -> bool:
        """An earlier grab's thread is still blocked in OpenCV."""
        return self._worker is not None and self._worker.is_alive()

    async def grab(self) -> Snapshot:
        """One JPEG of the source, or :class:`SnapshotError` (timeout included) within ``timeout`` seconds."""
        cfg = self.config
        if self.hung:
            ERRORS.labels(cfg.name, "hung").inc()
            raise SnapshotTimeoutError("an earlier snapshot of this source is still hung; not starting another",
                                       device=cfg.name)  # fmt: skip
        loop = asyncio.get_running_loop()
        future: asyncio.Future[tuple[bytes, int, int]] = loop.create_future()
        started = time.perf_counter()

        def work() -> None:
            try:
                # FFmpeg's own timeouts a little past ours: the caller hears "timeout", then the thread ends by itself
                frame = capture_frame(cfg.source, cfg.timeout * 1.5, cfg.warmup_frames)
                result: Any = encode_jpeg(frame, cfg.jpeg_quality, cfg.max_width)
            except SnapshotError as err:
                result = err
            except Exception as err:  # OpenCV raises cv2.error and friends; report, never lose
                result = SnapshotError(f"capture failed: {err}", device=cfg.name)
            with contextlib.suppress(RuntimeError):  # the loop may be gone if the grab long timed out
                loop.call_soon_threadsafe(_settle, future, result)

        self._worker = threading.Thread(target=work, name=f"snapshot-{cfg.name}", daemon=True)
        self._worker.start()
        try:
            async with asyncio.timeout(cfg.timeout):
                jpeg, width, height = await asyncio.shield(future)
        except TimeoutError as err:
            future.add_done_callback(_discard)  # the late result, if any, is not wanted
            ERRORS.labels(cfg.name, "timeout").inc()
            self.health.set(Health.OFFLINE, f"no frame within {cfg.timeout:g} s")
            raise SnapshotTimeoutError(f"no frame from {cfg.source} within {cfg.timeout:g} s",
                                       device=cfg.name) from err  # fmt: skip
        except SnapshotError as err:
            ERRORS.labels(cfg.name, "transport").inc()
            self.health.set(Health.OFFLINE, str(err)[:200])
            if err.device is None:
                raise type(err)(str(err), device=cfg.name) from err
            raise
        elapsed = time.perf_counter() - started
        FRAMES.labels(cfg.name).inc()
        LATENCY.labels(cfg.name).observe(elapsed)
        self.health.set(Health.ONLINE, "snapshots working")
        return Snapshot(cfg.name, jpeg, width, height, self._clock(), elapsed)


def _settle(future: asyncio.Future[tuple[bytes, int, int]], result: Any) -> None:
    if future.done():
        return
    if isinstance(result, BaseException):
        future.set_exception(result)
    else:
        future.set_result(result)


def _discard(future: asyncio.Future[tuple[bytes, int, int]]) -> None:
    if not future.cancelled():
        future.exception()
