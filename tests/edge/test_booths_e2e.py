"""Two booths at one car park through the simulators (real daemon, real Modbus driver against the I/O-module
simulator, plate reads pushed over HTTP as the cameras do): each booth's console on its own listener shows and
drives only its booth's lanes, each has its own shift and report, and a free vehicle the lane lets through by itself
is counted by category in its booth's report."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from drivers.lpr import encode_milesight
from edge.booth.operators import Role
from edge.booth.shift import Shift
from edge.daemon import EdgeDaemon
from edge.site import load_site
from edge.store.lists import ListStore, lists_path
from parking.wire import SyncPage, VehicleList
from tests.edge.console.test_api import FLOAT, MovableClock
from tests.edge.kit import a_vehicle
from tests.edge.test_daemon import REPO, SimLane, free_port, modbus_io_devices, online, push_isapi, start_sim, until

FREE_PLATE = "粤B00110"


def booths_site(tmp_path: Path, ports: dict[str, int], cameras: int) -> Path:
    """An entry and an exit for the east booth (B1, on the console listener), another exit for the west booth."""
    devices = modbus_io_devices({f"{lane}-io": port for lane, port in ports.items()})
    devices += (
        f'[devices.in-cam]\nkind = "plate_camera"\ndriver = "hikvision_isapi"\ncamera_id = "in-cam"\n'
        f'connection = {{ type = "http_listen", listen = "127.0.0.1:{cameras}", path = "/isapi/in" }}\n\n'
    )
    for lane in ("out-1", "out-2"):
        devices += (
            f'[devices.{lane}-cam]\nkind = "plate_camera"\ndriver = "json_http"\ncamera_id = "{lane}-cam"\n'
            f'field_map = "milesight"\n'
            f'connection = {{ type = "http_listen", listen = "127.0.0.1:{cameras}", path = "/lpr/{lane}" }}\n\n'
        )
    lanes = ""
    for lane in ports:
        entry = lane.startswith("in")
        kind = 'direction = "entry"\nmode = "unattended"' if entry else 'direction = "exit"\ntariff = "hourly"'
        camera = "in-cam" if entry else f"{lane}-cam"
        lanes += (
            f'[[lanes]]\nid = "{lane}"\n{kind}\n'
            f'devices = {{ barrier = "{lane}-io", loops = "{lane}-io", camera = "{camera}" }}\n\n'
        )
    (tmp_path / "tariffs").mkdir(exist_ok=True)
    (tmp_path / "tariffs" / "hourly.toml").write_bytes((REPO / "config" / "tariffs" / "residential.toml").read_bytes())
    site = f"""
[car_park]
id = "lakeview"
name = "Lakeview"
timezone = "Asia/Shanghai"
currency = "CNY"
capacity = {{ small = 10 }}

[journal]
path = "var/journal.sqlite3"

[tariffs.hourly]
file = "tariffs/hourly.toml"

[booths.B1]
name = "East"
lanes = ["in-1", "out-1"]

[booths.B2]
name = "West"
lanes = ["out-2"]
console_listen = "127.0.0.1:0"

{devices}
{lanes}"""
    path = tmp_path / "site.toml"
    path.write_text(site)
    return path


async def push_exit_plate(port: int, lane: str, plate: str) -> None:
    body = encode_milesight(plate=plate, confidence=0.93, direction="Approach", at=datetime.now(UTC),
                            device=f"{lane}-cam")  # fmt: skip
    async with httpx.AsyncClient() as client:
        response = await client.post(f"http://127.0.0.1:{port}/lpr/{lane}", content=body,
                                     headers={"Content-Type": "application/json"})  # fmt: skip
    assert response.status_code == 200


@pytest.fixture
async def lanes() -> AsyncIterator[dict[str, SimLane]]:
    sims = {lane: await start_sim() for lane in ("in-1", "out-1", "out-2")}
    yield sims
    for sim in sims.values():
        await sim.serving.stop()


async def console(daemon: EdgeDaemon, booth: str, operator: str, pin: str) -> httpx.AsyncClient:
    client = httpx.AsyncClient(base_url=f"http://127.0.0.1:{daemon.console_port(booth)}/console/api/", timeout=10)
    signed = await client.post("sign-in", json={"operator": operator, "pin": pin})
    assert signed.status_code == 200, signed.text
    opened = await client.post("shift/open", json={"float": FLOAT, "cards_stock": 50})
    assert opened.status_code == 200, opened.text
    return client


async def enter(daemon: EdgeDaemon, sim: SimLane, cameras: int, plate: str, entered: int) -> None:
    await push_isapi(cameras, plate, 96)
    sim.drive_up()
    await until(lambda: sim.model.passed == entered, what=f"{plate} through the entry")


async def paid_exit(client: httpx.AsyncClient, daemon: EdgeDaemon, sim: SimLane, lane: str, plate: str,
                    method: dict[str, Any]) -> dict[str, Any]:  # fmt: skip
    before = sim.model.passed
    await push_exit_plate(cameras_port(daemon), lane, plate)
    sim.drive_up()
    await until(lambda: daemon.lanes[lane].phase.value == "waiting", what=f"{plate} waiting at {lane}")
    paid = await client.post(f"lanes/{lane}/pay", json=method)
    assert paid.status_code == 200, paid.text
    await until(lambda: sim.model.passed == before + 1, what=f"{plate} through {lane}")
    body: dict[str, Any] = paid.json()
    return body


def cameras_port(daemon: EdgeDaemon) -> int:
    return int(str(daemon.site.devices["in-cam"].connection.listen).rpartition(":")[2])  # type: ignore[union-attr]


def device_alerts(daemon: EdgeDaemon, booth: str) -> list[dict[str, Any]]:
    return [a for a in daemon.desks[booth].lane_alerts if str(a.get("key", "")).startswith("device:")]


async def close(client: httpx.AsyncClient, daemon: EdgeDaemon, booth: str) -> Shift:
    shift = daemon.desks[booth].booth.current
    assert shift is not None
    counts = {str(d.denomination): d.count for d in (shift.opened.float_count.lines if shift.opened else [])}
    closed = await client.post("shift/close", json={"counts": counts, "cards_on_hand": 50, "cards_collected": 0,
                                                    "note": f"{booth} done"})  # fmt: skip
    assert closed.status_code == 200, closed.text
    return shift


async def test_two_booths_keep_their_own_shifts_and_reports(tmp_path: Path, lanes: dict[str, SimLane]) -> None:
    cameras = free_port()
    site_file = booths_site(tmp_path, {lane: sim.port for lane, sim in lanes.items()}, cameras)
    store = ListStore(lists_path(tmp_path / "var" / "journal.sqlite3"))  # a free vehicle (police), as synced
    police = a_vehicle(FREE_PLATE, VehicleList.FREE, "police")
    store.apply(SyncPage(since=0, version=3, full=True, more=False, vehicles=[police]), replace=True)
    store.close()
    clock = MovableClock()
    daemon = EdgeDaemon(load_site(site_file), site_file, metrics_listen="127.0.0.1:0", synchronous="NORMAL",
                        drain_timeout_s=10, clock=clock)  # fmt: skip
    assert set(daemon.desks) == {"B1", "B2"}
    assert daemon.desk is daemon.desks["B1"]  # the booth without its own listener: on the console listener
    daemon.desks["B1"].operators.add("c01", "李收费", Role.COLLECTOR, "2468", by="test")
    daemon.desks["B1"].operators.add("c02", "赵收费", Role.COLLECTOR, "1357", by="test")
    await daemon.start()
    east = west = None
    try:
        await until(lambda: online(daemon), what="devices online")
        assert daemon.console_port("B2") not in (None, daemon.console_port("B1"))
        east, west = await console(daemon, "B1", "c01", "2468"), await console(daemon, "B2", "c02", "1357")
        # each console shows its own booth's lanes, and cannot act on the other's
        assert [lane["id"] for lane in (await east.get("state")).json()["lanes"]] == ["out-1", "in-1"]
        assert [lane["id"] for lane in (await west.get("state")).json()["lanes"]] == ["out-2"]
        refused = await east.post("lanes/out-2/pay", json={"method": "cash", "tendered": "10.00"})
        assert (refused.status_code, refused.json()["error"]["code"]) == (404, "lane.unknown")

        for count, plate in enumerate(("粤B12345", "粤A55555", FREE_PLATE), start=1):
            await enter(daemon, lanes["in-1"], cameras, plate, count)
        clock.advance(hours=2)
        west_paid = await paid_exit(west, daemon, lanes["out-2"], "out-2", "粤B12345",
                                    {"method": "cash", "tendered": "20.00"})  # fmt: skip
        east_paid = await paid_exit(east, daemon, lanes["out-1"], "out-1", "粤A55555",
                                    {"method": "epay", "reference": "WX-1"})  # fmt: skip
        # the free vehicle: the lane lets it through by itself
        await push_exit_plate(cameras, "out-1", FREE_PLATE)
        lanes["out-1"].drive_up()
        await until(lambda: lanes["out-1"].model.passed == 2, what="free vehicle through out-1")
        await until(lambda: lanes["out-1"].model.barrier.closed_limit, what="out-1 closed")
        await until(lambda: lanes["out-2"].model.barrier.closed_limit, what="out-2 closed")

        east_shift, west_shift = await close(east, daemon, "B1"), await close(west, daemon, "B2")
        records = daemon.journal.rows("SELECT payload FROM records WHERE kind = 'shift'")
        openings = [o for o in (json.loads(p) for (p,) in records) if o["event"] == "opened"]

        # the west exit's I/O module goes away: the west booth is alerted, the east booth is not
        await lanes["out-2"].serving.stop()
        await until(lambda: bool(device_alerts(daemon, "B2")), what="the west booth alerted of out-2's I/O module")
        west_alerts = device_alerts(daemon, "B2")
        east_alerts = device_alerts(daemon, "B1")
    finally:
        for client in (east, west):
            if client is not None:
                await client.aclose()
        await daemon.stop()
    assert east_shift.id != west_shift.id
    assert [(a["lane"], a["details"]["device"]) for a in west_alerts] == [("out-2", "out-2-io")]
    assert east_alerts == []
    east_report, west_report = east_shift.report, west_shift.report
    assert east_report is not None
    assert west_report is not None
    assert (east_report.booth, west_report.booth) == ("B1", "B2")
    assert (east_report.by_method["epay"].count, east_report.by_method["cash"].count) == (1, 0)
    assert west_report.by_method["cash"].amount == west_paid["amount"] > 0
    assert east_report.takings == east_paid["amount"] > 0
    assert east_report.vehicles == {"small": {"paid": 1, "waiver": 1}}
    assert west_report.vehicles == {"small": {"paid": 1}}
    assert east_report.free_passes == {"free": {"police": 1}}
    assert west_report.free_passes == {}
    assert east_report.waivers == {}  # no waiver at the booth: the lane let the police car through
    assert (east_report.barrier_cycles, west_report.barrier_cycles) == (2, 1)  # each booth's exits only
    assert west_report.cash.difference == -west_report.cash.taken  # the test counted the float only
    # the opening records state each booth's lanes (central attributes lane records by them)
    assert {o["booth"]: o["lanes"] for o in openings} == {"B1": ["in-1", "out-1"], "B2": ["out-2"]}
