"""Frames in, JPEG out: the pure part of snapshots (no I/O), and the blocking capture the grabber runs in a thread."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import cv2

from drivers.snapshot.errors import SnapshotProtocolError, SnapshotTransportError

_LOGGER = logging.getLogger(__name__)
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp"})


def encode_jpeg(frame: Any, quality: int = 85, max_width: int | None = None) -> tuple[bytes, int, int]:
    """``(jpeg, width, height)`` of a BGR frame, scaled down to ``max_width`` if wider."""
    shape = getattr(frame, "shape", None)
    if shape is None or len(shape) < 2 or shape[0] == 0 or shape[1] == 0:
        raise SnapshotProtocolError("not an image frame")
    height, width = int(shape[0]), int(shape[1])
    if max_width is not None and width > max_width:
        height = max(1, round(height * max_width / width))
        width = max_width
        frame = cv2.resize(frame, (width, height), interpolation=cv2.INTER_AREA)
    ok, buffer = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, max(1, min(100, quality))])
    if not ok:
        raise SnapshotProtocolError("OpenCV could not encode the frame as JPEG")
    return bytes(buffer.tobytes()), width, height


def source_argument(source: str) -> str | int:
    """What ``cv2.VideoCapture`` takes: ``"0"`` -> camera index 0, ``v4l2:///dev/video0`` -> the device path,
    ``file:///x.mp4`` or ``file:x.mp4`` -> the path; ``rtsp://`` and ``http(s)://`` URLs as they are."""
    if source.isascii() and source.isdigit():
        return int(source)
    for scheme in ("v4l2://", "file://", "file:"):
        if source.startswith(scheme):
            return source[len(scheme) :]
    return source


def capture_frame(source: str, timeout: float, warmup_frames: int = 0) -> Any:
    """Open ``source``, read one frame (after ``warmup_frames``), close it. Blocking: run it in a thread.

    Still images are read with ``imread``; everything else (RTSP, HTTP, V4L2, video files) through
    ``VideoCapture`` with FFmpeg's open and read timeouts set, so a dead stream usually ends the thread on its own.
    """
    target = source_argument(source)
    if isinstance(target, str) and "://" not in target and Path(target).suffix.lower() in IMAGE_SUFFIXES:
        frame = cv2.imread(target, cv2.IMREAD_COLOR)
        if frame is None:
            raise SnapshotTransportError(f"cannot read image {source}")
        return frame
    milliseconds = max(1, int(timeout * 1000))
    params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, milliseconds, cv2.CAP_PROP_READ_TIMEOUT_MSEC, milliseconds]
    capture = cv2.VideoCapture(target, cv2.CAP_ANY, params)
    try:
        if not capture.isOpened():
            raise SnapshotTransportError(f"cannot open {source}")
        frame = None
        for _ in range(warmup_frames + 1):
            ok, frame = capture.read()
            if not ok:
                raise SnapshotTransportError(f"{source} opened but gave no frame")
        return frame
    finally:
        capture.release()
