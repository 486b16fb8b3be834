"""The HTTP listener against the camera simulator over real HTTP on localhost (free port)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import aiohttp
import cv2
import numpy as np
import pytest

from drivers.health import Health
from drivers.lpr import CameraHeartbeat, Direction, PlateRead
from drivers.lpr.http import HttpCameraConfig, PlateHttpListener, PlateListenerConfig
from drivers.lpr.metrics import ERRORS
from simulators.camera import CameraSim

CAMERAS = (
    HttpCameraConfig("entry-1", "isapi", silence_timeout=0.4),
    HttpCameraConfig("exit-1", "json", silence_timeout=30),
    HttpCameraConfig("by-ip", "isapi", silence_timeout=30, address="127.0.0.1"),
)


@pytest.fixture
async def listener() -> AsyncIterator[PlateHttpListener]:
    async with PlateHttpListener(PlateListenerConfig(CAMERAS, host="127.0.0.1", port=0)) as server:
        yield server


def _url(listener: PlateHttpListener, camera: str) -> str:
    return f"http://127.0.0.1:{listener.port}/lpr/{camera}"


async def _next(listener: PlateHttpListener) -> PlateRead:
    event = await asyncio.wait_for(listener.events.get(), 3)
    assert isinstance(event, PlateRead)
    return event


async def test_isapi_multipart_read_with_images(listener: PlateHttpListener) -> None:
    sim = CameraSim("hik", seed=7)
    sent = sim.read("粤B3R7K2", confidence=0.97)
    assert await sim.push_isapi(_url(listener, "entry-1"), sent) == 200
    read = await _next(listener)
    assert (read.camera, read.plate, read.direction, read.event_id) == ("entry-1", "粤B3R7K2", Direction.APPROACH,
                                                                        sent.event_id)  # fmt: skip
    assert read.confidence == pytest.approx(0.97)
    assert read.at == sent.at.replace(microsecond=0)
    plate = read.image("plate")
    assert plate is not None
    assert plate.data is not None
    picture = cv2.imdecode(np.frombuffer(plate.data, np.uint8), cv2.IMREAD_COLOR)
    assert picture is not None
    assert picture.shape[:2] == (140, 440)  # the simulator's plate crop, intact through multipart
    assert read.image("vehicle") is not None
    assert listener.health("entry-1").health is Health.ONLINE


async def test_json_push_misread_unknown_late(listener: PlateHttpListener) -> None:
    sim = CameraSim("ms", seed=3)
    misread = sim.read("粤B3R7K2", misread=True)
    unknown = sim.read("粤B3R7K2", unknown=True)
    late = sim.read("京A12345", late_by=timedelta(seconds=30))
    for sent in (misread, unknown, late):
        assert await sim.push_json(_url(listener, "exit-1"), sent, images=False) == 200
    first, second, third = [await _next(listener) for _ in range(3)]
    assert first.plate == misread.plate != "粤B3R7K2"
    assert sum(a != b for a, b in zip(first.plate or "", "粤B3R7K2", strict=True)) == 1
    assert second.plate is None
    assert second.no_read
    assert third.plate == "京A12345"
    assert third.at == late.at.replace(microsecond=0)  # the camera's time, not the arrival time
    assert third.extra["time_source"] == "camera"
    assert datetime.now(UTC) - third.at > timedelta(seconds=29)


async def test_duplicates_are_delivered_as_sent(listener: PlateHttpListener) -> None:
    sim = CameraSim("hik", seed=1)
    sent = sim.read("粤B3R7K2")
    for _ in range(2):
        assert await sim.push_isapi(_url(listener, "entry-1"), sent, images=False) == 200
    a, b = await _next(listener), await _next(listener)
    assert a.event_id == b.event_id == sent.event_id  # the edge's consensus decides; the driver hides nothing


async def test_bad_push_degrades_and_counts(listener: PlateHttpListener) -> None:
    before = ERRORS.labels("entry-1", "protocol")._value.get()
    async with aiohttp.ClientSession() as session:
        async with session.post(_url(listener, "entry-1"), data=b"<html/>") as response:
            assert response.status == 400
        async with session.post(_url(listener, "nobody"), data=b"x") as response:
            assert response.status == 404
        async with session.get(f"http://127.0.0.1:{listener.port}/lpr") as response:
            status = await response.json()
    assert ERRORS.labels("entry-1", "protocol")._value.get() == before + 1
    assert status["entry-1"]["health"] == "degraded"
    assert listener.events.empty()


async def test_silence_goes_offline_and_push_recovers(listener: PlateHttpListener) -> None:
    sim = CameraSim("hik", seed=2)
    assert await sim.push_isapi(_url(listener, "entry-1"), sim.read("粤B3R7K2"), images=False) == 200
    await _next(listener)
    assert listener.health("entry-1").health is Health.ONLINE
    started = time.monotonic()
    while listener.health("entry-1").health is not Health.OFFLINE:
        assert time.monotonic() - started < 1.0, "not offline within 1 s of its 0.4 s allowance"
        await asyncio.sleep(0.01)
    async with aiohttp.ClientSession() as session:
        heartbeat = sim.isapi_body(sim.read("x"), images=False)[0].replace(b"<eventType>ANPR", b"<eventType>videoloss")
        heartbeat = heartbeat.replace(b"<ANPR>", b"<X>").replace(b"</ANPR>", b"</X>")
        async with session.post(_url(listener, "entry-1"), data=heartbeat) as response:
            assert response.status == 200
    event = await asyncio.wait_for(listener.events.get(), 2)
    assert isinstance(event, CameraHeartbeat)
    assert listener.health("entry-1").health is Health.ONLINE


async def test_camera_known_by_address_posting_to_root(listener: PlateHttpListener) -> None:
    sim = CameraSim("old-firmware", seed=9)
    assert await sim.push_isapi(f"http://127.0.0.1:{listener.port}/", sim.read("粤B3R7K2"), images=False) == 200
    read = await _next(listener)
    assert read.camera == "by-ip"


async def test_camera_on_an_exact_path_of_its_own() -> None:
    cameras = (HttpCameraConfig("north-in", path="/isapi/north-in"), HttpCameraConfig("east-out", "json"))
    async with PlateHttpListener(PlateListenerConfig(cameras, host="127.0.0.1", port=0)) as server:
        sim = CameraSim("hik", seed=11)
        assert await sim.push_isapi(f"http://127.0.0.1:{server.port}/isapi/north-in", sim.read("粤B3R7K2")) == 200
        assert await sim.push_json(f"http://127.0.0.1:{server.port}/lpr/east-out", sim.read("京A12345")) == 200
        first, second = await _next(server), await _next(server)
    assert (first.camera, first.plate) == ("north-in", "粤B3R7K2")
    assert (second.camera, second.plate) == ("east-out", "京A12345")
