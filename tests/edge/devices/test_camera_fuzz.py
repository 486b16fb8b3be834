"""Fuzzing the edge's camera listeners over real HTTP, with the daemon running its lanes on the Modbus simulator.

Mutated ISAPI (XML and multipart) and JSON pushes, random bytes, deep nesting, unbounded plates, NaN confidences,
odd headers and connections abandoned half-way are sent to the exit lane's camera while vehicles are let in at the
entry lane. Invariants:

- the listener never answers 5xx (anything it cannot read is a 4xx);
- the process's resident memory grows by less than :data:`RSS_BOUND` bytes;
- the event loop is never held by our code for more than :data:`LOOP_BOUND` of CPU at a time, and a coroutine
  that wants to run every 5 ms is never later than :data:`LATE_BOUND` (generous: the test machines are shared);
- in the long run (``make fuzz``), the entry lane's decisions (the daemon's own decision latency: last input to
  barrier command) stay under :data:`DECISION_BOUND` on average;
- nothing the fuzzer sent becomes a plate of a session.

The short run is part of the suite; ``make fuzz`` runs the long one (``PARKGATE_FUZZ_PUSHES``, default 5,000).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest

from drivers.lpr import encode_isapi_multipart, encode_isapi_xml, encode_milesight
from tests.drivers.loop_probe import LoopProbe
from tests.edge.test_daemon import SimLane, daemon_for, free_port, online, start_sim, until, write_site
from tests.soak_summary import Row, record

RSS_BOUND = 150 << 20
DECISION_BOUND = 0.2  # seconds, mean over the vehicles let in during the fuzzing
LOOP_BOUND = 0.1  # CPU seconds the loop's thread may spend without giving a waiting coroutine its turn
LATE_BOUND = 1.0  # seconds an every-5-ms coroutine may be late


@pytest.fixture
async def sims() -> AsyncIterator[tuple[SimLane, SimLane]]:
    entry, out = await start_sim(), await start_sim()
    yield entry, out
    await entry.serving.stop()
    await out.serving.stop()


def rss() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def seeds() -> list[tuple[bytes, str]]:
    at = datetime.now(UTC)
    xml = encode_isapi_xml(plate="粤B3R7K2", confidence=97, at=at, event_id="e-1", pictures=["licensePlatePicture.jpg"])
    multipart = encode_isapi_multipart(xml, {"licensePlatePicture.jpg": b"\xff\xd8" + bytes(range(256)) + b"\xff\xd9"})
    milesight = encode_milesight(plate="京A12345", confidence=0.9, direction="Approach", at=at, device="x")
    return [(xml, "application/xml"), multipart, (milesight, "application/json")]


def adversarial(rng: random.Random) -> tuple[bytes, str]:
    at = datetime.now(UTC)
    choice = rng.randrange(8)
    if choice == 0:
        return b"<EventNotificationAlert>" + b"<a>" * rng.randint(33, 200_000), "application/xml"
    if choice == 1:
        plate = rng.choice(["粤", "A", "\x00", "<"]) * rng.randint(17, 50_000)
        return json.dumps({"plate": plate, "confidence": 0.9}).encode(), "application/json"
    if choice == 2:
        value = rng.choice(["NaN", "Infinity", "-Infinity", "1e400", "[1]", '"abc"', "101"])
        return f'{{"plate": "粤B3R7K2", "confidence": {value}}}'.encode(), "application/json"
    if choice == 3:
        return b"[" * rng.randint(1, 100_000), "application/json"
    if choice == 4:
        return rng.randbytes(rng.randint(0, 4000)), rng.choice(["application/xml", "multipart/form-data; boundary=x"])
    if choice == 5:
        stamp = rng.choice(["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-12:00", "99999999999999"])
        body = encode_milesight(plate="粤B3R7K2", confidence=0.9, direction="Approach", at=at, device="x")
        return body.replace(at.strftime("%Y-%m-%d %H:%M:%S").encode(), stamp.encode()), "application/json"
    if choice == 6:
        return b"--b\r\n" + b"Content-Type: image/jpeg\r\n\r\n" * rng.randint(
            1, 3000
        ), "multipart/form-data; boundary=b"
    return b"<EventNotificationAlert>" + b"<b/>" * rng.randint(4097, 50_000) + b"</EventNotificationAlert>", "text/xml"


def mutated(rng: random.Random, base: list[tuple[bytes, str]]) -> tuple[bytes, str]:
    if rng.random() < 0.3:
        return adversarial(rng)
    body, content_type = rng.choice(base)
    data = bytearray(body)
    for _ in range(rng.randint(1, 8)):
        pos = rng.randrange(len(data))
        op = rng.random()
        if op < 0.4:
            data[pos] = rng.randrange(256)
        elif op < 0.7:
            data[pos:pos] = rng.choice([b"<", b"</", b"&#0;", b"--boundary", b"\r\n\r\n", b'"', b"\xe7", b"NaN"])
        else:
            del data[pos : pos + rng.randint(1, 60)]
    return bytes(data), content_type


async def abandon(port: int, rng: random.Random) -> None:
    """A client that connects, sends part of a request and goes away (or stays silent until closed)."""
    _reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = b"POST /lpr/out HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n{"
    writer.write(head[: rng.randint(0, len(head))])
    await asyncio.sleep(rng.random() * 0.2)
    writer.close()


async def fuzz_camera_listeners(
    tmp_path: Path, sims: tuple[SimLane, SimLane], pushes: int, seed: int, *, decision_bound: float | None
) -> None:
    entry, out = sims
    cameras = free_port()
    site_file = write_site(tmp_path, entry.port, out.port, None, cameras)
    daemon = daemon_for(site_file)
    await daemon.start()
    rng = random.Random(seed)
    base = seeds()
    statuses: list[int] = []
    stop = asyncio.Event()
    probe = LoopProbe()

    async def fuzzer(session: aiohttp.ClientSession, share: int) -> None:
        for _ in range(share):
            if rng.random() < 0.05:
                await abandon(cameras, rng)
                continue
            body, content_type = mutated(rng, base)
            path = rng.choice(["/lpr/out", "/lpr/out", "/isapi/in", "/", "/lpr/nobody"])
            try:
                async with session.post(f"http://127.0.0.1:{cameras}{path}", data=body,
                                        headers={"Content-Type": content_type}) as response:  # fmt: skip
                    await response.read()
                    statuses.append(response.status)
            except aiohttp.ClientError:
                statuses.append(0)  # the server closed on us (a cap, a timeout): not a 5xx

    async def vehicles() -> None:
        while not stop.is_set():
            passed = entry.model.passed
            xml = encode_isapi_xml(plate=f"粤B{rng.randrange(10_000, 99_999)}", confidence=96, at=datetime.now(UTC),
                                   event_id=uuid.uuid4().hex)  # fmt: skip
            async with aiohttp.ClientSession() as client:
                await client.post(f"http://127.0.0.1:{cameras}/isapi/in", data=xml)
            entry.drive_up()
            await until(_more_than(entry, passed), within=15, what="a vehicle let in")

    try:
        await until(lambda: online(daemon), what="devices online")
        rss_before = rss()
        latency = daemon.metrics.latency.labels("open")
        count_before, sum_before = _histogram(latency)
        probe.start()
        traffic = asyncio.create_task(vehicles())
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
            await asyncio.gather(*(fuzzer(session, pushes // 8) for _ in range(8)))
        stop.set()
        await traffic
        await probe.stop()
        count, total = _histogram(latency)
        sessions = [s.plate or "" for s in daemon.park.sessions.values()]
    finally:
        stop.set()
        await probe.stop()
        await daemon.stop()
    record(Row(target="fuzz: camera listeners (HTTP, during traffic)", inputs=len(statuses),
               crashes=len([s for s in statuses if s >= 500]), transactions=int(count - count_before),
               detail=f"statuses {sorted(set(statuses))}"))  # fmt: skip
    assert not [s for s in statuses if s >= 500], sorted(set(statuses))
    assert rss() - rss_before < RSS_BOUND, f"RSS grew by {(rss() - rss_before) >> 20} MB"
    assert count > count_before, "no vehicle was let in during the fuzzing"
    mean = (total - sum_before) / (count - count_before)
    if decision_bound is not None:
        assert mean < decision_bound, f"entry decisions took {mean * 1000:.0f} ms on average during the fuzzing"
    busy, gc_pause = probe.worst_busy * 1000, probe.worst_gc * 1000
    assert probe.worst_busy < LOOP_BOUND, f"the loop was held for {busy:.0f} ms of CPU (longest GC {gc_pause:.0f} ms)"
    assert probe.worst_late < LATE_BOUND, f"the event loop was {probe.worst_late * 1000:.0f} ms late"
    assert all(len(plate) <= 16 and plate.startswith("粤B") for plate in sessions), sessions[:3]


def _more_than(lane: SimLane, passed: int) -> Callable[[], bool]:
    return lambda: lane.model.passed > passed


def _histogram(histogram: object) -> tuple[float, float]:
    count = total = 0.0
    for metric in histogram.collect():  # type: ignore[attr-defined]
        for sample in metric.samples:
            if sample.name.endswith("_count"):
                count = sample.value
            elif sample.name.endswith("_sum"):
                total = sample.value
    return count, total


async def test_fuzz_camera_listeners_short(tmp_path: Path, sims: tuple[SimLane, SimLane]) -> None:
    await fuzz_camera_listeners(tmp_path, sims, pushes=160, seed=1, decision_bound=None)


@pytest.mark.fuzz
async def test_fuzz_camera_listeners_long(tmp_path: Path, sims: tuple[SimLane, SimLane]) -> None:
    pushes = int(os.environ.get("PARKGATE_FUZZ_PUSHES", "5000"))
    await fuzz_camera_listeners(tmp_path, sims, pushes=pushes, seed=2, decision_bound=DECISION_BOUND)
