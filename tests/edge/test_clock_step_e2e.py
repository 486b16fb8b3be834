"""The wall clock stepped an hour forward and an hour back while vehicles are in the car park, through the real
daemon, Modbus I/O modules and LPR listeners. The edge's clock is the steady clock (parking.clock.SteadyClock) over a
wall clock the test steps, handed in as the daemon's clock (nothing patched): each step is detected, logged, journaled
(an abnormal event ``clock_step``) and told to the booth; a stay across a step is charged for what it really lasted;
a read window across a step ends when it should."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from edge.daemon import EdgeDaemon
from edge.lanes.lane import Phase
from edge.site import load_site
from parking.clock import SteadyClock
from tests.edge.test_daemon import SimLane, free_port, online, push_isapi, push_json, sims, until, write_site
from tests.soak_summary import Row, record

__all__ = ["sims"]  # the fixture


class SteppedWall:
    """The machine's wall clock as the test sets it: real time plus an offset the test steps."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset


def clock_steps(daemon: EdgeDaemon) -> list[dict[str, object]]:
    rows = daemon.journal.rows("SELECT payload FROM abnormal_events WHERE event = 'clock_step' ORDER BY at")
    return [json.loads(payload) for (payload,) in rows]


def stay(daemon: EdgeDaemon, plate: str) -> tuple[timedelta, str, int]:
    """The stay of ``plate`` as journaled (exit minus entry), and its transaction's kind and amount."""
    [(entry_at, exit_at, data)] = daemon.journal.rows("SELECT entry_at, exit_at, id FROM sessions WHERE plate = ?",
                                                       (plate,))  # fmt: skip
    [(kind, amount)] = daemon.journal.rows("SELECT kind, amount FROM transactions WHERE session_id = ?", (data,))
    return datetime.fromisoformat(exit_at) - datetime.fromisoformat(entry_at), kind, amount


async def through(daemon: EdgeDaemon, entry: SimLane, out: SimLane, cameras: int, plate: str, *, step: timedelta,
                  wall: SteppedWall) -> None:  # fmt: skip
    """``plate`` enters, the wall clock steps by ``step``, and it leaves."""
    passed_in, passed_out, steps = entry.model.passed, out.model.passed, len(clock_steps(daemon))
    await push_isapi(cameras, plate, 96)
    entry.drive_up()
    await until(lambda: entry.model.passed == passed_in + 1, what=f"{plate} in")
    await until(lambda: daemon.lanes["in-1"].phase is Phase.IDLE, what="entry lane idle")
    wall.offset += step
    await until(lambda: len(clock_steps(daemon)) == steps + 1, what="the step journaled")
    await push_json(cameras, plate, 0.93)
    out.drive_up()
    await until(lambda: out.model.passed == passed_out + 1, within=10, what=f"{plate} out, nothing due")
    await until(lambda: daemon.lanes["out-1"].phase is Phase.IDLE, what="exit lane idle")


async def test_the_wall_clock_stepped_an_hour_both_ways_is_journaled_and_durations_stay_real(
    tmp_path: Path, sims: tuple[SimLane, SimLane]
) -> None:
    entry, out = sims
    cameras = free_port()
    site_file = write_site(tmp_path, entry.port, out.port, None, cameras)
    wall = SteppedWall()
    daemon = EdgeDaemon(load_site(site_file), site_file, metrics_listen="127.0.0.1:0", synchronous="NORMAL",
                        drain_timeout_s=10, clock=SteadyClock(wall))  # fmt: skip
    await daemon.start()
    try:
        await until(lambda: online(daemon), what="devices online")
        # Forward an hour during a stay of seconds: no hour is charged (the tariff's first 30 minutes are free).
        await through(daemon, entry, out, cameras, "粤A10001", step=timedelta(hours=1), wall=wall)
        # Back an hour (past where it was) during the next one: the stay does not end before it began.
        await through(daemon, entry, out, cameras, "粤A10002", step=timedelta(hours=-1), wall=wall)

        # A read window across a step back: it ends when it should, not an hour later.
        entry.drive_up()  # no plate read: the lane waits out its window, then calls the booth
        await until(lambda: daemon.lanes["in-1"].phase is Phase.COLLECTING, what="reads being gathered")
        wall.offset -= timedelta(hours=1)
        await until(lambda: daemon.lanes["in-1"].phase is Phase.WAITING, within=10, what="the window ended")
        entry.model.vehicles.clear()
        await until(lambda: len(clock_steps(daemon)) == 3, what="the third step journaled")

        stays = {plate: stay(daemon, plate) for plate in ("粤A10001", "粤A10002")}
        for plate, (length, kind, amount) in stays.items():
            assert timedelta(0) <= length < timedelta(minutes=1), (plate, length)
            assert (kind, amount) == ("nothing_due", 0), plate
        offsets = [float(str(s["offset_s"])) for s in clock_steps(daemon)]
        assert [round(o / 3600) for o in offsets] == [1, -1, -1]
        assert daemon.desk is not None
        assert [a["kind"] for a in daemon.desk.lane_alerts].count("clock_step") == 3
    finally:
        await daemon.stop()
    record(Row(target="wall clock stepped an hour both ways", faults=3, transactions=2,
               detail="stays across a step charged for their real seconds (0 due); each step journaled"))  # fmt: skip


@pytest.mark.soak
@pytest.mark.timeout(900)
async def test_soak_forty_stays_each_across_a_step_of_an_hour(tmp_path: Path, sims: tuple[SimLane, SimLane]) -> None:
    entry, out = sims
    cameras = free_port()
    site_file = write_site(tmp_path, entry.port, out.port, None, cameras)
    wall = SteppedWall()
    daemon = EdgeDaemon(load_site(site_file), site_file, metrics_listen="127.0.0.1:0", synchronous="NORMAL",
                        drain_timeout_s=10, clock=SteadyClock(wall))  # fmt: skip
    plates = [f"粤A2{n:04d}" for n in range(40)]
    await daemon.start()
    try:
        await until(lambda: online(daemon), what="devices online")
        for n, plate in enumerate(plates):
            await through(daemon, entry, out, cameras, plate, step=timedelta(hours=1 if n % 2 == 0 else -1), wall=wall)
        wrong = [p for p in plates if not (timedelta(0) <= stay(daemon, p)[0] < timedelta(minutes=1))
                 or stay(daemon, p)[1:] != ("nothing_due", 0)]  # fmt: skip
        steps = len(clock_steps(daemon))
    finally:
        await daemon.stop()
    record(Row(target="wall clock stepped an hour both ways (soak)", faults=steps, transactions=len(plates),
               lost=len(wrong), detail="every stay across a step charged for its real seconds"))  # fmt: skip
    assert steps == len(plates)
    assert wrong == []
