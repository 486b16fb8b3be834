"""Abnormal events end to end through the real drivers and the lane simulator: a vehicle that drives onto the
arming loop, is admitted, then backs away before the safety loop, with the entry barrier's I/O module on a serial
line (Modbus RTU over a pseudo-terminal pair) and the plate read pushed over HTTP with its pictures."""

from __future__ import annotations

import json
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from edge.daemon import EdgeDaemon
from simulators.barrier import BarrierConfig, BarrierModel, LaneModel, Vehicle
from simulators.io_module import IoModuleSimulator, ModbusServing, OutputChange
from simulators.pty import PtyLink
from tests.edge.test_daemon import IO_MAP, SimLane, daemon_for, free_port, online, start_sim, until, write_site
from tests.edge.test_evidence_images import PLATE_JPEG, push_isapi_with_pictures

BAUD = 115200


@dataclass
class SerialLane:
    """The entry lane's I/O module served on the device side of a pseudo-terminal pair."""

    sim: IoModuleSimulator
    serving: ModbusServing
    link: PtyLink
    closes: list[dict[str, bool]] = field(default_factory=list)  # the lane's inputs when each close pulse came

    @property
    def model(self) -> LaneModel:
        return self.sim.lane


@pytest.fixture
async def lanes(tmp_path: Path) -> AsyncIterator[tuple[SerialLane, SimLane]]:
    link = PtyLink("in-io", tmp_path).open()
    barrier = BarrierModel(BarrierConfig(travel_time_s=0.3, allow_short_travel=True), now=time.monotonic())
    sim = IoModuleSimulator(LaneModel(barrier), io_map=IO_MAP)
    serving = sim.serving()
    await serving.serve_serial(link.device_port, baudrate=BAUD)
    entry = SerialLane(sim, serving, link)

    def on_output(change: OutputChange) -> None:
        if change.point == "close" and change.active:
            entry.closes.append(entry.model.inputs(change.at))

    sim.on_output.append(on_output)
    out = await start_sim()
    yield entry, out
    await serving.stop()
    await out.serving.stop()
    link.close()


def serial_site(tmp_path: Path, entry: SerialLane, exit_port: int, camera_port: int) -> Path:
    site_file = write_site(tmp_path, 1, exit_port, None, camera_port)
    text, count = re.subn(
        r'(\[devices\.in-io\]\nkind = "barrier_io"\ndriver = "modbus_io"\n)connection = \{[^}]*\}',
        rf'\1connection = {{ type = "serial", port = "{entry.link.host_port}", baudrate = {BAUD} }}',
        site_file.read_text(),
    )
    assert count == 1
    site_file.write_text(text)
    return site_file


def payloads(daemon: EdgeDaemon, table: str, where: str = "1 = 1") -> list[dict[str, object]]:
    rows = daemon.journal.rows(f"SELECT payload FROM {table} WHERE {where}")
    return [json.loads(row[0]) for row in rows]


async def test_a_vehicle_backing_out_before_the_safety_loop_is_recorded_and_the_barrier_closes(
    tmp_path: Path, lanes: tuple[SerialLane, SimLane]
) -> None:
    entry, out = lanes
    cameras = free_port()
    daemon = daemon_for(serial_site(tmp_path, entry, out.port, cameras))
    assert "serial" in repr(daemon.site.devices["in-io"].connection)
    before = dict(daemon.park.occupancy)
    await daemon.start()
    try:
        await until(lambda: online(daemon), what="devices online (the entry over the pty)")
        await push_isapi_with_pictures(cameras, "粤B54321")
        vehicle: Vehicle = entry.model.add_vehicle(time.monotonic(), front=0.0, speed=8.0)

        def back_out_when_the_boom_rises(change: OutputChange) -> None:
            if change.point == "open" and change.active:  # the driver changes their mind as the boom rises
                entry.model.back_out(change.at, vehicle, speed=2.5)

        entry.sim.on_output.append(back_out_when_the_boom_rises)
        await until(lambda: entry.model.backed_out == 1, within=10, what="vehicle backed out of the lane")
        await until(lambda: daemon.journal.count("abnormal_events", "event = 'back_out'") == 1, what="back_out")
        await until(lambda: entry.model.barrier.closed_limit, what="entry barrier closed again")

        # The barrier opened for the entry, then closed, once, with the safety loop clear.
        contacts = [c.point for c in entry.sim.output_changes if c.active]
        assert contacts == ["open", "close"]
        assert len(entry.closes) == 1
        assert not entry.closes[0]["safety_loop"]
        assert entry.model.safety.count == 0  # the vehicle never reached the safety loop
        assert entry.model.passed == 0
        commands = daemon.journal.rows("SELECT command, reason FROM barrier_commands ORDER BY at")
        assert [c for c, _ in commands] == ["open", "close"]
        assert commands[1][1] == "vehicle backed out"

        # The entry was committed before the opening, then voided: nobody is inside.
        [session] = daemon.journal.rows("SELECT id, status FROM sessions")
        assert session[1] == "void"
        [voided] = payloads(daemon, "records", "kind = 'session' AND json_extract(payload, '$.event') = 'voided'")
        assert voided == {"event": "voided", "session": session[0], "reason": "back_out"}
        assert daemon.park.occupancy == before
        assert daemon.park.sessions == {}

        # The abnormal event names the session and carries the stored plate picture as its evidence.
        [event] = daemon.journal.rows("SELECT session_id, evidence FROM abnormal_events WHERE event = 'back_out'")
        assert event[0] == session[0]
        evidence = tmp_path / "var" / "images" / str(event[1])
        await until(evidence.exists, what="evidence picture stored")
        assert evidence.read_bytes() == PLATE_JPEG
        [abnormal] = payloads(daemon, "abnormal_events", "event = 'back_out'")
        identity = abnormal["identity"]
        assert isinstance(identity, dict)
        assert identity["plate"] == "粤B54321"
    finally:
        await daemon.stop()
