"""The shipped Mosquitto set-up, run for real: a second ``mosquitto`` process started from
``config/mosquitto/parkgate.conf`` and ``parkgate.acl`` (paths and ports moved into a temporary folder), a broker
certificate from a CA made for the test, a password file made by ``mosquitto_passwd``.

The edge's MQTT cameras, configured as the site file gives them (their own broker account, ``mqtts://`` with the
site's CA), receive what each camera publishes over TLS to its own topic; a wrong password is refused (the camera's
and the edge's); a camera publishing on another camera's topic, and the edge's read-only account publishing at all,
are dropped by the ACL; a client that does not trust the site's CA cannot connect."""

from __future__ import annotations

import asyncio
import getpass
import shutil
import ssl
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import aiomqtt
import pytest

from drivers.health import Health
from edge.devices.cameras import SiteCameras
from edge.lanes.events import LaneEvent, PlateSeen
from edge.site import Device
from simulators.camera import CameraSim
from tests.pki import TestCa
from tests.services import free_tcp_port, port_open, require

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "config" / "mosquitto"
pytestmark = pytest.mark.mqtt  # a Mosquitto of its own, not the one at 1883
ACCOUNTS = {"edge-riverside": "edge-Pw-7319", "cam-south-in": "south-Pw-2264", "cam-visitor-out": "visitor-Pw-5810"}


def mosquitto_binaries() -> tuple[str, str] | None:
    broker = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None)
    passwd = shutil.which("mosquitto_passwd") or ("/usr/bin/mosquitto_passwd"
                                                  if Path("/usr/bin/mosquitto_passwd").exists() else None)  # fmt: skip
    return (broker, passwd) if broker and passwd else None


@dataclass
class Broker:
    port: int  # the TLS listener
    ca: Path
    folder: Path
    log: Path

    def client(
        self, user: str, password: str | None = None, *, trust: bool = True, cert: bool = False
    ) -> aiomqtt.Client:
        context = ssl.create_default_context(cafile=str(self.ca) if trust else None)
        if cert:
            context.load_cert_chain(self.folder / "certs" / f"{user}.crt", self.folder / "certs" / f"{user}.key")
        return aiomqtt.Client("127.0.0.1", self.port, username=user, password=password or ACCOUNTS[user],
                              tls_context=context, timeout=3)  # fmt: skip


@contextmanager
def run_broker(folder: Path, *, require_certificate: bool = False) -> Iterator[Broker]:
    """The shipped configuration and ACL in ``folder`` (its /etc/mosquitto/ paths and ports moved there), run."""
    binaries = mosquitto_binaries()
    require(binaries is not None, "the mosquitto and mosquitto_passwd binaries are not installed (apt mosquitto)")
    assert binaries is not None
    mosquitto, mosquitto_passwd = binaries
    (folder / "pki").mkdir()
    (folder / "certs").mkdir()
    ca = TestCa(folder / "pki", "site")
    server = ca.issue("broker", server=True)
    shutil.copy(ca.cert, folder / "certs" / "ca.crt")
    shutil.copy(server.cert, folder / "certs" / "broker.crt")
    shutil.copy(server.key, folder / "certs" / "broker.key")
    for user in ACCOUNTS:  # client certificates, for a broker that requires them
        issued = ca.issue(user, server=False)
        shutil.copy(issued.cert, folder / "certs" / f"{user}.crt")
        shutil.copy(issued.key, folder / "certs" / f"{user}.key")
    passwd = folder / "parkgate.passwd"
    for n, (user, password) in enumerate(ACCOUNTS.items()):
        create = ["-c"] if n == 0 else []
        subprocess.run([mosquitto_passwd, *create, "-b", str(passwd), user, password], check=True,
                       capture_output=True)  # fmt: skip
    shutil.copy(SHIPPED / "parkgate.acl", folder / "parkgate.acl")
    plain, tls = free_tcp_port(), free_tcp_port()
    conf = (SHIPPED / "parkgate.conf").read_text()
    changes = [("/etc/mosquitto/", f"{folder}/"), ("/var/lib/mosquitto/", f"{folder}/"),
               ("listener 1883 127.0.0.1", f"listener {plain} 127.0.0.1"),
               ("listener 8883\n", f"listener {tls} 127.0.0.1\n")]  # fmt: skip
    if require_certificate:
        changes.append(("require_certificate false", "require_certificate true"))
    for shipped, here in changes:
        assert shipped in conf, shipped
        conf = conf.replace(shipped, here)
    # Run as whoever runs the tests (as root it would switch to the mosquitto user, who cannot read the folder).
    conf += f"\nuser {getpass.getuser()}\nlog_dest stderr\nlog_type all\n"
    (folder / "parkgate.conf").write_text(conf)
    log = folder / "mosquitto.log"
    with log.open("wb") as out:
        process = subprocess.Popen([mosquitto, "-c", str(folder / "parkgate.conf")], stdout=out, stderr=out)
    deadline = time.monotonic() + 10
    while not port_open("127.0.0.1", tls):
        assert process.poll() is None, log.read_text()
        assert time.monotonic() < deadline, f"mosquitto did not listen: {log.read_text()}"
        time.sleep(0.05)
    try:
        yield Broker(tls, folder / "certs" / "ca.crt", folder, log)
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    with run_broker(tmp_path_factory.mktemp("mosquitto")) as running:
        yield running


def camera_device(broker: Broker, topic: str, *, client_certificate: bool = False) -> Device:
    """A plate camera as the site file declares it: the edge's account, TLS with the site's CA and, if asked, the
    edge's client certificate (paths relative to the site file's folder)."""
    connection = {
        "type": "mqtt",
        "broker": f"mqtts://127.0.0.1:{broker.port}",
        "topics": [topic],
        "username": "edge-riverside",
        "password_env": "PARKGATE_MQTT_PASSWORD",
        "ca_file": "certs/ca.crt",
    }
    if client_certificate:
        connection |= {"cert_file": "certs/edge-riverside.crt", "key_file": "certs/edge-riverside.key"}
    return Device.model_validate({"kind": "plate_camera", "driver": "json_mqtt", "field_map": "milesight",
                                  "connection": connection})  # fmt: skip


@pytest.fixture
async def cameras(broker: Broker) -> AsyncIterator[tuple[SiteCameras, dict[str, list[str]]]]:
    site = SiteCameras(base_dir=broker.folder, environ={"PARKGATE_MQTT_PASSWORD": ACCOUNTS["edge-riverside"]})
    reads: dict[str, list[str]] = {"south-in": [], "visitor-out": []}
    for lane in reads:

        def submit(event: LaneEvent, _at: float, lane: str = lane) -> None:
            if isinstance(event, PlateSeen) and event.plate is not None:
                reads[lane].append(event.plate)

        site.add(lane, camera_device(broker, f"lpr/{lane}/events"), submit)
    await site.start([])
    try:
        await until(lambda: all(t.health is Health.ONLINE for t in site.trackers.values()), "subscribed over TLS")
        yield site, reads
    finally:
        await site.stop()


async def until(check: object, what: str, within: float = 8.0) -> None:
    deadline = time.monotonic() + within
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


async def publish(client: aiomqtt.Client, topic: str, plate: str) -> None:
    sim = CameraSim("cam", seed=7)
    await sim.publish(client, topic, sim.read(plate))  # QoS 1: acknowledged once the broker has taken it (or not)


async def test_each_camera_reaches_the_edge_over_tls_and_only_on_its_own_topic(
    broker: Broker, cameras: tuple[SiteCameras, dict[str, list[str]]]
) -> None:
    _site, reads = cameras
    async with broker.client("cam-south-in") as south, broker.client("cam-visitor-out") as visitor:
        await publish(south, "lpr/south-in/events", "粤B3R7K2")
        await until(lambda: reads["south-in"] == ["粤B3R7K2"], "the south camera's read")
        # Forged: the south camera speaking for the visitor exit; the edge's read-only account publishing.
        await publish(south, "lpr/visitor-out/events", "粤A00001")
        async with broker.client("edge-riverside") as edge:
            await publish(edge, "lpr/south-in/events", "粤A00002")
        await publish(visitor, "lpr/visitor-out/events", "粤C55555")
        await until(lambda: reads["visitor-out"] == ["粤C55555"], "the visitor camera's read")
        await publish(south, "lpr/south-in/events", "粤B99999")
        await until(lambda: reads["south-in"] == ["粤B3R7K2", "粤B99999"], "the south camera's second read")
    await asyncio.sleep(0.3)
    assert reads == {"south-in": ["粤B3R7K2", "粤B99999"], "visitor-out": ["粤C55555"]}  # the forged two dropped
    log = broker.log.read_text(errors="replace")
    assert "Denied PUBLISH from" in log  # the broker says why


async def test_a_wrong_password_or_an_untrusted_broker_is_refused(broker: Broker) -> None:
    with pytest.raises(aiomqtt.MqttError) as wrong:
        async with broker.client("cam-south-in", "not-the-password"):
            pass
    assert "authori" in str(wrong.value).lower() or "password" in str(wrong.value).lower(), wrong.value
    with pytest.raises(aiomqtt.MqttError):  # the system's CAs do not know the site's CA
        async with broker.client("cam-south-in", trust=False):
            pass

    # The edge's camera with a wrong password in its environment variable: never subscribed, offline with why.
    site = SiteCameras(base_dir=broker.folder, environ={"PARKGATE_MQTT_PASSWORD": "not-the-password"})
    site.add("south-in", camera_device(broker, "lpr/south-in/events"), lambda _e, _t: None)
    site.mqtt["south-in"] = replace(site.mqtt["south-in"], max_backoff=0.2)
    await site.start([])
    try:
        tracker = site.trackers["south-in"]
        await until(lambda: "broker" in tracker.reason, "the refusal")
        await asyncio.sleep(0.5)
        assert tracker.health is Health.OFFLINE
        assert site.listeners[0].connections == 0
    finally:
        await site.stop()


async def test_a_broker_requiring_client_certificates_takes_the_edges_and_refuses_a_camera_without(
    tmp_path: Path,
) -> None:
    """``require_certificate true`` in the shipped configuration: the edge's camera device presents the certificate
    its site file names (``cert_file``/``key_file``); a camera with the right password but no certificate is
    refused."""
    with run_broker(tmp_path, require_certificate=True) as broker:
        site = SiteCameras(base_dir=broker.folder, environ={"PARKGATE_MQTT_PASSWORD": ACCOUNTS["edge-riverside"]})
        reads: list[str] = []

        def submit(event: LaneEvent, _at: float) -> None:
            if isinstance(event, PlateSeen) and event.plate is not None:
                reads.append(event.plate)

        site.add("south-in", camera_device(broker, "lpr/south-in/events", client_certificate=True), submit)
        await site.start([])
        try:
            await until(lambda: site.trackers["south-in"].health is Health.ONLINE, "subscribed with a certificate")
            with pytest.raises(aiomqtt.MqttError):
                async with broker.client("cam-south-in"):
                    pass
            async with broker.client("cam-south-in", cert=True) as camera:
                await publish(camera, "lpr/south-in/events", "粤B3R7K2")
            await until(lambda: reads == ["粤B3R7K2"], "the camera's read")
        finally:
            await site.stop()
