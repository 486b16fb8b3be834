"""A loop detector stuck on presence, through the real daemon and the Modbus I/O module: the entry's safety loop
detector shorts (its output reads presence for good, as a stuck detector's does).

The barrier is never commanded down while the loop reads presence; after ``loop_stuck_s`` the stuck loop is journaled
(an abnormal event ``loop_stuck``) and the booth alerted; a vehicle let in meanwhile keeps its record (the loop
cannot see it cross, so its arming loop clearing is not taken for a back-out that would void its session); when the
detector is repaired the barrier closes."""

from __future__ import annotations

import json
import time
from pathlib import Path

from edge.lanes.lane import Phase
from tests.edge.test_daemon import SimLane, daemon_for, free_port, online, push_isapi, sims, until, write_site
from tests.edge.test_decisions_e2e import alerts
from tests.soak_summary import Row, record

__all__ = ["sims"]  # the fixture


def closes(entry: SimLane) -> int:
    return sum(1 for c in entry.sim.output_changes if c.point == "close" and c.active)


async def test_a_safety_loop_stuck_on_presence_holds_the_barrier_is_reported_and_loses_no_record(
    tmp_path: Path, sims: tuple[SimLane, SimLane]
) -> None:
    entry, out = sims
    cameras = free_port()
    site_file = write_site(tmp_path, entry.port, out.port, None, cameras)
    text = site_file.read_text().replace('camera = "in-cam" }', 'camera = "in-cam" }\nloop_stuck_s = 2', 1)
    site_file.write_text(text)
    daemon = daemon_for(site_file)
    await daemon.start()
    try:
        await until(lambda: online(daemon), what="devices online")
        await push_isapi(cameras, "粤A50001", 96)
        entry.drive_up()
        await until(lambda: entry.model.passed == 1 and entry.model.barrier.closed_limit, what="a vehicle in")
        await until(lambda: daemon.lanes["in-1"].phase is Phase.IDLE, what="entry lane idle")

        entry.model.safety.fault = "short-circuit"  # the detector's output: presence, for good
        await until(lambda: alerts(daemon, "in-1", "loop_stuck") == 1, within=10, what="the stuck loop alerted")
        [stuck] = [json.loads(p) for (p,) in daemon.journal.rows(
            "SELECT payload FROM abnormal_events WHERE event = 'loop_stuck'")]  # fmt: skip
        assert stuck["loop"] == "safety"

        # A visitor arrives: the lane lets it in on its read, and its entry stands though the loop saw no crossing.
        time.sleep(1.1)  # noqa: ASYNC251 -- the camera stamps whole seconds: the next read is plainly later
        await push_isapi(cameras, "粤A50002", 96)
        entry.drive_up()
        await until(lambda: entry.model.passed == 2, within=10, what="the visitor through the open barrier")
        await until(lambda: daemon.lanes["in-1"].phase is Phase.IDLE, within=10, what="the lane done with it")
        closes_before = closes(entry)
        assert entry.model.barrier.open_limit  # held open: never down on what the loop reports
        assert daemon.lanes["in-1"].close_pending

        entry.model.safety.fault = None  # repaired
        await until(lambda: entry.model.barrier.closed_limit, within=10, what="the barrier closed once repaired")
        assert closes(entry) == closes_before + 1
        sessions = daemon.journal.rows("SELECT plate, status FROM sessions ORDER BY entry_at")
        assert sessions == [("粤A50001", "open"), ("粤A50002", "open")]
        assert daemon.journal.count("abnormal_events", "event = 'back_out'") == 0
        opens = daemon.journal.count("barrier_commands", "command = 'open'")
    finally:
        await daemon.stop()
    assert opens == 2
    record(Row(target="safety loop detector stuck on presence", faults=1, transactions=2,
               lost=2 - len(sessions), detail="barrier held open, stuck loop journaled, entries kept"))  # fmt: skip
