"""The demo's whole system (:class:`simulators.demo.Demo`: central and the edge as real processes, Modbus I/O modules
with barrier and loop physics on pseudo-terminals, cameras pushing to the edge, the collector at the booth console)
with central on the real PostgreSQL, made ready for faults (issue 18): the edge killed with SIGKILL and started
again, central stopped and started again. It watches what must hold through them:

* every opening the I/O modules receive is already in the edge's journal (``barrier_commands``) when it arrives;
* after each kill the journal's chain verifies and the edge recovers every open session the journal holds;
* at the end central's database holds every journal record exactly once, in one unbroken chain, and the money the
  collector took is the shift's takings at the edge, the shift report at central and what reconciliation computes
  (:func:`simulators.scenario.conservation_problems`).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import re
import signal
import sqlite3
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import psycopg

from edge.store.journal import Journal
from simulators.demo import Demo, DemoError
from simulators.demo_booth import BoothError, ConsoleOperator
from simulators.demo_processes import Child
from simulators.demo_site import CAR_PARK, EDGE_ID, FREE_VEHICLES, PASS_PLATES, admin_client
from simulators.io_module import OutputChange
from simulators.scenario_report import conservation_problems
from simulators.traffic import Attended, TrafficMix, TrafficRunner, plan_traffic

ZONE = ZoneInfo("Asia/Shanghai")  # the demo car park's


class Collector(ConsoleOperator):
    """The demo's collector, who knows that the console may vanish under a payment: a payment whose answer was lost
    is noted (the lane, the amount due, when), to be looked up in the journal afterwards, as a collector would check
    the console once it is back."""

    def __init__(self, base_url: str) -> None:
        super().__init__(base_url)
        self.unanswered: list[tuple[str, str, datetime]] = []  # lane, the decision's reason, when

    async def _pay(self, lane: str, reason: str) -> Attended | None:
        asked = datetime.now(UTC)
        try:
            return await super()._pay(lane, reason)
        except httpx.HTTPError:
            self.unanswered.append((lane, reason, asked))
            raise

    async def sign_in_again(self, within: float = 30.0) -> None:
        """After a restart the console forgot its sessions; the shift itself comes back from the journal."""
        deadline = time.monotonic() + within
        while True:
            try:
                signed = await self.http.post("/sign-in", json={"operator": self.operator, "pin": self.pin})
                if signed.status_code == 200:
                    return
                problem = f"{signed.status_code} {signed.text[:200]}"
            except httpx.HTTPError as err:
                problem = str(err)
            if time.monotonic() > deadline:
                raise BoothError(f"collector {self.operator} could not sign in again: {problem}")
            await asyncio.sleep(0.3)


@dataclass
class Restart:
    """What one kill of the edge left and what the next start made of it."""

    records: int
    chain_ok: bool
    chain_detail: str
    open_sessions: set[str]
    recovered: int | None = None  # as the restarted edge logged it


@dataclass
class CentralCheck:
    records: int
    distinct_ids: int
    distinct_seqs: int
    max_seq: int
    breaks: int
    hash_failures: int
    in_order: bool  # received in seq order (each batch at once, batches one after the other)
    chain_seq: int


class FaultRun(Demo):
    """Use as ``async with FaultRun(...) as run:`` then :meth:`traffic_for`, the faults, then :meth:`finish`."""

    def __init__(self, workdir: Path, database_url: str, seed: int) -> None:
        super().__init__(workdir, None, seed)
        self.database_url = database_url  # the module's PostgreSQL database (psycopg URL)
        self.central_database_url = database_url.replace("postgresql://", "postgresql+psycopg://", 1)
        self.journal_path = self.workdir / "edge" / "journal.sqlite3"
        self.restarts: list[Restart] = []
        self.opens: Counter[str] = Counter()  # rising edges of each lane's "open" output
        self.unjustified: list[str] = []  # openings the journal did not hold yet
        self.recovered_lines: list[int] = []  # "N open sessions recovered", at each start of the edge
        self.collector: Collector | None = None
        self._watch_line = self.watch.line
        self.traffic_task: asyncio.Task[None] | None = None

    # ------------------------------------------------------------------------------------------- start and stop

    async def __aenter__(self) -> FaultRun:
        self._fresh_workdir()
        try:
            await self.start_central()
            token = await self.set_up_central()
            await self.start_edge(token)
        except BaseException:
            await self.close()
            raise
        for lane, module in self.sims.modules.items():
            module.on_output.append(functools.partial(self._output, lane))
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    async def close(self) -> None:
        self.stop.set()
        if self.traffic_task is not None:
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.wait_for(self.traffic_task, 30)
        if self.operator is not None:
            await self.operator.close()
            self.operator = None
        if self.edge is not None:
            await self.edge.stop(within=20)
        await self.sims.stop()
        await self.provider.stop()
        if self.central is not None:
            await self.central.stop(within=20)

    async def start_edge(self, token: str) -> None:
        await super().start_edge(token)
        assert self.edge is not None
        self.edge.on_line = self._line

    async def open_booth(self) -> None:
        self.collector = Collector(self.console_url)
        self.operator = self.collector
        try:
            await self.collector.sign_in_and_open_shift()
        except (BoothError, httpx.HTTPError) as err:
            raise DemoError(str(err)) from err

    def _line(self, text: str) -> None:
        found = re.search(r"(\d+) open sessions recovered", text)
        if found:
            self.recovered_lines.append(int(found.group(1)))
        self._watch_line(text)

    # ------------------------------------------------------------------------------------------- traffic

    def traffic_for(self, vehicles: int, mean_gap_s: float = 1.5) -> asyncio.Task[None]:
        """Vehicles through the four lanes until :attr:`stop` (passes and free vehicles, visitors who pay cash at the
        attended exit); runs beside the faults."""
        assert self.collector is not None
        mix = TrafficMix(
            pass_plates=PASS_PLATES, free_plates=tuple(p for p, _ in FREE_VEHICLES), entry_lanes=("in-1", "in-2"),
            attended_exits=("out-1",), unattended_exits=("out-2",), mean_gap_s=mean_gap_s, stay_s=(2.0, 8.0),
            misread_share=0.05, no_read_share=0.05,
        )  # fmt: skip
        visits = plan_traffic(self.seed, vehicles, mix)
        self.runner = TrafficRunner(self.lanes(), self.feed, self.collector, lambda _line: None,
                                    decision_timeout_s=6.0)  # fmt: skip
        self.traffic_task = asyncio.create_task(self.runner.run(visits, self.stop), name="traffic")
        return self.traffic_task

    async def until(self, what: str, check: Any, within: float) -> None:
        """Wait for ``check()`` (a condition of the run, not a time) or fail naming ``what``."""
        deadline = time.monotonic() + within
        while not check():
            if time.monotonic() > deadline:
                raise AssertionError(f"{what}: not within {within:.0f} s")
            await asyncio.sleep(0.1)

    def passages(self) -> int:
        stats = self.runner.stats if self.runner is not None else None
        return 0 if stats is None else stats.entered + stats.left

    # ------------------------------------------------------------------------------------------- openings

    def _output(self, lane: str, change: OutputChange) -> None:
        """An output the edge set on a lane's I/O module: an opening must already be journaled."""
        if change.point != "open" or not change.active:
            return
        self.opens[lane] += 1
        journaled = self.journal_count("SELECT count(*) FROM barrier_commands WHERE lane = ? AND command = 'open'",
                                       (lane,))  # fmt: skip
        if self.opens[lane] > journaled:
            self.unjustified.append(f"{lane}: opening #{self.opens[lane]} with {journaled} journaled open commands")

    def journal_count(self, sql: str, params: tuple[Any, ...] = ()) -> int:
        with contextlib.closing(sqlite3.connect(f"file:{self.journal_path}?mode=ro", uri=True, timeout=5)) as db:
            return int(db.execute(sql, params).fetchone()[0])

    # ------------------------------------------------------------------------------------------- kill -9 of the edge

    async def kill_edge(self) -> Restart:
        """SIGKILL the edge, check its journal while it is down, start it again on the same files."""
        edge = self.edge
        assert edge is not None
        assert edge.process is not None
        assert edge.pid is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(edge.pid, signal.SIGKILL)
        await edge.process.wait()
        await edge.stop(within=5)
        journal = Journal(self.journal_path, CAR_PARK)
        try:
            check = journal.verify_chain()
            restart = Restart(journal.last_seq, check.ok, check.detail or "",
                              {s.id for s in journal.open_sessions()})  # fmt: skip
        finally:
            journal.close()
        self.restarts.append(restart)
        await self.restart_edge()
        restart.recovered = self.recovered_lines[-1] if self.recovered_lines else None
        return restart

    async def restart_edge(self) -> None:
        old = self.edge
        assert old is not None
        lines = len(self.recovered_lines)
        reads = {lane: module.reads for lane, module in self.sims.modules.items()}
        self.edge = Child("edge", old.argv, old.log_path, old.env, self._line)
        await self.edge.start()
        await self._wait("the edge's console again", lambda: self._http_ok(f"{self.console_url}/healthz"), self.edge,
                         60)  # fmt: skip
        polled = lambda: all(m.reads > reads[lane] for lane, m in self.sims.modules.items())  # noqa: E731
        await self._wait("the edge polling the I/O modules again", polled, self.edge, 30)
        await self._wait("the edge's start-up line", lambda: len(self.recovered_lines) > lines, self.edge, 30)
        assert self.collector is not None
        await self.collector.sign_in_again()

    # ------------------------------------------------------------------------------------------- central down

    async def stop_central(self) -> None:
        assert self.central is not None
        await self.central.stop(within=20)

    async def start_central_again(self) -> None:
        old = self.central
        assert old is not None
        self.central = Child("central", old.argv, old.log_path, old.env)
        await self.central.start()
        await self._wait("central again", lambda: self._http_ok(f"{self.central_url}/healthz"), self.central, 90)

    def unsent(self) -> int:
        return self.journal_count("SELECT count(*) FROM records WHERE sent = 0")

    # ------------------------------------------------------------------------------------------- the end

    async def finish(self) -> dict[str, Any]:
        """Stop the traffic, close the shift, let the outbox empty, and gather what the checks compare."""
        self.stop.set()
        if self.traffic_task is not None:
            await self.traffic_task
        assert self.collector is not None
        state = (await self.collector.http.get("/state")).json()["shift"]
        edge_takings = int(state["totals"]["takings"]["minor"])
        shift_id = await self._close_shift_when_clear(self.collector)
        await self.until("the outbox empty", lambda: self.unsent() == 0, 90)
        journal = Journal(self.journal_path, CAR_PARK)
        try:
            check = journal.verify_chain()
            edge_records = journal.last_seq
            payments = journal.rows("SELECT amount, payload FROM transactions WHERE kind = 'payment'")
        finally:
            journal.close()
        central = self.central_check()
        money = await self.money(shift_id, edge_takings, payments)
        recon_shifts = money.pop("_reconciled_shifts")
        duplicated, missing = central.records - central.distinct_seqs, central.max_seq - central.distinct_seqs
        problems = conservation_problems(money, (1, recon_shifts), edge_records, central.distinct_ids, duplicated,
                                         missing)  # fmt: skip
        if not check.ok:
            problems.append(f"the journal's chain does not verify at the end: {check.detail}")
        if central.breaks or central.hash_failures:
            problems.append(f"central: {central.breaks} chain breaks, {central.hash_failures} records whose hash fails")
        if central.chain_seq != edge_records:
            problems.append(f"central's chain head is at seq {central.chain_seq} of the journal's {edge_records}")
        return {"edge_records": edge_records, "central": central, "money": money, "problems": problems}

    async def _close_shift_when_clear(self, collector: Collector, within: float = 30.0) -> str:
        """The console refuses to close a shift while a paid vehicle is still in a lane: the last ones drive off."""
        deadline = time.monotonic() + within
        while True:
            try:
                shift_id, _counted = await collector.close_shift("故障测试结束：现金已点清")
                return shift_id
            except BoothError as err:
                if "shift.vehicle_in_lane" not in str(err) or time.monotonic() > deadline:
                    raise
            await asyncio.sleep(0.5)

    def central_check(self) -> CentralCheck:
        """Straight from central's PostgreSQL database: every record of the edge, its chain breaks, its head."""
        with psycopg.connect(self.database_url) as db:
            records, ids, seqs, top, bad = db.execute(
                "SELECT count(*), count(DISTINCT id), count(DISTINCT seq), coalesce(max(seq), 0), "
                "count(*) FILTER (WHERE NOT hash_ok) FROM edge_records WHERE edge_id = %s", (EDGE_ID,)
            ).fetchone() or (0, 0, 0, 0, 0)  # fmt: skip
            breaks = db.execute("SELECT count(*) FROM chain_breaks WHERE edge_id = %s", (EDGE_ID,)).fetchone()
            head = db.execute("SELECT chain_seq FROM edges WHERE id = %s", (EDGE_ID,)).fetchone()
            order = [int(s) for (s,) in db.execute(
                "SELECT seq FROM edge_records WHERE edge_id = %s ORDER BY received_at, seq", (EDGE_ID,))]  # fmt: skip
        return CentralCheck(int(records), int(ids), int(seqs), int(top), int(breaks[0] if breaks else 0), int(bad),
                            order == sorted(order), int(head[0] if head else 0))  # fmt: skip

    async def money(self, shift_id: str, edge_takings: int, payments: list[tuple[Any, ...]]) -> dict[str, int]:
        """The four figures that must agree: what the collector took (confirmed payments, and the ones whose answer
        a kill cut off that the journal holds), the shift's takings at the edge, its report at central, and the cash
        reconciliation computes from the records."""
        assert self.collector is not None
        assert self.runner is not None
        confirmed = self.runner.stats.takings_minor
        journaled = sum(int(amount) for amount, _payload in payments)
        cut_off = journaled - confirmed
        # Each payment whose answer was lost is in the journal or not; they account for the difference at most.
        worst = sum(_due(reason) for _lane, reason, _at in self.collector.unanswered)
        paid = confirmed + cut_off if 0 <= cut_off <= worst else confirmed
        client = await admin_client(self.central_url, self.password)
        try:
            deadline = time.monotonic() + 60
            while True:
                reports = (await client.get("/api/v1/shift-reports", params={"car_park": CAR_PARK,
                                                                             "limit": 1000})).json()  # fmt: skip
                report = next((r for r in reports if r["shift"] == shift_id), None)
                if report is not None or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.5)
            day = datetime.now(ZONE).date().isoformat()
            recon = (await client.get(f"/api/v1/reconciliation/days/{CAR_PARK}/{day}")).json()
        finally:
            await client.aclose()
        shifts = [s for s in recon["shifts"] if s["shift"] == shift_id]
        reconciled = sum(int(f["tendered"]) - int(f["change"]) - int(f["refunded"])
                         for f in (s["figures"]["cash"] for s in shifts))  # fmt: skip
        return {"paid": paid, "edge_shifts": edge_takings,
                "central_shift_reports": int(report["takings"] or 0) if report else -1, "reconciled": reconciled,
                "_reconciled_shifts": len(shifts)}  # fmt: skip


def _due(reason: str) -> int:
    """The amount a "5.00 due" decision names, in minor units."""
    from parking.money import MoneyError, parse_amount

    try:
        return parse_amount(reason.split()[0], "CNY")
    except (MoneyError, IndexError):
        return 0


def summary_detail(run: FaultRun, result: dict[str, Any]) -> str:
    central: CentralCheck = result["central"]
    money = result["money"]
    stuck = run.runner.stats.stuck if run.runner else 0
    return (f"{result['edge_records']} journal records, central {central.distinct_ids} "
            f"(chain head {central.chain_seq}), {sum(run.opens.values())} openings all journaled first, "
            f"{stuck} vehicles stuck at a fault, money {money['paid']} minor units paid = edge = central = "
            "reconciled")  # fmt: skip
