"""Serial devices unplugged and plugged back while the edge runs: the entry lane's Modbus RTU I/O module and its LED
display, each on a pseudo-terminal pair (simulators.pty: the paths stay, the open files die, as with a USB adapter
pulled out). Each device is reported offline (health, the journal's device faults), then recovers by itself when the
cable is back: the next vehicle goes through and its welcome is on the display, without restarting the edge."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from drivers.health import Health
from edge.daemon import EdgeDaemon
from edge.lanes.lane import Phase
from simulators.display import DisplaySimulator
from simulators.pty import PtyLink
from tests.edge.test_abnormal_e2e import SerialLane, serial_site
from tests.edge.test_daemon import SimLane, daemon_for, free_port, online, push_isapi, until
from tests.edge.test_decisions_e2e import lanes
from tests.soak_summary import Row, record

__all__ = ["lanes"]  # the fixture


@pytest.fixture
async def display_link(tmp_path: Path) -> AsyncIterator[tuple[DisplaySimulator, PtyLink]]:
    link = PtyLink("in-led", tmp_path).open()
    display = DisplaySimulator()
    await display.server.serve_serial(link.device_port)
    yield display, link
    await display.server.stop()
    link.close()


def health(daemon: EdgeDaemon, device: str) -> Health | None:
    assert daemon.devices is not None
    tracker = daemon.devices.health_of(device)
    return tracker.health if tracker is not None else None


async def replug_cycles(
    tmp_path: Path, lanes: tuple[SerialLane, SimLane], display_link: tuple[DisplaySimulator, PtyLink], cycles: int
) -> None:
    entry, out = lanes
    display, led = display_link
    cameras = free_port()
    site_file = serial_site(tmp_path, entry, out.port, cameras)
    text = site_file.read_text().replace('camera = "in-cam" }', 'camera = "in-cam", display = "in-led" }', 1)
    text = text.replace("capacity = { small = 10 }", "capacity = { small = 100 }")  # room for the soak's vehicles
    text += (f'\n[devices.in-led]\nkind = "display"\ndriver = "serial_text"\n'
             f'connection = {{ type = "serial", port = "{led.host_port}" }}\n')  # fmt: skip
    site_file.write_text(text)
    daemon = daemon_for(site_file)
    await daemon.start()
    plates: list[str] = []
    try:
        await until(lambda: online(daemon) and health(daemon, "in-led") is Health.ONLINE, what="devices online")
        for cycle in range(cycles):
            entry.link.unplug()
            led.unplug()
            await until(lambda: health(daemon, "in-io") is Health.OFFLINE, within=10, what="the I/O module offline")
            await until(lambda: health(daemon, "in-led") is Health.OFFLINE, within=10, what="the display offline")
            await asyncio.sleep(0.2)
            entry.link.replug()
            led.replug()
            await until(lambda: online(daemon) and health(daemon, "in-io") is Health.ONLINE, within=15,
                        what="the I/O module back")  # fmt: skip
            await until(lambda: health(daemon, "in-led") is Health.ONLINE, within=15, what="the display back")
            await until(lambda: daemon.lanes["in-1"].phase is Phase.IDLE and not daemon.lanes["in-1"].safety,
                        what="the lane sees its loops again")  # fmt: skip
            plate = f"粤B{cycle:04d}K"
            plates.append(plate)
            await push_isapi(cameras, plate, 96)
            entry.model.add_vehicle(time.monotonic(), front=0.0, speed=8.0)
            passed = cycle + 1
            await until(lambda: entry.model.passed == passed, within=10, what=f"vehicle {passed} through")  # noqa: B023
            await until(lambda: any(plate in row for row in display.text()), what="its welcome on the display")  # noqa: B023
            await until(lambda: daemon.lanes["in-1"].phase is Phase.IDLE, what="entry lane idle")
            await asyncio.sleep(1.1)  # the camera stamps whole seconds: the next read is plainly later
        faults = daemon.journal.rows("SELECT device, cleared_by IS NOT NULL FROM device_faults ORDER BY at")
        sessions = [plate for (plate,) in daemon.journal.rows("SELECT plate FROM sessions ORDER BY entry_at")]
    finally:
        await daemon.stop()
    assert sessions == plates
    ours = {(device, bool(cleared)) for device, cleared in faults if device in ("in-io", "in-led")}
    assert ours == {("in-io", True), ("in-led", True)}  # (a camera left silent this long has a fault of its own)
    assert len([f for f in faults if f[0] == "in-io"]) == cycles
    record(Row(target="serial I/O module and display unplugged and replugged", faults=2 * cycles,
               transactions=cycles, lost=len(plates) - len(sessions),
               duplicated=len(sessions) - len(set(sessions)),
               detail="offline, journaled as device faults, back by itself; no restart"))  # fmt: skip


async def test_unplugged_serial_devices_go_offline_and_come_back_without_a_restart(
    tmp_path: Path, lanes: tuple[SerialLane, SimLane], display_link: tuple[DisplaySimulator, PtyLink]
) -> None:
    await replug_cycles(tmp_path, lanes, display_link, cycles=2)


@pytest.mark.soak
@pytest.mark.timeout(900)
async def test_soak_serial_devices_unplugged_and_replugged_twenty_times(
    tmp_path: Path, lanes: tuple[SerialLane, SimLane], display_link: tuple[DisplaySimulator, PtyLink]
) -> None:
    await replug_cycles(tmp_path, lanes, display_link, cycles=20)
