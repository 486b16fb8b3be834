"""The daemon end to end through the real Modbus driver and the I/O-module simulator (pymodbus server, RTU over
TCP, lane physics behind it): entry, restart with a vehicle inside, exit, an opening without command, metrics,
and delivery to central after an outage.

Plate reads are pushed over HTTP to the LPR driver's listener as the cameras do: a Hikvision ISAPI alert at the
entry, a Milesight-style JSON event at the exit.
"""

from __future__ import annotations

import asyncio
import shutil
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import aiomqtt
import httpx
import pytest

from drivers.lpr import encode_isapi_xml, encode_milesight
from drivers.modbus import IoMap, IoPoint
from edge.daemon import EdgeDaemon
from edge.lanes.events import BarrierPosition
from edge.lanes.lane import Phase
from edge.site import load_site
from edge.store.journal import Journal
from edge.store.lists import ListStore, lists_path
from parking.wire import SyncPage
from simulators.barrier import SAFETY_LOOP, BarrierConfig, BarrierModel, LaneModel
from simulators.card_reader import OsdpCardReaderSim, WiegandConverterSim
from simulators.dispenser import DispenserModel, DispenserSimulator
from simulators.display import DisplaySimulator
from simulators.io_module import IoModuleSimulator, ModbusServing
from simulators.loop_detector import LoopDetectorSimulator
from simulators.pty import PtyLink
from tests.edge.central_double import TOKEN, CentralDouble
from tests.edge.journal_invariants import check_journal
from tests.edge.kit import a_pass
from tests.services import free_tcp_port
from tests.soak_summary import Row, record

free_port = free_tcp_port  # the tests that build sites import it from here

REPO = Path(__file__).resolve().parents[2]
IO_MAP = IoMap(
    open=IoPoint(0), close=IoPoint(1), pulse_ms=100, open_limit=IoPoint(0), closed_limit=IoPoint(1),
    arming_loop=IoPoint(2), safety_loop=IoPoint(3), fault=IoPoint(4),
)  # fmt: skip


async def push_isapi(port: int, plate: str, confidence: int) -> None:
    xml = encode_isapi_xml(plate=plate, confidence=confidence, at=datetime.now(UTC), event_id=uuid.uuid4().hex)
    async with httpx.AsyncClient() as client:
        response = await client.post(f"http://127.0.0.1:{port}/isapi/in", content=xml,
                                     headers={"Content-Type": "application/xml"})  # fmt: skip
    assert response.status_code == 200


async def push_json(port: int, plate: str, confidence: float) -> None:
    body = encode_milesight(plate=plate, confidence=confidence, direction="Approach", at=datetime.now(UTC),
                            device="out-cam")  # fmt: skip
    async with httpx.AsyncClient() as client:
        response = await client.post(f"http://127.0.0.1:{port}/lpr/out", content=body,
                                     headers={"Content-Type": "application/json"})  # fmt: skip
    assert response.status_code == 200


@dataclass
class SimLane:
    sim: IoModuleSimulator
    serving: ModbusServing
    port: int

    @property
    def model(self) -> LaneModel:
        return self.sim.lane

    def drive_up(self) -> None:
        self.model.add_vehicle(time.monotonic(), front=0.0, speed=8.0)


async def start_sim() -> SimLane:
    barrier = BarrierModel(BarrierConfig(travel_time_s=0.3, allow_short_travel=True), now=time.monotonic())
    sim = IoModuleSimulator(LaneModel(barrier), io_map=IO_MAP)
    serving = sim.serving()
    port = await serving.serve_tcp("127.0.0.1", 0)
    return SimLane(sim, serving, port)


BARRIER_POINTS = ("open", "close", "open_limit", "closed_limit", "arming_loop", "safety_loop")


def modbus_io_devices(ports: dict[str, int], points: tuple[str, ...] = BARRIER_POINTS) -> str:
    """Site-file tables for Modbus TCP I/O modules named by ``ports``, wired as :data:`IO_MAP` says for ``points``."""
    io_map = "\n".join(f"{name} = {{ address = {getattr(IO_MAP, name).address} }}" for name in points)
    return "".join(
        f'[devices.{name}]\nkind = "barrier_io"\ndriver = "modbus_io"\n'
        f'connection = {{ type = "tcp", host = "127.0.0.1", port = {port} }}\n'
        f"modbus = {{ unit_id = 1, poll_interval_ms = 10 }}\n[devices.{name}.io_map]\npulse_ms = 100\n{io_map}\n\n"
        for name, port in ports.items()
    )


def write_site(tmp_path: Path, entry_port: int, exit_port: int, central_url: str | None, camera_port: int) -> Path:
    central = f'[central]\nurl = "{central_url}"\nedge_id = "lakeview-edge"\ntoken = "{TOKEN}"\n' if central_url else ""
    devices = modbus_io_devices({"in-io": entry_port, "out-io": exit_port}, (*BARRIER_POINTS, "fault"))
    devices += (
        f'[devices.in-cam]\nkind = "plate_camera"\ndriver = "hikvision_isapi"\ncamera_id = "in-cam"\n'
        f'connection = {{ type = "http_listen", listen = "127.0.0.1:{camera_port}", path = "/isapi/in" }}\n\n'
        f'[devices.out-cam]\nkind = "plate_camera"\ndriver = "json_http"\ncamera_id = "out-cam"\n'
        f'field_map = "milesight"\n'
        f'connection = {{ type = "http_listen", listen = "127.0.0.1:{camera_port}", path = "/lpr/out" }}\n\n'
    )
    (tmp_path / "tariffs").mkdir(exist_ok=True)
    shutil.copy(REPO / "config" / "tariffs" / "residential.toml", tmp_path / "tariffs" / "hourly.toml")
    site = f"""
[car_park]
id = "lakeview"
name = "Lakeview"
timezone = "Asia/Shanghai"
currency = "CNY"
capacity = {{ small = 10 }}

[journal]
path = "var/journal.sqlite3"

{central}
[tariffs.hourly]
file = "tariffs/hourly.toml"

{devices}
[[lanes]]
id = "in-1"
direction = "entry"
mode = "unattended"
devices = {{ barrier = "in-io", loops = "in-io", camera = "in-cam" }}

[[lanes]]
id = "out-1"
direction = "exit"
mode = "unattended"
tariff = "hourly"
devices = {{ barrier = "out-io", loops = "out-io", camera = "out-cam" }}
"""
    path = tmp_path / "site.toml"
    path.write_text(site)
    return path


async def until(check: Callable[[], bool], within: float = 8.0, what: str = "") -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what or check}")


@pytest.fixture
async def sims() -> AsyncIterator[tuple[SimLane, SimLane]]:
    entry, out = await start_sim(), await start_sim()
    yield entry, out
    await entry.serving.stop()
    await out.serving.stop()


def daemon_for(site_file: Path) -> EdgeDaemon:
    return EdgeDaemon(
        load_site(site_file), site_file, metrics_listen="127.0.0.1:0", synchronous="NORMAL",
        drain_timeout_s=10,
    )  # fmt: skip


def online(daemon: EdgeDaemon) -> bool:
    assert daemon.devices is not None
    return all(io.inputs is not None for io in daemon.devices.io_modules.values())


async def test_vehicle_in_restart_vehicle_out_through_real_modbus(
    tmp_path: Path, sims: tuple[SimLane, SimLane]
) -> None:
    entry, out = sims
    central = CentralDouble()
    await central.start()
    await central.stop()  # central is down the whole time the vehicle is in
    cameras = free_port()
    site_file = write_site(tmp_path, entry.port, out.port, central.url, cameras)
    daemon = daemon_for(site_file)
    await daemon.start()
    try:
        await until(lambda: online(daemon), what="devices online")
        await push_isapi(cameras, "粤B12345", 96)  # the camera fires first
        entry.drive_up()
        await until(lambda: entry.model.passed == 1, what="vehicle through the entry")
        await until(lambda: entry.model.barrier.closed_limit, what="entry barrier closed")
        contacts = [c.point for c in entry.sim.output_changes if c.active]
        assert contacts == ["open", "close"]
        assert daemon.park.occupancy["small"] == 1

        # An opening nobody commanded (the barrier's own button, or a power cut): an abnormal event.
        entry.model.contact(time.monotonic(), "open")
        await until(lambda: daemon.journal.count("abnormal_events", "event = 'opened_without_command'") == 1,
                    what="abnormal event")  # fmt: skip
        metrics_port = daemon.metrics_port
        async with httpx.AsyncClient() as client:
            text = (await client.get(f"http://127.0.0.1:{metrics_port}/metrics")).text
        decision = 'parkgate_edge_decisions_total{direction="entry",identity="temporary",lane="in-1",outcome="open"}'
        assert f"{decision} 1.0" in text
        assert "parkgate_edge_decision_latency_seconds_count" in text
        assert 'parkgate_edge_occupancy{vehicle_class="small"} 1.0' in text
    finally:
        await daemon.stop()

    # Restart with the vehicle inside: its session is recovered and found at the exit.
    await central.start()
    daemon = daemon_for(site_file)
    assert daemon.park.occupancy["small"] == 1
    await daemon.start()
    try:
        await until(lambda: online(daemon), what="devices online")
        await push_json(cameras, "粤B12345", 0.93)
        out.drive_up()
        await until(lambda: out.model.passed == 1, what="vehicle through the exit")
        assert daemon.park.occupancy["small"] == 0
        assert daemon.journal.count("transactions", "kind = 'nothing_due'") == 1
        assert daemon.journal.count("sessions", "status = 'closed'") == 1
        await until(lambda: daemon.journal.backlog() == 0, within=10, what="delivery to central")
    finally:
        await daemon.stop()
        await central.stop()
    assert len(central.records) >= 8
    assert central.chain().value == "ok"


async def barrier_fault_cycles(tmp_path: Path, sims: tuple[SimLane, SimLane], cycles: int) -> None:
    """``cycles`` times: the entry barrier reports a fault (journaled), recovers, and a vehicle goes through; the edge
    is asked to stop with the last vehicle under the barrier and lets it through first."""
    entry, out = sims
    cameras = free_port()
    site_file = write_site(tmp_path, entry.port, out.port, None, cameras)
    site_file.write_text(site_file.read_text().replace("capacity = { small = 10 }",
                                                       f"capacity = {{ small = {cycles + 10} }}"))  # fmt: skip
    daemon = daemon_for(site_file)
    plates: list[str] = []
    await daemon.start()
    stopped = False
    try:
        await until(lambda: online(daemon), what="devices online")
        lane = daemon.lanes["in-1"]
        for cycle in range(cycles):
            entry.model.barrier.inject_fault(time.monotonic(), "motor overload")
            await until(lambda: daemon.journal.count("abnormal_events", "event = 'barrier_fault'") == cycle + 1,  # noqa: B023
                        what=f"fault {cycle + 1} journaled")  # fmt: skip
            entry.model.barrier.clear_fault(time.monotonic())
            await until(lambda: lane.barrier.position is BarrierPosition.CLOSED, what="the barrier back")
            await asyncio.sleep(0.1)

            plate = f"粤B5{cycle:04d}"
            plates.append(plate)
            await push_isapi(cameras, plate, 95)
            entry.drive_up()
            if cycle + 1 < cycles:
                await until(lambda: entry.model.passed == len(plates) and entry.model.barrier.closed_limit,
                            what=f"{plate} through")  # fmt: skip
                await until(lambda: lane.phase is Phase.IDLE, what="entry lane idle")
                await asyncio.sleep(1.1)  # the camera stamps whole seconds: the next read is plainly later
        await until(lambda: lane.busy and entry.model.barrier.open_limit, what="barrier up")
        await daemon.stop()  # asked to stop with a vehicle under the barrier: it is let through first
        stopped = True
    finally:
        if not stopped:
            await daemon.stop()
    assert all(v.rear > SAFETY_LOOP[1] for v in entry.model.vehicles)  # past the barrier
    entry.model.advance(time.monotonic() + 2.0)  # the model counts it once it has driven on
    assert entry.model.passed == cycles
    assert [c.point for c in entry.sim.output_changes if c.active] == ["open", "close"] * cycles
    journal = Journal(daemon.journal.path, "lakeview")
    closes = journal.count("barrier_commands", "command = 'close'")
    faults = journal.count("abnormal_events", "event = 'barrier_fault'")
    tally = check_journal(journal, "in-1", entry.sim, plates)
    record(Row(target="barrier reporting a fault", faults=faults, transactions=len(plates), lost=tally.lost,
               duplicated=tally.duplicated,
               detail="each barrier_fault journaled; the vehicle after it let through, even at shutdown"))  # fmt: skip
    assert closes == cycles
    assert faults == cycles
    assert tally.sessions == plates


async def test_shutdown_finishes_the_vehicle_in_the_lane_and_faults_are_recorded(
    tmp_path: Path, sims: tuple[SimLane, SimLane]
) -> None:
    await barrier_fault_cycles(tmp_path, sims, cycles=1)


@pytest.mark.soak
@pytest.mark.timeout(900)
async def test_soak_a_barrier_faulting_and_recovering_during_traffic(
    tmp_path: Path, sims: tuple[SimLane, SimLane]
) -> None:
    await barrier_fault_cycles(tmp_path, sims, cycles=100)


async def test_monthly_pass_card_through_the_wiegand_converter(tmp_path: Path, sims: tuple[SimLane, SimLane]) -> None:
    entry, out = sims
    link = PtyLink("wiegand", tmp_path).open()
    converter = WiegandConverterSim(link.device_port)
    site_file = write_site(tmp_path, entry.port, out.port, None, free_port())
    text = site_file.read_text().replace(
        'camera = "in-cam" }',
        'camera = "in-cam", card_reader = "in-reader" }',
    )
    text += (
        f'\n[devices.in-reader]\nkind = "card_reader"\ndriver = "wiegand_rs485"\n'
        f'connection = {{ type = "serial", port = "{link.host_port}", baudrate = 9600 }}\n'
    )
    site_file.write_text(text)
    # The lists as a previous sync left them: a pass identified by its card.
    store = ListStore(lists_path(tmp_path / "var" / "journal.sqlite3"))
    holder = a_pass("粤B3R7K2", card="12345678", id="pass-1")
    store.apply(SyncPage(since=0, version=7, full=True, more=False, passes=[holder]), replace=True)
    store.close()
    daemon = daemon_for(site_file)
    try:
        await daemon.start()
        await until(lambda: online(daemon), what="devices online")
        entry.drive_up()
        await asyncio.sleep(0.3)
        converter.send(12345678)
        await until(lambda: entry.model.passed == 1, what="pass holder through the entry")
        (row,) = daemon.journal.rows("SELECT kind, pass_id, card FROM sessions")
        assert row == ("pass", "pass-1", "12345678")
    finally:
        await daemon.stop()
        converter.close()
        link.close()


async def test_temporary_card_from_the_dispenser_with_the_display_over_tcp(
    tmp_path: Path, sims: tuple[SimLane, SimLane]
) -> None:
    entry, out = sims
    display = DisplaySimulator()
    display_port = await display.server.serve_tcp("127.0.0.1", 0)
    dispenser = DispenserSimulator(DispenserModel(present_time_s=0.05, take_after_s=0.1))
    dispenser_port = await dispenser.server.serve_tcp("127.0.0.1", 0)
    await dispenser.start_ticking()
    cameras = free_port()
    site_file = write_site(tmp_path, entry.port, out.port, None, cameras)
    text = site_file.read_text().replace(
        'camera = "in-cam" }', 'camera = "in-cam", display = "in-led", dispenser = "in-cards" }\nticketless = false'
    )
    text += (
        f'\n[devices.in-led]\nkind = "display"\ndriver = "serial_text"\n'
        f'connection = {{ type = "tcp", host = "127.0.0.1", port = {display_port} }}\n'
        f'\n[devices.in-cards]\nkind = "card_dispenser"\ndriver = "serial_dispenser"\n'
        f'connection = {{ type = "tcp", host = "127.0.0.1", port = {dispenser_port} }}\n'
    )
    site_file.write_text(text)
    daemon = daemon_for(site_file)
    try:
        await daemon.start()
        await until(lambda: online(daemon), what="devices online")
        await push_isapi(cameras, "粤B77777", 97)
        entry.drive_up()
        await until(lambda: entry.model.passed == 1, what="vehicle through with its card")
        (row,) = daemon.journal.rows("SELECT kind, plate, card FROM sessions")
        assert row[:2] == ("temporary", "粤B77777")
        assert row[2] == "04A10001"  # the card the dispenser issued and the driver took
        assert dispenser.model.issued == 1
        await until(lambda: "临时卡 欢迎光临" in display.text(), what="welcome on the display")
    finally:
        await daemon.stop()
        await dispenser.stop()
        await display.server.stop()


async def test_loops_from_a_separate_loop_detector_on_the_same_bus(
    tmp_path: Path, sims: tuple[SimLane, SimLane]
) -> None:
    _, out = sims
    barrier = BarrierModel(BarrierConfig(travel_time_s=0.3, allow_short_travel=True), now=time.monotonic())
    lane_model = LaneModel(barrier)
    contacts_only = IoMap(open=IoPoint(0), close=IoPoint(1), pulse_ms=100, open_limit=IoPoint(0),
                          closed_limit=IoPoint(1))  # fmt: skip
    io = IoModuleSimulator(lane_model, io_map=contacts_only, unit_id=1)
    detector = LoopDetectorSimulator(lane_model, unit_id=5)
    serving = ModbusServing(io.device, detector.device)
    port = await serving.serve_tcp("127.0.0.1", 0)
    cameras = free_port()
    site_file = write_site(tmp_path, port, out.port, None, cameras)
    text = site_file.read_text()
    text = text.replace("safety_loop = { address = 3 }\n", "", 1).replace("arming_loop = { address = 2 }\n", "", 1)
    text = text.replace(
        'devices = { barrier = "in-io", loops = "in-io",', 'devices = { barrier = "in-io", loops = "in-ld",'
    )
    text += (
        f'\n[devices.in-ld]\nkind = "loop_detector"\ndriver = "modbus_ld"\n'
        f'connection = {{ type = "tcp", host = "127.0.0.1", port = {port} }}\n'
        f"modbus = {{ unit_id = 5, poll_interval_ms = 10 }}\n"
    )
    site_file.write_text(text)
    daemon = daemon_for(site_file)
    try:
        await daemon.start()
        await until(lambda: online(daemon), what="devices online")
        await push_isapi(cameras, "粤B24680", 95)
        lane_model.add_vehicle(time.monotonic(), front=0.0, speed=8.0)
        await until(lambda: lane_model.passed == 1, what="vehicle through")
        await until(lambda: lane_model.barrier.closed_limit, what="barrier closed behind it")
        assert [c.point for c in io.output_changes if c.active] == ["open", "close"]
    finally:
        await daemon.stop()
        await serving.stop()


@pytest.mark.mqtt
async def test_plate_read_over_mqtt_from_mosquitto(
    tmp_path: Path, sims: tuple[SimLane, SimLane], mqtt_broker: tuple[str, int], mqtt_topic: str
) -> None:
    entry, out = sims
    host, port = mqtt_broker
    site_file = write_site(tmp_path, entry.port, out.port, None, free_port())
    text = site_file.read_text().replace('camera = "in-cam" }', 'camera = "in-mqtt" }')
    text += (
        f'\n[devices.in-mqtt]\nkind = "plate_camera"\ndriver = "json_mqtt"\ncamera_id = "in-mqtt"\n'
        f'field_map = "milesight"\n'
        f'connection = {{ type = "mqtt", broker = "mqtt://{host}:{port}", topics = ["{mqtt_topic}/lpr"] }}\n'
    )
    site_file.write_text(text)
    daemon = daemon_for(site_file)
    try:
        await daemon.start()
        await until(lambda: online(daemon), what="devices online")
        await asyncio.sleep(0.5)  # the subscription
        body = encode_milesight(plate="粤B86420", confidence=0.94, direction="Approach", at=datetime.now(UTC),
                                device="in-mqtt")  # fmt: skip
        async with aiomqtt.Client(host, port) as client:
            await client.publish(f"{mqtt_topic}/lpr", body, qos=1)
        entry.drive_up()
        await until(lambda: entry.model.passed == 1, what="vehicle through on an MQTT read")
        (row,) = daemon.journal.rows("SELECT plate FROM sessions")
        assert row == ("粤B86420",)
    finally:
        await daemon.stop()


async def test_monthly_pass_card_through_an_osdp_reader_with_secure_channel(
    tmp_path: Path, sims: tuple[SimLane, SimLane], monkeypatch: pytest.MonkeyPatch
) -> None:
    entry, out = sims
    key = bytes(range(16))
    monkeypatch.setenv("TEST_OSDP_SCBK", key.hex())
    link = PtyLink("osdp", tmp_path).open()
    site_file = write_site(tmp_path, entry.port, out.port, None, free_port())
    text = site_file.read_text().replace('camera = "in-cam" }', 'camera = "in-cam", card_reader = "in-osdp" }')
    text += (
        f'\n[devices.in-osdp]\nkind = "card_reader"\ndriver = "osdp"\naddress = 3\nsecure_channel = true\n'
        f'scbk_env = "TEST_OSDP_SCBK"\n'
        f'connection = {{ type = "serial", port = "{link.host_port}", baudrate = 115200 }}\n'
    )
    site_file.write_text(text)
    store = ListStore(lists_path(tmp_path / "var" / "journal.sqlite3"))
    holder = a_pass("粤B3R7K2", card="123:45678", id="pass-osdp")
    store.apply(SyncPage(since=0, version=3, full=True, more=False, passes=[holder]), replace=True)
    store.close()
    with OsdpCardReaderSim(link.device_port, address=3, scbk=key, baudrate=115200) as reader:
        daemon = daemon_for(site_file)
        try:
            await daemon.start()
            await until(lambda: online(daemon) and reader.secure, within=10, what="secure channel")
            entry.drive_up()
            await asyncio.sleep(0.3)
            reader.present_card(123, 45678)
            await until(lambda: entry.model.passed == 1, what="pass holder through on an OSDP card")
            (row,) = daemon.journal.rows("SELECT kind, pass_id, card FROM sessions")
            assert row == ("pass", "pass-osdp", "123:45678")
        finally:
            await daemon.stop()
    link.close()


async def test_tailgating_is_recorded_and_the_barrier_waits_for_the_second_vehicle(
    tmp_path: Path, sims: tuple[SimLane, SimLane]
) -> None:
    entry, out = sims
    cameras = free_port()
    daemon = daemon_for(write_site(tmp_path, entry.port, out.port, None, cameras))
    try:
        await daemon.start()
        await until(lambda: online(daemon), what="devices online")
        await push_isapi(cameras, "粤B11223", 95)
        first = entry.model.add_vehicle(time.monotonic(), front=0.0, speed=3.0)
        await until(lambda: entry.model.barrier.open_limit, what="barrier open")
        # A second car follows 2.2 m behind: the loop sees the gap (~70 ms), but the car is past the stop line
        # when the barrier starts down, so it drives under it.
        entry.model.add_vehicle(time.monotonic(), front=first.rear - 2.2, speed=3.0)
        await until(lambda: entry.model.passed == 2, within=15, what="both cars through")
        await until(lambda: daemon.journal.count("abnormal_events", "event = 'tailgating'") == 1, what="tailgating")
        await until(lambda: entry.model.barrier.closed_limit, what="barrier closed behind the second car")
        assert daemon.journal.count("sessions") == 1  # one entry recorded, the tailgater flagged
    finally:
        await daemon.stop()
