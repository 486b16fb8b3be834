"""Evidence snapshots with OpenCV: one JPEG from RTSP/HTTP/V4L2/file on demand, in bounded time."""

from drivers.snapshot.errors import SnapshotError, SnapshotProtocolError, SnapshotTimeoutError, SnapshotTransportError
from drivers.snapshot.grabber import Snapshot, SnapshotConfig, SnapshotGrabber

__all__ = [
    "Snapshot",
    "SnapshotConfig",
    "SnapshotError",
    "SnapshotGrabber",
    "SnapshotProtocolError",
    "SnapshotTimeoutError",
    "SnapshotTransportError",
]
