"""A loop detector stuck on presence, through the real daemon and the Modbus I/O module: the entry's safety loop
detector shorts (its output reads presence for good, as a stuck detector's does).

The barrier is never commanded down while the loop reads presence; after ``loop_stuck_s`` the stuck loop is journaled
(an abnormal event ``loop_stuck``) and the booth alerted; a vehicle let in meanwhile keeps its record (the loop
cannot see it cross, so its arming loop clearing is not taken for a back-out that would void its session); when the
detector is repaired the barrier closes."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from edge.lanes.lane import Phase
from tests.edge.journal_invariants import check_journal
from tests.edge.test_daemon import SimLane, daemon_for, free_port, online, push_isapi, sims, until, write_site
from tests.edge.test_decisions_e2e import alerts
from tests.soak_summary import Row, record

__all__ = ["sims"]  # the fixture


def closes(entry: SimLane) -> int:
    return sum(1 for c in entry.sim.output_changes if c.point == "close" and c.active)


async def stuck_cycles(tmp_path: Path, sims: tuple[SimLane, SimLane], cycles: int) -> None:
    """``cycles`` times: a vehicle in on a sound loop, the safety loop's detector shorts, a visitor let in under the
    held barrier, the detector repaired and the barrier closing."""
    entry, out = sims
    cameras = free_port()
    site_file = write_site(tmp_path, entry.port, out.port, None, cameras)
    text = site_file.read_text().replace('camera = "in-cam" }', 'camera = "in-cam" }\nloop_stuck_s = 2', 1)
    text = text.replace("capacity = { small = 10 }", f"capacity = {{ small = {2 * cycles + 10} }}")
    site_file.write_text(text)
    daemon = daemon_for(site_file)
    plates: list[str] = []
    await daemon.start()
    try:
        await until(lambda: online(daemon), what="devices online")
        for cycle in range(cycles):
            if cycle:
                await asyncio.sleep(1.1)  # as below: this cycle's read plainly later than the last
            plate = f"粤A5{cycle:03d}1"
            plates.append(plate)
            await push_isapi(cameras, plate, 96)
            entry.drive_up()
            await until(lambda: entry.model.passed == len(plates) and entry.model.barrier.closed_limit,
                        what=f"vehicle {plate} in")  # fmt: skip
            await until(lambda: daemon.lanes["in-1"].phase is Phase.IDLE, what="entry lane idle")

            entry.model.safety.fault = "short-circuit"  # the detector's output: presence, for good
            await until(lambda: alerts(daemon, "in-1", "loop_stuck") == cycle + 1, within=10,  # noqa: B023
                        what=f"the stuck loop alerted ({cycle + 1})")  # fmt: skip
            stuck = [json.loads(p) for (p,) in daemon.journal.rows(
                "SELECT payload FROM abnormal_events WHERE event = 'loop_stuck'")]  # fmt: skip
            assert len(stuck) == cycle + 1
            assert stuck[-1]["loop"] == "safety"

            # A visitor arrives: the lane lets it in on its read, and its entry stands though the loop saw no crossing.
            await asyncio.sleep(1.1)  # the camera stamps whole seconds: the next read is plainly later
            visitor = f"粤A5{cycle:03d}2"
            plates.append(visitor)
            await push_isapi(cameras, visitor, 96)
            entry.drive_up()
            await until(lambda: entry.model.passed == len(plates), within=10, what=f"visitor {visitor} through")
            await until(lambda: daemon.lanes["in-1"].phase is Phase.IDLE, within=10, what="the lane done with it")
            closes_before = closes(entry)
            assert entry.model.barrier.open_limit  # held open: never down on what the loop reports
            assert daemon.lanes["in-1"].close_pending

            entry.model.safety.fault = None  # repaired
            await until(lambda: entry.model.barrier.closed_limit, within=10, what="the barrier closed once repaired")
            assert closes(entry) == closes_before + 1
        assert daemon.journal.count("abnormal_events", "event = 'back_out'") == 0
        statuses = {s for (s,) in daemon.journal.rows("SELECT status FROM sessions")}
        tally = check_journal(daemon.journal, "in-1", entry.sim, plates)
        stuck_events = daemon.journal.count("abnormal_events", "event = 'loop_stuck'")
    finally:
        await daemon.stop()
    record(Row(target="safety loop detector stuck on presence",
               faults=stuck_events, transactions=len(plates), lost=tally.lost, duplicated=tally.duplicated,
               detail=f"{cycles} stuck and repaired; barrier held open each time, entries kept"))  # fmt: skip
    assert tally.sessions == plates
    assert statuses == {"open"}
    assert tally.opens == len(plates)
    assert stuck_events == cycles


async def test_a_safety_loop_stuck_on_presence_holds_the_barrier_is_reported_and_loses_no_record(
    tmp_path: Path, sims: tuple[SimLane, SimLane]
) -> None:
    await stuck_cycles(tmp_path, sims, cycles=1)


@pytest.mark.soak
@pytest.mark.timeout(900)
async def test_soak_a_safety_loop_stuck_and_repaired_thirty_times_during_traffic(
    tmp_path: Path, sims: tuple[SimLane, SimLane]
) -> None:
    await stuck_cycles(tmp_path, sims, cycles=30)
