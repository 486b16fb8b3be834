"""A private Mosquitto (its own process, port and persistence folder) restarted every second or so while a camera
publishes plate reads at QoS 1: the subscriber reconnects each time, and every read arrives once, none lost, none
twice. The camera publishes as a QoS 1 camera does: a read counts as sent when the broker acknowledged it, and one
not acknowledged (the broker went down) is sent again, so the broker may well hold it twice."""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import shutil
import subprocess
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiomqtt
import pytest

from drivers.health import Health
from drivers.lpr.jsonmap import encode_milesight
from drivers.lpr.mqtt import MqttCameraConfig, MqttPlateSubscriber
from tests.services import free_tcp_port, port_open
from tests.soak_summary import Row, record

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"


@dataclass
class PrivateBroker:
    """``mosquitto -c`` on its own port with persistence (sessions and queued QoS 1 messages survive a restart)."""

    folder: Path
    port: int = field(default_factory=free_tcp_port)
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0

    def start(self) -> None:
        config = self.folder / "mosquitto.conf"
        config.write_text(
            f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence true\nuser {getpass.getuser()}\n"
            f"persistence_location {self.folder}/\nautosave_interval 1\n"
        )
        self.process = subprocess.Popen([MOSQUITTO, "-c", str(config)], stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)  # fmt: skip
        deadline = time.monotonic() + 10
        while not port_open("127.0.0.1", self.port, timeout=0.1):
            assert self.process.poll() is None, "mosquitto exited at start"
            assert time.monotonic() < deadline, "mosquitto did not listen within 10 s"
            time.sleep(0.02)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()  # a restart: it saves its sessions and queues on the way down
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    async def restart(self, down_s: float = 0.2) -> None:
        await asyncio.to_thread(self.stop)
        await asyncio.sleep(down_s)
        await asyncio.to_thread(self.start)
        self.restarts += 1


@pytest.fixture
async def broker(tmp_path: Path) -> AsyncIterator[PrivateBroker]:
    if shutil.which(MOSQUITTO) is None:
        pytest.skip(f"no mosquitto at {MOSQUITTO}")
    private = PrivateBroker(tmp_path)
    private.start()
    yield private
    private.stop()


@dataclass
class QosCamera:
    """Publishes numbered reads; resends one the broker did not acknowledge (the camera's own outbox)."""

    broker: PrivateBroker
    topic: str
    acknowledged: list[str] = field(default_factory=list)
    attempts: int = 0

    async def publish_all(self, plates: list[str], every_s: float) -> None:
        at = datetime.now(UTC)
        pending = list(plates)
        while pending:
            try:
                async with aiomqtt.Client("127.0.0.1", self.broker.port, timeout=2.0) as client:
                    while pending:
                        plate = pending[0]
                        # the read's own capture time, the same at every resend
                        taken = at + timedelta(seconds=plates.index(plate))
                        body = encode_milesight(plate=plate, confidence=0.95, direction="Approach", at=taken,
                                                device="cam-1")  # fmt: skip
                        self.attempts += 1
                        await asyncio.wait_for(client.publish(self.topic, body, qos=1), timeout=3)
                        self.acknowledged.append(pending.pop(0))
                        await asyncio.sleep(every_s)
            except (aiomqtt.MqttError, TimeoutError, OSError):
                await asyncio.sleep(0.05)  # the broker is down: connect again and resend the unacknowledged read


def plates(count: int) -> list[str]:
    return [f"粤B{n:05d}" for n in range(count)]


async def restart_repeatedly(broker: PrivateBroker, done: asyncio.Event, every_s: float) -> None:
    while not done.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(done.wait(), timeout=every_s)
        if not done.is_set():
            await broker.restart()


async def run_restarts(broker: PrivateBroker, count: int, restart_every_s: float, publish_every_s: float) -> None:
    config = MqttCameraConfig("mqtt-restarts", "cams/+/lpr", "127.0.0.1", broker.port, camera_topic_level=1,
                              keepalive=2, max_backoff=0.2)  # fmt: skip
    subscriber = MqttPlateSubscriber(config)
    await subscriber.start()
    try:
        deadline = time.monotonic() + 10
        while subscriber.health.health is not Health.ONLINE:
            assert time.monotonic() < deadline, "subscriber not online"
            await asyncio.sleep(0.02)
        camera = QosCamera(broker, "cams/in-1/lpr")
        wanted = plates(count)
        done = asyncio.Event()
        restarter = asyncio.create_task(restart_repeatedly(broker, done, restart_every_s))
        await asyncio.wait_for(camera.publish_all(wanted, publish_every_s), timeout=120)
        done.set()
        await restarter
        received: list[str] = []
        deadline = time.monotonic() + 20
        while len(set(received)) < count and time.monotonic() < deadline:
            with contextlib.suppress(TimeoutError):
                read = await asyncio.wait_for(subscriber.events.get(), timeout=0.5)
                received.append(str(read.plate))
        await asyncio.sleep(1.0)  # late redeliveries would come now
        while not subscriber.events.empty():
            received.append(str(subscriber.events.get_nowait().plate))
    finally:
        await subscriber.stop()
    counts = Counter(received)
    lost = [p for p in wanted if p not in counts]
    twice = sorted(p for p, n in counts.items() if n > 1)
    record(Row(target="MQTT camera, Mosquitto restarted repeatedly", faults=broker.restarts, transactions=count,
               lost=len(lost), duplicated=len(twice),
               detail=f"{camera.attempts} publishes for {count} reads, {subscriber.duplicates} redeliveries dropped, "
                      f"{subscriber.connections} connections"))  # fmt: skip
    assert broker.restarts >= 3
    assert subscriber.connections > broker.restarts // 2  # it reconnected, by itself
    assert lost == []
    assert twice == []


async def test_mosquitto_restarted_every_second_loses_and_duplicates_no_read(broker: PrivateBroker) -> None:
    await run_restarts(broker, count=40, restart_every_s=1.0, publish_every_s=0.1)


@pytest.mark.soak
@pytest.mark.timeout(900)
async def test_soak_mosquitto_restarted_every_few_seconds_for_a_thousand_reads(broker: PrivateBroker) -> None:
    await run_restarts(broker, count=1000, restart_every_s=2.5, publish_every_s=0.05)


async def test_a_read_delivered_twice_reaches_the_lane_once(broker: PrivateBroker) -> None:
    config = MqttCameraConfig("mqtt-dups", "cams/+/lpr", "127.0.0.1", broker.port, camera_topic_level=1)
    taken = datetime.now(UTC)
    first = encode_milesight(plate="粤B12345", confidence=0.95, direction="Approach", at=taken, device="cam-1")
    later = encode_milesight(plate="粤B12345", confidence=0.95, direction="Approach", at=taken + timedelta(seconds=30),
                             device="cam-1")  # fmt: skip
    async with MqttPlateSubscriber(config) as subscriber:
        deadline = time.monotonic() + 10
        while subscriber.health.health is not Health.ONLINE:
            assert time.monotonic() < deadline, "subscriber not online"
            await asyncio.sleep(0.02)
        async with aiomqtt.Client("127.0.0.1", broker.port) as client:
            for body in (first, first, later):  # the camera resends the first read (no acknowledgement came)
                await client.publish("cams/in-1/lpr", body, qos=1)
        reads = [await asyncio.wait_for(subscriber.events.get(), 5) for _ in range(2)]
        await asyncio.sleep(0.3)
        assert subscriber.events.empty()
    second = taken.replace(microsecond=0)  # the camera's time, to the second (its milliseconds are kept apart)
    assert [r.at for r in reads] == [second, second + timedelta(seconds=30)]
    assert subscriber.duplicates == 1
