"""Central down while the lanes work (issue 18), against the real processes and PostgreSQL: the lanes keep deciding
from the edge's own lists, the outbox holds every record made meanwhile (none is acknowledged while central is gone),
and when central is back each arrives once, in the edge's order, with the day's money conserved. The short version
(``make test``) stops central's process for a dozen vehicles of the demo's traffic; the soak keeps it down for a
simulated day (22 hours of a scenario on the accelerated clock, two shifts closed while it is down)."""

from __future__ import annotations

import time
from datetime import UTC, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from edge.store.journal import Journal
from parking.clock import CLOCK_ENV
from simulators.demo_site import CAR_PARK, EDGE_ID
from simulators.scenario import ScenarioRun
from simulators.scenario_plan import load_scenario
from tests import soak_summary
from tests.system.fault_run import FaultRun, summary_detail

pytestmark = [pytest.mark.postgres]


@pytest.mark.slow
@pytest.mark.timeout(600)
async def test_central_down_while_the_lanes_work(tmp_path: Path, postgres_url: str) -> None:
    started = time.monotonic()
    async with FaultRun(tmp_path / "run", postgres_url, seed=2018) as run:
        run.traffic_for(vehicles=100_000)
        await run.until("the first vehicles through", lambda: run.passages() >= 4, 60)
        await run.until("the outbox empty before the outage", lambda: run.unsent() == 0, 60)
        await run.stop_central()
        down_at_seq = run.journal_count("SELECT max(seq) FROM records")
        passed = run.passages()
        await run.until("a dozen vehicles through while central is down", lambda: run.passages() >= passed + 12, 180)
        # The lanes kept deciding alone, and nothing made meanwhile counts as delivered.
        made, acked = (run.journal_count(f"SELECT {what} FROM records WHERE seq > ?", (down_at_seq,))
                       for what in ("count(*)", "coalesce(sum(sent), 0)"))  # fmt: skip
        assert made >= 12
        assert acked == 0
        assert run.unsent() >= made
        held = run.unsent()
        await run.start_central_again()
        result = await run.finish()
        central = result["central"]
        soak_summary.record(soak_summary.Row(
            target="central down while the lanes work", faults=1, transactions=run.passages(),
            lost=max(0, result["edge_records"] - central.distinct_ids),
            duplicated=central.records - central.distinct_seqs, conserved=len(set(result["money"].values())) == 1,
            detail=f"{held} records held in the outbox; " + summary_detail(run, result)
            + f"; {time.monotonic() - started:.0f} s",
        ))  # fmt: skip
        assert result["problems"] == [], result["problems"]
        assert central.in_order, "central received the held records out of the edge's order"
        assert not run.unjustified, run.unjustified


# ------------------------------------------------------------------------------------------- the soak: a day

DAY = """
[scenario]
name = "central offline for a day"
start = "2026-03-04T00:30:00+08:00"
timezone = "Asia/Shanghai"
hours = 23
speed = 300
seed = 20260304

[traffic]
arrivals_per_hour = [1, 1, 1, 1, 1, 3, 6, 8, 6, 4, 4, 5, 5, 4, 4, 4, 5, 7, 8, 6, 4, 3, 2]
passes = 30
blacklisted = 2
misread_rate = 0.06
no_read_rate = 0.05
dwell = { median_minutes = 60, sigma = 1.0, max_minutes = 300 }
mix = { pass = 0.45, temporary = 0.45, free = 0.05, blacklisted = 0.05 }

[[faults]]
kind = "central_offline"
at = "01:00"
minutes = 1320   # 01:00 to 23:00

[[shifts]]
collector = "c01"
name = "王芳"
pin = "2468"

[[shifts]]
collector = "c02"
name = "李强"
pin = "1357"
at = "09:00"

[[shifts]]
collector = "c03"
name = "张伟"
pin = "9753"
at = "17:00"
"""


class OutageDay(ScenarioRun):
    """The scenario with central on PostgreSQL; just before central comes back, what the outbox holds is noted."""

    def __init__(self, path: Path, workdir: Path, database_url: str) -> None:
        super().__init__(load_scenario(path), workdir, load_scenario(path).speed)
        self.central_database_url = database_url.replace("postgresql://", "postgresql+psycopg://", 1)
        self.held: dict[str, int] = {}
        self.back_at: float | None = None
        self.delivered_after: float | None = None  # real seconds from central's return to an empty outbox

    async def _restart_central(self) -> None:
        fault = self.scenario.faults[0]
        after = fault.starts + timedelta(minutes=30)  # well into the outage: central takes a moment to stop
        journal = Journal(self.workdir / "edge" / "journal.sqlite3", CAR_PARK)
        try:
            records, unsent = journal.last_seq, journal.count("records", "sent = 0")
            sent_since = journal.count("records", "sent = 1 AND at >= ?", (after.astimezone(UTC).strftime(
                "%Y-%m-%dT%H:%M:%S.%fZ"),))  # fmt: skip
        finally:
            journal.close()
        self.held = {"records": records, "unsent": unsent, "acknowledged_while_down": sent_since}
        self.back_at = time.monotonic()  # central's start-up included
        await super()._restart_central()

    async def _settle(self, within: float = 10.0) -> None:
        """The outbox retries on its backoff (capped at a minute, with jitter): give it time to find central back,
        however long it was away, before the edge stops."""
        await super()._settle(within=180)
        if self.back_at is not None:
            self.delivered_after = time.monotonic() - self.back_at


@pytest.mark.soak
@pytest.mark.timeout(1200)
async def test_central_down_for_a_day(tmp_path: Path, postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CLOCK_ENV, "")  # the run sets the accelerated clock in this process too: undone after
    started = time.monotonic()
    path = tmp_path / "central-down-a-day.toml"
    path.write_text(DAY, encoding="utf-8")
    run = OutageDay(path, tmp_path / "run", postgres_url)
    status = await run.run()
    report: dict[str, Any] = run.report_json or {}
    with psycopg.connect(postgres_url) as db:
        order = [int(s) for (s,) in db.execute("SELECT seq FROM edge_records WHERE edge_id = %s "
                                               "ORDER BY received_at, seq", (EDGE_ID,))]  # fmt: skip
    records = report.get("records", {})
    money = report.get("money", {})
    soak_summary.record(soak_summary.Row(
        target="central down for a simulated day", faults=1,
        transactions=sum(v["in"] + v["out"] for v in report.get("vehicles", {}).values()),
        lost=max(0, records.get("edge", 0) - records.get("central", 0)) + records.get("missing", 0),
        duplicated=records.get("duplicated", 0), conserved=bool(money) and len(set(money.values())) == 1,
        detail=f"{run.held.get('unsent', 0)} records held by the outbox at 23:00, "
               f"{run.held.get('acknowledged_while_down', 0)} acknowledged while down, all at central "
               f"{run.delivered_after or 0:.0f} s after its return; money {money}; "
               f"{time.monotonic() - started:.0f} s",
    ))  # fmt: skip
    assert report.get("problems") == [], report.get("problems")
    assert status == 0
    assert run.held["acknowledged_while_down"] == 0
    assert run.held["unsent"] > 100
    assert order == sorted(order), "central received the held records out of the edge's order"
    assert len(order) == len(set(order)) == records["edge"]
    assert len(report["shifts"]) == 3
