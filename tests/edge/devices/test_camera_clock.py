"""Under an accelerated clock (a scenario run) the edge's cameras stamp reads on the clock the edge hands them, not on
the real wall clock: a read without a camera time is dated at its simulated arrival, a camera set to the site's
simulated time is not reported as "clock off", and a Milesight camera's local time (no offset) is read in the site's
zone, so every read lines up with the lanes' simulated time."""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest

from edge.devices.cameras import SiteCameras
from edge.lanes.events import LaneEvent, PlateSeen
from edge.site import Device
from parking.clock import AcceleratedClock
from simulators.camera import CameraSim
from tests.edge.test_daemon import free_port, until

ZONE = ZoneInfo("Asia/Shanghai")
START = datetime(2026, 3, 2, 6, 0, tzinfo=ZONE)  # months before the real clock: any mix-up is visible


def device(driver: str, port: int, path: str) -> Device:
    extra = {"field_map": "milesight"} if driver == "json_http" else {}
    connection = {"type": "http_listen", "listen": f"127.0.0.1:{port}", "path": path}
    return Device.model_validate({"kind": "plate_camera", "driver": driver, **extra, "connection": connection})


async def test_reads_are_stamped_on_the_injected_simulated_clock(caplog: pytest.LogCaptureFixture) -> None:
    clock = AcceleratedClock(START, time.time(), 120.0)
    port = free_port()
    seen: list[LaneEvent] = []
    cameras = SiteCameras(timezone="Asia/Shanghai", environ={}, clock=clock.now)
    cameras.add("in-cam", device("hikvision_isapi", port, "/isapi/in"), lambda e, _t: seen.append(e))
    cameras.add("out-cam", device("json_http", port, "/lpr/out"), lambda e, _t: seen.append(e))
    caplog.set_level(logging.WARNING, logger="drivers.lpr")
    await cameras.start([])
    try:
        isapi = CameraSim("in-cam", seed=1, clock=clock.now, timezone=ZONE)
        milesight = CameraSim("out-cam", seed=2, clock=clock.now, timezone=ZONE)
        first, second = isapi.read("粤B3R7K2"), milesight.read("粤AD10086")
        assert await isapi.push_isapi(f"http://127.0.0.1:{port}/isapi/in", first, images=False) == 200
        assert await milesight.push_json(f"http://127.0.0.1:{port}/lpr/out", second, images=False) == 200
        # A camera that sends no time of its own: the read is dated when it arrived, on the simulated clock.
        bare = {"plate": "粤S5B8Q1", "confidence": 90, "device": "out-cam"}
        async with httpx.AsyncClient() as client:
            before = clock.now()
            answer = await client.post(f"http://127.0.0.1:{port}/lpr/out", content=json.dumps(bare),
                                       headers={"Content-Type": "application/json"})  # fmt: skip
            after = clock.now()
        assert answer.status_code == 200
        await until(lambda: len(seen) == 3, what="the three reads at the lanes")
    finally:
        await cameras.stop()
    reads = {e.plate: e for e in seen if isinstance(e, PlateSeen)}
    isapi_at, milesight_at, bare_at = (reads[p].taken_at for p in ("粤B3R7K2", "粤AD10086", "粤S5B8Q1"))
    assert isapi_at is not None
    assert milesight_at is not None
    assert bare_at is not None
    assert abs(isapi_at - first.at) < timedelta(seconds=1)  # ISAPI carries its offset
    assert abs(milesight_at - second.at) < timedelta(seconds=1)  # local time, read in the site's zone
    assert before <= bare_at <= after  # the simulated arrival, not the real one
    assert abs(bare_at - datetime.now(UTC)) > timedelta(days=30)
    assert bare_at.astimezone(ZONE).date() == START.date()
    assert "far from the time its read arrived" not in caplog.text


async def test_a_listener_without_an_injected_clock_keeps_the_real_one() -> None:
    port = free_port()
    seen: list[LaneEvent] = []
    cameras = SiteCameras(timezone="UTC", environ={}, clock=lambda: datetime.now(UTC))
    cameras.add("out-cam", device("json_http", port, "/lpr/out"), lambda e, _t: seen.append(e))
    await cameras.start([])
    try:
        async with httpx.AsyncClient() as client:
            before = datetime.now(UTC)
            body = json.dumps({"plate": "粤S5B8Q1", "confidence": 90, "device": "out-cam"})
            await client.post(f"http://127.0.0.1:{port}/lpr/out", content=body,
                              headers={"Content-Type": "application/json"})  # fmt: skip
        await until(lambda: len(seen) == 1, what="the read")
    finally:
        await cameras.stop()
    read = seen[0]
    assert isinstance(read, PlateSeen)
    assert read.taken_at is not None
    assert before <= read.taken_at <= datetime.now(UTC)
