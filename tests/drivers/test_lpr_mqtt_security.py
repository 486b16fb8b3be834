"""MQTT cameras over TLS and with bounded messages, against the real Mosquitto: the subscriber checks the broker's
certificate against the site's CA and presents its client certificate (a TLS front end with certificates made by
openssl for the test); unbounded plates and oversized messages are refused and counted."""

from __future__ import annotations

import asyncio
import contextlib
import json
import ssl
import subprocess
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiomqtt
import pytest

from drivers.health import Health
from drivers.lpr.metrics import ERRORS, REJECTED
from drivers.lpr.mqtt import MAX_MESSAGE, MqttCameraConfig, MqttPlateSubscriber, MqttTls
from edge.devices.cameras import SiteCameras
from edge.site import Device
from simulators.camera import CameraSim

pytestmark = pytest.mark.mqtt


def openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_ca(folder: Path, name: str) -> None:
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", f"/CN={name}", "-keyout",
            f"{name}.key", "-out", f"{name}.crt", cwd=folder)  # fmt: skip


def make_cert(folder: Path, ca: str, name: str, ext: str) -> None:
    (folder / f"{name}.ext").write_text(ext)
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name}", "-keyout", f"{name}.key", "-out",
            f"{name}.csr", cwd=folder)  # fmt: skip
    openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.crt", "-CAkey", f"{ca}.key", "-CAcreateserial",
            "-days", "2", "-out", f"{name}.crt", "-extfile", f"{name}.ext", cwd=folder)  # fmt: skip


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("pki")
    make_ca(folder, "site-ca")
    make_ca(folder, "other-ca")
    make_cert(folder, "site-ca", "broker", "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
    make_cert(folder, "site-ca", "edge", "extendedKeyUsage=clientAuth\n")
    return folder


@pytest.fixture
async def tls_broker(pki: Path, mqtt_broker: tuple[str, int]) -> AsyncIterator[int]:
    """A TLS front end to Mosquitto that wants a client certificate signed by the site's CA."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(pki / "site-ca.crt"))
    context.load_cert_chain(pki / "broker.crt", pki / "broker.key")
    context.verify_mode = ssl.CERT_REQUIRED

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*mqtt_broker)

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(Exception):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    server = await asyncio.start_server(serve, "127.0.0.1", 0, ssl=context)
    yield server.sockets[0].getsockname()[1]
    server.close()


async def until(predicate: object, within: float = 5.0) -> None:
    deadline = time.monotonic() + within
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def test_tls_with_the_sites_ca_and_a_client_certificate(
    pki: Path, tls_broker: int, mqtt_broker: tuple[str, int], mqtt_topic: str
) -> None:
    tls = MqttTls(str(pki / "site-ca.crt"), str(pki / "edge.crt"), str(pki / "edge.key"))
    config = MqttCameraConfig("tls-cam", f"{mqtt_topic}/lpr", "127.0.0.1", tls_broker, camera="tls-cam", tls=tls)
    async with MqttPlateSubscriber(config) as subscriber:
        await until(lambda: subscriber.health.health is Health.ONLINE)
        sim = CameraSim("tls-cam", seed=1)
        async with aiomqtt.Client(*mqtt_broker) as client:
            await sim.publish(client, f"{mqtt_topic}/lpr", sim.read("粤B3R7K2"))
        read = await asyncio.wait_for(subscriber.events.get(), 5)
    assert (read.camera, read.plate) == ("tls-cam", "粤B3R7K2")


@pytest.mark.parametrize("case", ["other-ca", "no-client-certificate", "missing-file"])
async def test_tls_refuses_a_broker_it_cannot_verify_or_without_our_certificate(
    pki: Path, tls_broker: int, mqtt_topic: str, case: str
) -> None:
    tls = {
        "other-ca": MqttTls(str(pki / "other-ca.crt"), str(pki / "edge.crt"), str(pki / "edge.key")),
        "no-client-certificate": MqttTls(str(pki / "site-ca.crt")),
        "missing-file": MqttTls(str(pki / "nope.crt")),
    }[case]
    config = MqttCameraConfig("tls-bad", f"{mqtt_topic}/lpr", "127.0.0.1", tls_broker, tls=tls, max_backoff=0.2)
    async with MqttPlateSubscriber(config) as subscriber:
        await until(lambda: subscriber.health.reason != "not started" and subscriber.connections == 0, 3.0)
        await asyncio.sleep(0.5)
        assert subscriber.connections == 0
        assert subscriber.health.health is Health.OFFLINE


async def test_unbounded_plates_and_oversized_messages_are_refused_and_counted(
    mqtt_broker: tuple[str, int], mqtt_topic: str
) -> None:
    config = MqttCameraConfig("bounded", f"{mqtt_topic}/lpr", *mqtt_broker, camera="bounded")
    too_long = REJECTED.labels("bounded", "plate-too-long")
    too_large = ERRORS.labels("bounded", "too-large")
    long_before, large_before = too_long._value.get(), too_large._value.get()
    async with MqttPlateSubscriber(config) as subscriber:
        await until(lambda: subscriber.health.health is Health.ONLINE)
        async with aiomqtt.Client(*mqtt_broker) as client:
            await client.publish(f"{mqtt_topic}/lpr", json.dumps({"plate": "粤" * 20_000}), qos=1)
            await client.publish(f"{mqtt_topic}/lpr", b"{" + b" " * MAX_MESSAGE + b"}", qos=1)
            await client.publish(f"{mqtt_topic}/lpr", json.dumps({"plate": "粤B3R7K2", "confidence": 0.9}), qos=1)
        read = await asyncio.wait_for(subscriber.events.get(), 5)
    assert read.plate == "粤B3R7K2"
    assert too_long._value.get() == long_before + 1
    assert too_large._value.get() == large_before + 1


def test_site_mqtt_account_and_tls_reach_the_subscriber(tmp_path: Path) -> None:
    device = Device.model_validate({
        "kind": "plate_camera", "driver": "json_mqtt", "field_map": "milesight",
        "connection": {"type": "mqtt", "broker": "mqtts://broker.lan", "topics": ["lpr/in/events"],
                       "username": "edge-1", "password_env": "MQTT_PASSWORD", "ca_file": "mosquitto/ca.crt",
                       "cert_file": "edge.crt", "key_file": "edge.key"},
    })  # fmt: skip
    cameras = SiteCameras(base_dir=tmp_path, environ={"MQTT_PASSWORD": "pw"})
    cameras.add("in-cam", device, lambda _e, _t: None)
    config = cameras.mqtt["in-cam"]
    assert (config.host, config.port, config.username, config.password) == ("broker.lan", 8883, "edge-1", "pw")
    assert config.tls == MqttTls(str(tmp_path / "mosquitto/ca.crt"), str(tmp_path / "edge.crt"),
                                 str(tmp_path / "edge.key"))  # fmt: skip
