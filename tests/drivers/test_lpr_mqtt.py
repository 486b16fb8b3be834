"""JSON plate events over the real Mosquitto broker; a broken broker link goes offline and recovers by itself."""

from __future__ import annotations

import asyncio
import contextlib
import time

import aiomqtt
import pytest

from drivers.health import Health
from drivers.lpr.mqtt import MqttCameraConfig, MqttPlateSubscriber
from simulators.camera import CameraSim

pytestmark = pytest.mark.mqtt


class TcpProxy:
    """A plug between the driver and the broker: :meth:`cut` drops every connection and refuses new ones."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def cut(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        await self._server.wait_closed()
        self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self.target)
        self._writers |= {writer, up_writer}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(Exception):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.transport.abort()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))


async def _until(predicate: object, within: float) -> float:
    started = time.monotonic()
    while not predicate():  # type: ignore[operator]
        if time.monotonic() - started > within:
            raise AssertionError(f"condition not met within {within} s")
        await asyncio.sleep(0.01)
    return time.monotonic() - started


async def test_plate_read_with_image_over_mosquitto(mqtt_broker: tuple[str, int], mqtt_topic: str) -> None:
    host, port = mqtt_broker
    config = MqttCameraConfig(
        "mqtt-cams", f"{mqtt_topic}/+/lpr", host, port, camera_topic_level=mqtt_topic.count("/") + 1
    )
    sim = CameraSim("ms-cam", seed=5)
    sent = sim.read("粤BD12345", confidence=0.93, colour="green")
    async with MqttPlateSubscriber(config) as subscriber:
        await _until(lambda: subscriber.health.health is Health.ONLINE, 5)
        async with aiomqtt.Client(host, port) as client:
            await sim.publish(client, f"{mqtt_topic}/exit-2/lpr", sent, images=True)
        read = await asyncio.wait_for(subscriber.events.get(), 5)
    assert (read.camera, read.plate, read.plate_color) == ("exit-2", "粤BD12345", "Green")
    assert read.confidence == pytest.approx(0.93)
    image = read.image("plate")
    assert image is not None
    assert image.data is not None
    assert image.data.startswith(b"\xff\xd8")
    assert read.extra["topic"] == f"{mqtt_topic}/exit-2/lpr"


async def test_broker_link_cut_offline_within_a_second_and_recovers(
    mqtt_broker: tuple[str, int], mqtt_topic: str
) -> None:
    proxy = TcpProxy(mqtt_broker)
    await proxy.start()
    config = MqttCameraConfig("mqtt-cut", f"{mqtt_topic}/#", "127.0.0.1", proxy.port, keepalive=2, max_backoff=0.2)
    async with MqttPlateSubscriber(config) as subscriber:
        await _until(lambda: subscriber.health.health is Health.ONLINE, 5)
        await proxy.cut()
        assert await _until(lambda: subscriber.health.health is Health.OFFLINE, 1.0) < 1.0
        await proxy.start()  # same port: the cable is back
        await _until(lambda: subscriber.health.health is Health.ONLINE, 5)
        assert subscriber.connections == 2
        sim = CameraSim("ms-cam", seed=6)
        async with aiomqtt.Client(*mqtt_broker) as client:
            await sim.publish(client, f"{mqtt_topic}/entry-1", sim.read("京A12345"))
        read = await asyncio.wait_for(subscriber.events.get(), 5)
    assert read.plate == "京A12345"
    assert read.camera == "ms-cam"  # from the payload's device field


async def test_several_topics_and_a_fixed_camera(mqtt_broker: tuple[str, int], mqtt_topic: str) -> None:
    topics = (f"{mqtt_topic}/a/events", f"{mqtt_topic}/b/events")
    config = MqttCameraConfig("sub", topics, *mqtt_broker, camera="south-in")
    sim = CameraSim("device-name-on-camera", seed=8)
    async with MqttPlateSubscriber(config) as subscriber:
        await _until(lambda: subscriber.health.health is Health.ONLINE, 5)
        async with aiomqtt.Client(*mqtt_broker) as client:
            for topic in topics:
                await sim.publish(client, topic, sim.read("粤B3R7K2"))
        reads = [await asyncio.wait_for(subscriber.events.get(), 5) for _ in topics]
    assert [r.camera for r in reads] == ["south-in", "south-in"]
    assert sorted(r.extra["topic"] for r in reads) == sorted(topics)
