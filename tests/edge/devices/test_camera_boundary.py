"""The edge's input boundary with its cameras, through the real daemon and listener: a read with an unbounded plate is
refused, counted and never stored (not even after a restart); a camera's addresses and credentials from the site
file are enforced, and refused pushes never reach a lane."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from drivers.lpr import encode_isapi_xml
from drivers.lpr.metrics import REFUSED, REJECTED
from edge.devices.cameras import SiteCameras
from edge.lanes.events import LaneEvent, PlateSeen
from edge.site import Device
from simulators.camera import CameraSim
from tests.edge.test_daemon import SimLane, daemon_for, free_port, online, start_sim, until, write_site

HUGE = "粤" * 20_000


@pytest.fixture
async def sims() -> AsyncIterator[tuple[SimLane, SimLane]]:
    entry, out = await start_sim(), await start_sim()
    yield entry, out
    await entry.serving.stop()
    await out.serving.stop()


async def push(port: int, plate: str) -> httpx.Response:
    xml = encode_isapi_xml(plate=plate, confidence=97, at=datetime.now(UTC), event_id=uuid.uuid4().hex)
    async with httpx.AsyncClient() as client:
        return await client.post(f"http://127.0.0.1:{port}/isapi/in", content=xml,
                                 headers={"Content-Type": "application/xml"})  # fmt: skip


async def test_a_20000_character_plate_is_refused_counted_and_never_stored(
    tmp_path: Path, sims: tuple[SimLane, SimLane]
) -> None:
    entry, out = sims
    cameras = free_port()
    site_file = write_site(tmp_path, entry.port, out.port, None, cameras)
    rejected = REJECTED.labels("in-cam", "plate-too-long")
    before = rejected._value.get()
    daemon = daemon_for(site_file)
    await daemon.start()
    try:
        await until(lambda: online(daemon), what="devices online")
        response = await push(cameras, HUGE)
        assert response.status_code == 400
        assert "field 'licensePlate' is 20000 characters" in response.text
        assert len(response.text) < 400
        assert rejected._value.get() == before + 1
        async with httpx.AsyncClient() as client:
            metrics = (await client.get(f"http://127.0.0.1:{daemon.metrics_port}/metrics")).text
        assert 'parkgate_lpr_rejected_total{device="in-cam",reason="plate-too-long"}' in metrics
        assert (await push(cameras, "粤B3R7K2")).status_code == 200  # the lane goes on with the next real read
        entry.drive_up()
        await until(lambda: entry.model.passed == 1, what="vehicle through the entry")
        await until(lambda: len(daemon.park.sessions) == 1, what="the session")
        assert [s.plate for s in daemon.park.sessions.values()] == ["粤B3R7K2"]
        rows = daemon.journal.rows("SELECT payload FROM records")
        assert rows
        assert all("粤粤粤" not in str(row) for row in rows)
    finally:
        await daemon.stop()
    restarted = daemon_for(site_file)  # what a restart loads is bounded too
    assert [s.plate for s in restarted.park.sessions.values()] == ["粤B3R7K2"]
    restarted.journal.close()


def camera_device(port: int, **connection: object) -> Device:
    return Device.model_validate(
        {"kind": "plate_camera", "driver": "hikvision_isapi",
         "connection": {"type": "http_listen", "listen": f"127.0.0.1:{port}", "path": "/isapi/in", **connection}}
    )  # fmt: skip


async def test_site_camera_addresses_and_credentials_are_enforced() -> None:
    port = free_port()
    seen: list[LaneEvent] = []
    cameras = SiteCameras(environ={"CAM_PASSWORD": "from-the-environment"})
    cameras.add("in-cam", camera_device(port, allow_from=["192.0.2.7"]), lambda e, _t: seen.append(e))
    other = free_port()
    cameras.add("out-cam", camera_device(other, username="hik", password_env="CAM_PASSWORD"),
                lambda e, _t: seen.append(e))  # fmt: skip
    before = REFUSED.labels("lpr-http", "address")._value.get()
    await cameras.start([])
    try:
        sim = CameraSim("attacker", seed=8)
        assert await sim.push_isapi(f"http://127.0.0.1:{port}/isapi/in", sim.read("粤B88888"), images=False) == 403
        assert REFUSED.labels("lpr-http", "address")._value.get() == before + 1
        assert await sim.push_isapi(f"http://127.0.0.1:{other}/isapi/in", sim.read("粤B88888"), images=False) == 401
        camera = CameraSim("out-cam", seed=9, username="hik", password="from-the-environment")
        assert await camera.push_isapi(f"http://127.0.0.1:{other}/isapi/in", camera.read("粤B3R7K2"),
                                       images=False) == 200  # fmt: skip
        await until(lambda: len(seen) == 1, what="the camera's read at the lane")
        await asyncio.sleep(0.1)
    finally:
        await cameras.stop()
    assert [e.plate for e in seen if isinstance(e, PlateSeen)] == ["粤B3R7K2"]  # the refused ones never got there


async def test_a_missing_password_fails_closed(caplog: pytest.LogCaptureFixture) -> None:
    port = free_port()
    seen: list[LaneEvent] = []
    cameras = SiteCameras(environ={})
    cameras.add("in-cam", camera_device(port, username="hik", password_env="CAM_PASSWORD"),
                lambda e, _t: seen.append(e))  # fmt: skip
    await cameras.start([])
    try:
        camera = CameraSim("in-cam", seed=9, username="hik", password="")
        assert await camera.push_isapi(f"http://127.0.0.1:{port}/isapi/in", camera.read("粤B3R7K2"),
                                       images=False) == 401  # fmt: skip
    finally:
        await cameras.stop()
    assert "CAM_PASSWORD holds no password" in caplog.text
    assert seen == []
