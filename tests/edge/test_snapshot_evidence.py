"""A lane's snapshot camera supplies the evidence image: the exit camera's read brings no picture, so the lane's
``snapshot`` device (the OpenCV driver, reading a still image the test wrote, from a file or from the HTTP server
the test runs as the camera's picture URL) is asked for a frame, stored in the
journal's image folder under the name the lane's records give — the abnormal event of a vehicle without an entry
record and the collector's manual open — and the console serves it. OpenCV is not loaded by an edge without one."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import cv2
import numpy as np
import pytest
from aiohttp import web

from tests.edge.test_daemon import REPO, SimLane, daemon_for, free_port, online, push_json, sims, until, write_site

__all__ = ["sims"]  # fixture: the lanes' I/O modules
FLOAT = {10000: 2, 1000: 10, 100: 20}


def scene(path: Path) -> Path:
    """A 320×240 picture with a white rectangle on grey: what the exit's overview camera sees."""
    frame = np.full((240, 320, 3), 90, dtype=np.uint8)
    frame[80:160, 100:220] = 255
    assert cv2.imwrite(str(path), frame)
    return path


@pytest.fixture(params=["file", "http"])
async def source(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """The snapshot camera's URL: the picture as a file, or served over HTTP as a camera's snapshot URL does."""
    picture = scene(tmp_path / "overview.jpg")
    if request.param == "file":
        yield f"file:{picture}"
        return

    async def snapshot(_request: web.Request) -> web.Response:
        return web.Response(body=picture.read_bytes(), content_type="image/jpeg")

    app = web.Application()
    app.router.add_get("/ISAPI/Streaming/channels/101/picture", snapshot)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield f"http://127.0.0.1:{port}/ISAPI/Streaming/channels/101/picture"
    await runner.cleanup()


def evidence_of(daemon_rows: list[tuple[str]]) -> list[str | None]:
    return [json.loads(row[0]).get("evidence") for row in daemon_rows]


async def test_a_snapshot_camera_gives_the_exit_its_evidence_image(
    tmp_path: Path, sims: tuple[SimLane, SimLane], source: str
) -> None:
    entry, out = sims
    cameras = free_port()
    site_file = write_site(tmp_path, entry.port, out.port, None, cameras)
    text = site_file.read_text().replace('camera = "out-cam" }', 'camera = "out-cam", snapshot = "out-snap" }', 1)
    text += f'\n[devices.out-snap]\nkind = "snapshot_camera"\ndriver = "opencv"\n' \
            f'connection = {{ type = "url", url = "{source}", timeout_ms = 5000 }}\n'  # fmt: skip
    site_file.write_text(text)
    daemon = daemon_for(site_file)
    assert daemon.desk is not None
    await daemon.start()
    try:
        await until(lambda: online(daemon), what="devices online")
        await daemon.desk.open_shift("c01", FLOAT, 100, acknowledge_handover=False)
        await push_json(cameras, "粤B99999", 0.96)  # a JSON read without pictures, of a vehicle never seen entering
        out.drive_up()
        await until(lambda: daemon.journal.count("abnormal_events", "event = 'no_entry_record'") == 1,
                    what="the missing entry recorded")  # fmt: skip
        (name,) = evidence_of(daemon.journal.rows("SELECT payload FROM abnormal_events"))
        assert name is not None
        assert name.startswith("snapshots/")
        stored = daemon.journal.path.parent / "images" / name
        await until(stored.is_file, what="the snapshot stored")
        frame = cv2.imdecode(np.frombuffer(stored.read_bytes(), dtype=np.uint8), cv2.IMREAD_COLOR)
        assert frame is not None
        assert frame.shape == (240, 320, 3)
        assert frame[120, 160].mean() > 230  # the scene's white rectangle, through a JPEG
        assert frame[20, 20].mean() < 120
        assert daemon.desk.image_path(name) == stored.resolve()  # the console serves it

        await daemon.desk.manual_open("out-1", "c01", "无入场记录, 核实后放行")
        manual = daemon.journal.rows("SELECT payload FROM records WHERE kind = 'manual_action'")
        assert evidence_of(manual) == [name]  # the same vehicle's evidence
        await until(lambda: out.model.passed == 1, within=10, what="the vehicle let out")
    finally:
        await daemon.stop()
    health = daemon.metrics.exposition().decode()
    assert 'parkgate_edge_device_health{device="out-snap",state="online"} 1.0' in health


def test_an_edge_without_a_snapshot_camera_does_not_load_opencv() -> None:
    code = "import sys, edge.daemon, edge.cli; assert 'cv2' not in sys.modules, 'cv2 imported'"
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
