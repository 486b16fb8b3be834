"""One slow or hostile client must not stall the camera listener, over real HTTP: costly XML refused off the event
loop, idle and half-sent connections dropped after their timeout, connection caps, log lines bounded."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest

from drivers.lpr.http import HttpCameraConfig, ListenerLimits, PlateHttpListener, PlateListenerConfig
from drivers.lpr.metrics import REFUSED
from simulators.camera import CameraSim
from tests.drivers.loop_probe import LoopProbe

LIMITS = ListenerLimits(header_timeout=0.5, body_timeout=0.5, max_connections=64, max_connections_per_source=16)
# 140,000 levels in 420 KB: under the XML size bound, about 100 ms of parsing when nothing stops it
DEEP = b"<EventNotificationAlert>" + b"<a>" * 140_000


@pytest.fixture
async def listener() -> AsyncIterator[PlateHttpListener]:
    config = PlateListenerConfig((HttpCameraConfig("cam"),), host="127.0.0.1", port=0, name="limits", limits=LIMITS)
    async with PlateHttpListener(config) as server:
        yield server


def refused(reason: str) -> float:
    return float(REFUSED.labels("limits", reason)._value.get())


async def test_deeply_nested_xml_is_refused_and_the_loop_stays_responsive(listener: PlateHttpListener) -> None:
    url = f"http://127.0.0.1:{listener.port}/lpr/cam"
    probe = LoopProbe()
    probe.start()
    await asyncio.sleep(0.05)
    started = time.perf_counter()
    async with aiohttp.ClientSession() as session:

        async def attack() -> tuple[int, str]:
            async with session.post(url, data=DEEP, headers={"Content-Type": "application/xml"}) as response:
                return response.status, await response.text()

        answers = await asyncio.gather(*(attack() for _ in range(8)))
    elapsed = time.perf_counter() - started
    await probe.stop()
    assert all(status == 400 and "deeper than 32 levels" in text for status, text in answers), answers[0]
    # bounds: our code holds the loop < 100 ms at a time; the wall-clock bound is generous for a shared machine
    busy, gc_pause = probe.worst_busy * 1000, probe.worst_gc * 1000
    assert probe.worst_busy < 0.1, f"the loop was held for {busy:.0f} ms of CPU (longest GC {gc_pause:.0f} ms)"
    assert probe.worst_late < 1.0, f"another coroutine was {probe.worst_late * 1000:.0f} ms late during the attack"
    assert elapsed < 5.0
    assert listener.events.empty()


async def test_idle_connections_are_capped_dropped_after_the_timeout_and_logged_briefly(
    listener: PlateHttpListener, caplog: pytest.LogCaptureFixture
) -> None:
    before = refused("too-many-from-source") + refused("too-many-connections")
    caplog.set_level(logging.DEBUG, "drivers.lpr")
    caplog.set_level(logging.DEBUG, "aiohttp")
    streams = await asyncio.gather(*(asyncio.open_connection("127.0.0.1", listener.port) for _ in range(500)))
    try:
        await asyncio.sleep(0.1)
        assert listener.open_connections <= LIMITS.max_connections_per_source
        # a camera on another address of this host still gets through while the flood is on
        connector = aiohttp.TCPConnector(local_addr=("127.0.0.2", 0))
        async with aiohttp.ClientSession(connector=connector) as session:
            body, content_type = CameraSim("cam", seed=1).isapi_body(CameraSim("cam").read("粤B3R7K2"), images=False)
            async with session.post(f"http://127.0.0.1:{listener.port}/lpr/cam", data=body,
                                    headers={"Content-Type": content_type}) as response:  # fmt: skip
                assert response.status == 200
        ends = await asyncio.wait_for(asyncio.gather(*(reader.read() for reader, _ in streams)), 3.0)
    finally:
        for _, writer in streams:
            writer.close()
    busy = [end for end in ends if end.startswith(b"HTTP/1.1 503")]
    assert len(busy) >= 500 - LIMITS.max_connections_per_source  # refused at once
    assert ends.count(b"") == 500 - len(busy)  # idle ones: closed by the server after the header timeout
    assert refused("too-many-from-source") + refused("too-many-connections") == before + len(busy)
    await asyncio.sleep(0.05)
    assert listener.open_connections == 0
    assert len(caplog.records) <= 5, [r.getMessage() for r in caplog.records]


async def test_half_sent_head_and_body_are_timed_out(listener: PlateHttpListener) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", listener.port)
    writer.write(b"POST /lpr/cam HTTP/1.1\r\nHost: x\r\nContent-Le")  # the head never ends
    started = time.perf_counter()
    assert await asyncio.wait_for(reader.read(), 3.0) == b""
    assert time.perf_counter() - started < 2.0
    writer.close()
    before = refused("body-timeout")
    reader, writer = await asyncio.open_connection("127.0.0.1", listener.port)
    writer.write(b"POST /lpr/cam HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n<EventNotification")
    answer = await asyncio.wait_for(reader.read(), 3.0)
    writer.close()
    assert answer.startswith(b"HTTP/1.1 408")
    assert refused("body-timeout") == before + 1


async def test_a_body_over_the_limit_is_refused_before_it_is_read(listener: PlateHttpListener) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", listener.port)
    writer.write(b"POST /lpr/cam HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % (LIMITS.max_body + 1))
    answer = await asyncio.wait_for(reader.read(), 3.0)
    writer.close()
    assert answer.startswith(b"HTTP/1.1 413")


async def test_malformed_requests_are_answered_400_and_logged_once(
    listener: PlateHttpListener, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    for _ in range(30):
        reader, writer = await asyncio.open_connection("127.0.0.1", listener.port)
        writer.write(b"POST /lpr/cam HTTP/1.1\r\nHost: x\r\nX-Long: " + b"a" * 10_000 + b"\r\n\r\n")
        answer = await asyncio.wait_for(reader.read(), 3.0)
        writer.close()
        assert answer.split(b" ", 2)[1] == b"400", answer[:40]
    lines = [r for r in caplog.records if r.name.startswith(("aiohttp", "drivers.lpr"))]
    assert len(lines) <= 2, [r.getMessage()[:100] for r in lines]
    assert all(r.exc_info is None for r in lines)
