"""Evidence snapshots: from an image and a video file, errors, and a dead HTTP stream that must not stall a lane."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from drivers.health import Health
from drivers.snapshot import (
    SnapshotConfig,
    SnapshotGrabber,
    SnapshotProtocolError,
    SnapshotStream,
    SnapshotTimeoutError,
    SnapshotTransportError,
)
from drivers.snapshot.frames import encode_jpeg, source_argument
from simulators.camera import render_vehicle


@pytest.fixture
def video(tmp_path: Path) -> Path:
    path = tmp_path / "lane.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), 10, (320, 240))
    assert writer.isOpened()
    for n in range(5):
        frame = np.full((240, 320, 3), 40 * n, np.uint8)
        cv2.putText(frame, f"frame {n}", (40, 120), cv2.FONT_HERSHEY_SIMPLEX, 1, (0, 0, 255), 2)
        writer.write(frame)
    writer.release()
    return path


@pytest.fixture
def dead_http() -> Iterator[str]:
    """An HTTP 'camera' that accepts connections and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}/ISAPI/Streaming/channels/101/picture"
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    server.close()


def test_site_file_urls() -> None:
    assert source_argument("v4l2:///dev/video0") == "/dev/video0"
    assert source_argument("file:///srv/lane.mp4") == "/srv/lane.mp4"
    assert source_argument("file:lane.mp4") == "lane.mp4"
    assert source_argument("0") == 0
    assert source_argument("rtsp://192.0.2.31/Streaming/Channels/102") == "rtsp://192.0.2.31/Streaming/Channels/102"


def test_encode_jpeg_scales_down() -> None:
    frame = np.zeros((1080, 3840, 3), np.uint8)
    jpeg, width, height = encode_jpeg(frame, 80, max_width=1920)
    assert (width, height) == (1920, 540)
    decoded = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert decoded is not None
    assert decoded.shape == (540, 1920, 3)
    with pytest.raises(SnapshotProtocolError):
        encode_jpeg(np.zeros((0, 0, 3), np.uint8))
    with pytest.raises(SnapshotProtocolError):
        encode_jpeg("not a frame")


async def test_snapshot_from_still_image(tmp_path: Path) -> None:
    path = tmp_path / "scene.jpg"
    path.write_bytes(render_vehicle("粤B3R7K2"))
    grabber = SnapshotGrabber(SnapshotConfig("entry-1-cam", str(path), timeout=2))
    shot = await grabber.grab()
    assert (shot.camera, shot.width, shot.height) == ("entry-1-cam", 960, 540)
    assert shot.jpeg.startswith(b"\xff\xd8")
    assert shot.at.tzinfo is not None
    assert grabber.health.health is Health.ONLINE


async def test_snapshot_from_video_file(video: Path) -> None:
    grabber = SnapshotGrabber(SnapshotConfig("cam", f"file://{video}", timeout=3, warmup_frames=2))  # site file URL
    shot = await grabber.grab()
    frame = cv2.imdecode(np.frombuffer(shot.jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert frame is not None
    assert frame.shape == (240, 320, 3)
    assert 60 < frame[5, 5].mean() < 100  # the third frame (grey level 80), after two warm-up frames


async def test_missing_source_is_a_transport_error(tmp_path: Path) -> None:
    grabber = SnapshotGrabber(SnapshotConfig("cam", str(tmp_path / "nothing.mp4"), timeout=2))
    with pytest.raises(SnapshotTransportError):
        await grabber.grab()
    assert grabber.health.health is Health.OFFLINE


async def test_dead_stream_times_out(dead_http: str) -> None:
    grabber = SnapshotGrabber(SnapshotConfig("dead-cam", dead_http, timeout=0.5))
    started = time.monotonic()
    with pytest.raises(SnapshotTimeoutError, match=r"within 0\.5 s"):
        await grabber.grab()
    assert time.monotonic() - started < 0.9  # the lane waited its timeout, no more
    assert grabber.health.health is Health.OFFLINE
    for _ in range(100):  # FFmpeg's own open timeout (set to the same 0.5 s) ends the thread soon after
        if not grabber.hung:
            break
        await asyncio.sleep(0.05)
    assert not grabber.hung


async def test_a_hung_capture_is_not_joined_by_more_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    release = threading.Event()

    def blocked(source: str, timeout: float, warmup_frames: int = 0) -> object:
        release.wait(10)  # an OpenCV call that ignores its timeouts
        return np.zeros((10, 10, 3), np.uint8)

    monkeypatch.setattr("drivers.snapshot.grabber.capture_frame", blocked)
    grabber = SnapshotGrabber(SnapshotConfig("stuck-cam", "rtsp://192.0.2.1/stream", timeout=0.2))
    with pytest.raises(SnapshotTimeoutError):
        await grabber.grab()
    threads = threading.active_count()
    for _ in range(5):
        quick = time.monotonic()
        with pytest.raises(SnapshotTimeoutError, match="still hung"):
            await grabber.grab()
        assert time.monotonic() - quick < 0.05
    assert threading.active_count() == threads
    release.set()
    for _ in range(100):
        if not grabber.hung:
            break
        await asyncio.sleep(0.01)
    shot = await grabber.grab()  # the source works again: so does the grabber
    assert shot.width == 10
    assert grabber.health.health is Health.ONLINE


async def test_kept_open_stream_gives_fresh_frames_and_says_when_stale(video: Path) -> None:
    # The 5-frame file plays at 10 fps, ends, and is reopened: frames keep coming, one reader thread throughout.
    stream = SnapshotStream(SnapshotConfig("lane-cam", str(video), timeout=1), max_age=0.5)
    with pytest.raises(SnapshotTimeoutError, match="no frame yet"):
        await stream.grab()
    async with stream:
        for _ in range(100):
            if stream.health.health is Health.ONLINE:
                break
            await asyncio.sleep(0.02)
        shots = []
        for _ in range(8):
            shots.append(await stream.grab())
            await asyncio.sleep(0.1)
        assert [t.name for t in threading.enumerate() if t.name.startswith("stream-")] == ["stream-lane-cam"]
        assert stream.reopens >= 2  # the file ended at least once and was reopened
    assert all(s.width == 320 and s.height == 240 for s in shots)
    await asyncio.sleep(0.6)
    with pytest.raises(SnapshotTimeoutError, match="old"):
        await stream.grab()


def test_a_source_in_other_digits_is_a_path_not_a_crash() -> None:
    assert source_argument("0") == 0
    assert source_argument("²") == "²"  # "²".isdigit() is true, int("²") raises
