"""A barrier the driver cannot command (the Modbus I/O module stopped answering) becomes a lane alert at the
boundary, and the lane does not stay in its passing phase for a vehicle that cannot pass."""

from __future__ import annotations

import json
from pathlib import Path

from edge.lanes.events import Loop, LoopChanged, PlateSeen
from edge.lanes.lane import Phase
from tests.edge.test_daemon import SimLane, daemon_for, free_port, online, start_sim, until, write_site


async def test_an_open_the_io_module_does_not_answer_is_undone_and_alerted(tmp_path: Path) -> None:
    entry, out = await start_sim(), await start_sim()
    daemon = daemon_for(write_site(tmp_path, entry.port, out.port, None, free_port()))
    await daemon.start()
    try:
        await until(lambda: online(daemon), what="devices online")
        await stop_answering(entry)
        runner = daemon.runners["in-1"]
        await runner.feed(LoopChanged(Loop.ARMING, True))
        actions = await runner.feed(PlateSeen("粤B12345", 0.95))

        lane = runner.lane
        assert any(type(a).__name__ == "OpenBarrier" for a in actions)  # the lane asked; the module did not answer
        assert lane.phase is Phase.DENIED  # the vehicle is held, not "passing" through a closed barrier
        assert lane.passage is None
        assert not lane.barrier.expect_open
        assert runner.out_of_service is None  # the lane goes on: the booth can open by hand
        alerts = daemon.metrics.alerts.labels("in-1", "barrier_open_failed")._value.get()
        assert alerts == 1
        assert not daemon.park.sessions  # the session opened for the vehicle is voided
        abnormal = [json.loads(p) for (p,) in daemon.journal.rows("SELECT payload FROM records WHERE kind = ?",
                                                                   ("abnormal_event",))]  # fmt: skip
        assert [a["event"] for a in abnormal] == ["barrier_open_failed"]
        voided = daemon.journal.rows("SELECT count(*) FROM records WHERE json_extract(payload, '$.event') = 'voided'")
        assert voided == [(1,)]
    finally:
        await daemon.stop()
        await entry.serving.stop()
        await out.serving.stop()


async def stop_answering(sim: SimLane) -> None:
    """The I/O module's server goes away: requests to it fail in the driver."""
    await sim.serving.stop_tcp()
