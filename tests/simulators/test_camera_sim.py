"""The camera simulator: look-alike misreads, rendered pictures, and ``parkgate sim camera`` against the driver."""

from __future__ import annotations

import asyncio
import random
import sys
from pathlib import Path

import aiomqtt
import cv2
import numpy as np
import pytest

from drivers.lpr import PlateRead
from drivers.lpr.http import HttpCameraConfig, PlateHttpListener, PlateListenerConfig
from drivers.lpr.mqtt import MqttCameraConfig, MqttPlateSubscriber
from simulators.camera import LOOK_ALIKES, CameraSim, latin_text, look_alike, render_plate

ROOT = Path(__file__).resolve().parents[2]


def test_look_alike_swaps_one_serial_character() -> None:
    rng = random.Random(1)
    for _ in range(200):
        out = look_alike("粤B3R7K2", rng)
        diffs = [(a, b) for a, b in zip("粤B3R7K2", out, strict=True) if a != b]
        assert len(diffs) == 1
        assert LOOK_ALIKES[diffs[0][0]] == diffs[0][1]
        assert out[0] == "粤"
    assert look_alike("粤AAAAAA", rng) == "粤AAAAAA"  # nothing that looks alike: unchanged


def test_rendered_plate_is_a_jpeg_of_the_plate() -> None:
    jpeg = render_plate("粤B3R7K2", "yellow")
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None
    assert image.shape == (140, 440, 3)
    b, g, r = image[20, 20]
    assert (r > 200, g > 150, b < 80) == (True, True, True)  # a yellow plate
    assert latin_text("粤B3R7K2") == "YUE-B3R7K2"


def test_reads_are_repeatable_with_a_seed() -> None:
    a, b = CameraSim(seed=4), CameraSim(seed=4)
    assert a.read("京A12345", misread=True).plate == b.read("京A12345", misread=True).plate
    unknown = a.read("京A12345", unknown=True)
    assert (unknown.plate, unknown.confidence, unknown.true_plate) == ("unknown", 0.0, "京A12345")


async def _run_cli(*argv: str) -> tuple[int, bytes]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "parking.cli", "sim", "camera", *argv, cwd=ROOT,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await asyncio.wait_for(process.communicate(), 30)
    return process.returncode or 0, out


async def test_cli_pushes_isapi_with_duplicates_to_the_listener() -> None:
    config = PlateListenerConfig((HttpCameraConfig("entry-1"),), host="127.0.0.1", port=0)
    async with PlateHttpListener(config) as listener:
        url = f"http://127.0.0.1:{listener.port}/lpr/entry-1"
        code, out = await _run_cli("isapi", url, "--count", "2", "--interval", "0", "--duplicate-rate", "1",
                                   "--plate", "粤B3R7K2", "--seed", "1")  # fmt: skip
        assert code == 0, out
        reads = [await asyncio.wait_for(listener.events.get(), 2) for _ in range(4)]
    assert all(isinstance(r, PlateRead) and r.plate == "粤B3R7K2" for r in reads)
    ids = [r.event_id for r in reads if isinstance(r, PlateRead)]
    assert ids[0] == ids[1] != ids[2] == ids[3]  # each read twice
    first = reads[0]
    assert isinstance(first, PlateRead)
    assert first.image("plate") is not None


@pytest.mark.mqtt
async def test_cli_publishes_json_over_mqtt(mqtt_broker: tuple[str, int], mqtt_topic: str) -> None:
    host, port = mqtt_broker
    config = MqttCameraConfig("sim-sub", f"{mqtt_topic}/#", host, port)
    async with MqttPlateSubscriber(config) as subscriber:
        for _ in range(200):
            if subscriber.connections:
                break
            await asyncio.sleep(0.02)
        topic = f"{mqtt_topic}/cam"
        code, out = await _run_cli("mqtt", "--host", host, "--port", str(port), "--topic", topic, "--plate", "京A12345",
                                   "--interval", "0", "--no-images", "--name", "cam-9")  # fmt: skip
        assert code == 0, out
        read = await asyncio.wait_for(subscriber.events.get(), 5)
    assert (read.plate, read.camera) == ("京A12345", "cam-9")


@pytest.mark.mqtt
async def test_in_process_publish(mqtt_broker: tuple[str, int], mqtt_topic: str) -> None:
    sim = CameraSim("cam", seed=1)
    async with aiomqtt.Client(*mqtt_broker) as client:
        await client.subscribe(f"{mqtt_topic}/x")
        await sim.publish(client, f"{mqtt_topic}/x", sim.read("沪A88888"))
        message = await asyncio.wait_for(anext(aiter(client.messages)), 5)
    assert isinstance(message.payload, bytes)
    assert '"plate": "沪A88888"'.encode() in message.payload
