"""Evidence snapshots with OpenCV: one JPEG from RTSP/HTTP/V4L2/file on demand (or from a kept-open stream), in
bounded time."""

from drivers.snapshot.errors import SnapshotError, SnapshotProtocolError, SnapshotTimeoutError, SnapshotTransportError
from drivers.snapshot.grabber import Snapshot, SnapshotConfig, SnapshotGrabber
from drivers.snapshot.stream import SnapshotStream

__all__ = [
    "Snapshot",
    "SnapshotConfig",
    "SnapshotError",
    "SnapshotGrabber",
    "SnapshotProtocolError",
    "SnapshotStream",
    "SnapshotTimeoutError",
    "SnapshotTransportError",
]
