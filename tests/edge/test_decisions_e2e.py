"""Lane decisions end to end through the real drivers and the simulators: a blacklisted plate, a full car park,
anti-passback and an exit without an entry record, decided by the daemon from plate reads pushed over HTTP to
the cameras' listener, with the entry barrier's I/O module on a serial line (Modbus RTU over a pseudo-terminal
pair) and the exit's over Modbus TCP. The lists are the ones a previous sync left in the edge's local store."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from edge.daemon import EdgeDaemon
from edge.lanes.lane import Phase
from edge.site import load_site
from edge.store.lists import ListStore, lists_path
from parking.wire import PassRecord, SyncPage, VehicleEntry, VehicleList
from simulators.barrier import BarrierConfig, BarrierModel, LaneModel, Vehicle
from simulators.io_module import IoModuleSimulator
from simulators.pty import PtyLink
from tests.edge.kit import a_pass, a_vehicle
from tests.edge.test_abnormal_e2e import BAUD, SerialLane, payloads, serial_site
from tests.edge.test_daemon import (
    IO_MAP,
    SimLane,
    daemon_for,
    free_port,
    online,
    push_isapi,
    push_json,
    start_sim,
    until,
)


@pytest.fixture
async def lanes(tmp_path: Path) -> AsyncIterator[tuple[SerialLane, SimLane]]:
    link = PtyLink("in-io", tmp_path).open()
    barrier = BarrierModel(BarrierConfig(travel_time_s=0.3, allow_short_travel=True), now=time.monotonic())
    sim = IoModuleSimulator(LaneModel(barrier), io_map=IO_MAP)
    serving = sim.serving()
    await serving.serve_serial(link.device_port, baudrate=BAUD)
    out = await start_sim()
    yield SerialLane(sim, serving, link), out
    await serving.stop()
    await out.serving.stop()
    link.close()


def site_for(
    tmp_path: Path,
    lanes: tuple[SerialLane, SimLane],
    cameras: int,
    *,
    capacity: int = 10,
    anti_passback: str | None = None,
    passes: Sequence[PassRecord] = (),
    vehicles: Sequence[VehicleEntry] = (),
) -> EdgeDaemon:
    """The site file (entry over the pty, exit over TCP) and the lists a previous sync left; the daemon on them."""
    entry, out = lanes
    site_file = serial_site(tmp_path, entry, out.port, cameras)
    text = site_file.read_text()
    assert text.count("capacity = { small = 10 }") == 1
    text = text.replace("capacity = { small = 10 }", f"capacity = {{ small = {capacity} }}")
    if anti_passback is not None:
        assert text.count('camera = "in-cam" }') == 1
        # The same car comes straight back: a repeat window of 0 lets its new read count (edge.lanes.reads).
        text = text.replace(
            'camera = "in-cam" }', f'camera = "in-cam" }}\nanti_passback = "{anti_passback}"\nrepeat_window_ms = 0'
        )
    site_file.write_text(text)
    store = ListStore(lists_path(tmp_path / "var" / "journal.sqlite3"))
    page = SyncPage(since=0, version=5, full=True, more=False, passes=list(passes), vehicles=list(vehicles))
    store.apply(page, replace=True)
    store.close()
    return daemon_for(site_file)


def alerts(daemon: EdgeDaemon, lane: str, kind: str) -> float:
    value = daemon.metrics.registry.get_sample_value("parkgate_edge_alerts_total", {"lane": lane, "kind": kind})
    return value or 0.0


def opened(sim: IoModuleSimulator) -> int:
    """How many times the daemon pulsed the barrier's open contact."""
    return sum(1 for c in sim.output_changes if c.point == "open" and c.active)


def denials(daemon: EdgeDaemon, code: str) -> list[dict[str, object]]:
    return payloads(daemon, "abnormal_events", f"event = 'entry_denied' AND json_extract(payload, '$.code') = '{code}'")


async def enter(daemon: EdgeDaemon, entry: SerialLane, cameras: int, plate: str) -> None:
    """A vehicle the daemon admits: the read, the vehicle on the loop, through, the barrier closed behind it."""
    passed = entry.model.passed
    await push_isapi(cameras, plate, 96)
    entry.model.add_vehicle(time.monotonic(), front=0.0, speed=8.0)
    await until(lambda: entry.model.passed == passed + 1, within=10, what=f"{plate} through the entry")
    await until(lambda: entry.model.barrier.closed_limit, what="entry barrier closed")
    await until(lambda: daemon.lanes["in-1"].phase is Phase.IDLE, what="entry lane idle")


async def refused(daemon: EdgeDaemon, entry: SerialLane, cameras: int, plate: str, code: str) -> dict[str, object]:
    """A vehicle the daemon refuses: it waits at the closed barrier, then reverses out; the denial's payload."""
    opens, passed = opened(entry.sim), entry.model.passed
    before = len(denials(daemon, code))
    await push_isapi(cameras, plate, 96)
    vehicle: Vehicle = entry.model.add_vehicle(time.monotonic(), front=0.0, speed=8.0)
    await until(lambda: len(denials(daemon, code)) == before + 1, what=f"{plate} refused ({code})")
    assert daemon.lanes["in-1"].phase is Phase.DENIED
    await asyncio.sleep(0.5)  # the barrier stays down while the vehicle waits at the stop line
    assert opened(entry.sim) == opens
    assert entry.model.barrier.closed_limit
    assert entry.model.passed == passed
    backed = entry.model.backed_out
    entry.model.back_out(time.monotonic(), vehicle, speed=8.0)
    await until(lambda: entry.model.backed_out == backed + 1, what=f"{plate} reversed out")
    await until(lambda: daemon.lanes["in-1"].phase is Phase.IDLE, what="entry lane idle again")
    return denials(daemon, code)[-1]


async def test_a_blacklisted_plate_is_refused_at_the_entry_and_the_booth_alerted(
    tmp_path: Path, lanes: tuple[SerialLane, SimLane]
) -> None:
    entry, _ = lanes
    cameras = free_port()
    stolen = a_vehicle("粤B66666", VehicleList.BLACKLIST, "stolen")
    daemon = site_for(tmp_path, lanes, cameras, vehicles=[stolen])
    await daemon.start()
    try:
        await until(lambda: online(daemon), what="devices online (the entry over the pty)")
        denial = await refused(daemon, entry, cameras, "粤B66666", "blacklist")
        assert denial["event"] == "entry_denied"
        assert str(denial["reason"]).startswith("blacklist: stolen")
        identity = denial["identity"]
        assert isinstance(identity, dict)
        assert identity["plate"] == "粤B66666"
        [row] = daemon.journal.rows("SELECT lane, event, session_id FROM abnormal_events")
        assert row == ("in-1", "entry_denied", None)
        assert alerts(daemon, "in-1", "blacklist") == 1
        # Nothing opened and nobody is inside.
        assert opened(entry.sim) == 0
        assert daemon.journal.count("barrier_commands") == 0
        assert daemon.journal.count("sessions") == 0
        assert daemon.park.occupancy["small"] == 0
    finally:
        await daemon.stop()


async def test_a_full_car_park_refuses_a_temporary_vehicle_and_admits_a_pass_holder(
    tmp_path: Path, lanes: tuple[SerialLane, SimLane]
) -> None:
    entry, _ = lanes
    cameras = free_port()
    holder = a_pass("粤B3R7K2", id="pass-1")
    daemon = site_for(tmp_path, lanes, cameras, capacity=1, passes=[holder])
    await daemon.start()
    try:
        await until(lambda: online(daemon), what="devices online (the entry over the pty)")
        await enter(daemon, entry, cameras, "粤B11111")
        assert daemon.park.occupancy["small"] == 1

        denial = await refused(daemon, entry, cameras, "沪A22222", "full")
        assert denial["reason"] == "car park full for small vehicles"
        assert opened(entry.sim) == 1
        assert daemon.park.occupancy["small"] == 1

        await enter(daemon, entry, cameras, "粤B3R7K2")  # a pass holder has a space whatever the count
        assert opened(entry.sim) == 2
        rows = daemon.journal.rows("SELECT kind, plate, pass_id, status FROM sessions ORDER BY entry_at")
        assert rows == [("temporary", "粤B11111", None, "open"), ("pass", "粤B3R7K2", "pass-1", "open")]
        assert daemon.journal.count("abnormal_events") == 1
    finally:
        await daemon.stop()


async def test_hard_anti_passback_refuses_a_pass_already_inside(
    tmp_path: Path, lanes: tuple[SerialLane, SimLane]
) -> None:
    entry, _ = lanes
    cameras = free_port()
    holder = a_pass("粤B3R7K2", id="pass-1")
    daemon = site_for(tmp_path, lanes, cameras, anti_passback="hard", passes=[holder])
    assert daemon.lanes["in-1"].settings.anti_passback == "hard"
    await daemon.start()
    try:
        await until(lambda: online(daemon), what="devices online (the entry over the pty)")
        await enter(daemon, entry, cameras, "粤B3R7K2")
        [(session, kind)] = daemon.journal.rows("SELECT id, kind FROM sessions")
        assert kind == "pass"

        denial = await refused(daemon, entry, cameras, "粤B3R7K2", "anti_passback")
        assert denial["session"] == session
        assert str(denial["reason"]).startswith("anti-passback: already inside since")
        assert alerts(daemon, "in-1", "anti_passback") == 1
        [row] = daemon.journal.rows("SELECT event, session_id FROM abnormal_events")
        assert row == ("entry_denied", session)
        assert opened(entry.sim) == 1
        assert daemon.journal.count("sessions") == 1
    finally:
        await daemon.stop()


async def test_soft_anti_passback_admits_a_pass_already_inside_and_flags_it(
    tmp_path: Path, lanes: tuple[SerialLane, SimLane]
) -> None:
    entry, _ = lanes
    cameras = free_port()
    holder = a_pass("粤B3R7K2", id="pass-1")
    daemon = site_for(tmp_path, lanes, cameras, anti_passback="soft", passes=[holder])
    await daemon.start()
    try:
        await until(lambda: online(daemon), what="devices online (the entry over the pty)")
        await enter(daemon, entry, cameras, "粤B3R7K2")
        await enter(daemon, entry, cameras, "粤B3R7K2")
        assert opened(entry.sim) == 2
        rows = daemon.journal.rows("SELECT data FROM sessions ORDER BY entry_at")
        flags = [json.loads(data)["flags"] for (data,) in rows]
        assert flags == [[], ["anti_passback"]]
        assert daemon.journal.count("abnormal_events") == 0
    finally:
        await daemon.stop()


async def test_an_exit_without_an_entry_record_is_held_for_the_operator(
    tmp_path: Path, lanes: tuple[SerialLane, SimLane]
) -> None:
    _, out = lanes
    cameras = free_port()
    daemon = site_for(tmp_path, lanes, cameras)
    await daemon.start()
    try:
        await until(lambda: online(daemon), what="devices online")
        await push_json(cameras, "粤B90909", 0.95)
        vehicle = out.model.add_vehicle(time.monotonic(), front=0.0, speed=8.0)
        await until(
            lambda: daemon.journal.count("abnormal_events", "event = 'no_entry_record'") == 1, what="no_entry_record"
        )
        [event] = payloads(daemon, "abnormal_events", "event = 'no_entry_record'")
        identity = event["identity"]
        assert isinstance(identity, dict)
        assert identity["plate"] == "粤B90909"
        [row] = daemon.journal.rows("SELECT lane, session_id FROM abnormal_events")
        assert row == ("out-1", None)
        assert alerts(daemon, "out-1", "no_entry_record") == 1
        assert daemon.lanes["out-1"].phase is Phase.WAITING

        await asyncio.sleep(0.8)  # nobody at the booth: the barrier stays down
        assert opened(out.sim) == 0
        assert out.model.barrier.closed_limit
        assert out.model.passed == 0
        assert daemon.journal.count("barrier_commands") == 0
        assert daemon.journal.count("transactions") == 0

        out.model.back_out(time.monotonic(), vehicle, speed=8.0)
        await until(lambda: out.model.backed_out == 1, what="vehicle reversed out of the exit")
        await until(lambda: daemon.lanes["out-1"].phase is Phase.IDLE, what="exit lane idle again")
        assert opened(out.sim) == 0
    finally:
        await daemon.stop()


async def test_a_stay_longer_than_the_tariff_allows_is_flagged_at_the_exit(
    tmp_path: Path, lanes: tuple[SerialLane, SimLane]
) -> None:
    """The daemon's clock is injected: the vehicle enters now and leaves 31 days later (the tariff allows 30)."""
    entry, out = lanes
    cameras = free_port()
    site_file = serial_site(tmp_path, entry, out.port, cameras)
    offset = [timedelta(0)]
    daemon = EdgeDaemon(
        load_site(site_file), site_file, metrics_listen="127.0.0.1:0", synchronous="NORMAL", drain_timeout_s=10,
        clock=lambda: datetime.now(UTC) + offset[0],
    )  # fmt: skip
    await daemon.start()
    try:
        await until(lambda: online(daemon), what="devices online")
        await enter(daemon, entry, cameras, "粤B31313")
        offset[0] = timedelta(days=31)
        await push_json(cameras, "粤B31313", 0.95)
        vehicle = out.model.add_vehicle(time.monotonic(), front=0.0, speed=8.0)
        await until(
            lambda: daemon.journal.count("abnormal_events", "event = 'session_over_max'") == 1, what="session_over_max"
        )
        [event] = payloads(daemon, "abnormal_events", "event = 'session_over_max'")
        assert event["max_stay_s"] == 30 * 86400
        assert daemon.lanes["out-1"].phase is Phase.WAITING  # the fee of a month is due: the operator decides
        await asyncio.sleep(0.5)
        assert opened(out.sim) == 0
        out.model.back_out(time.monotonic(), vehicle, speed=8.0)
        await until(lambda: out.model.backed_out == 1, what="vehicle reversed out of the exit")
        await until(lambda: daemon.lanes["out-1"].phase is Phase.IDLE, what="exit lane idle again")
    finally:
        await daemon.stop()
