"""``parkgate sim scenario FILE.toml --speed N --report out.json``: a car park's day in minutes.

The demo's system (:class:`simulators.demo.Demo`: central and the edge as real processes, Modbus I/O modules with
barrier and loop physics on pseudo-terminals, plate cameras pushing to the edge) runs on an accelerated clock
(:mod:`parking.clock`) handed to every process of the run, with the traffic a scenario file plans
(:mod:`simulators.scenario_plan`) and its collectors' shifts handed over at set hours. At the end the run checks that
money is conserved (what drivers paid = the shifts' takings at the edge = the shift reports at central = what
reconciliation computes) and that every journal record reached central once, and writes what happened as JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sqlite3
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from parking.clock import CLOCK_ENV, AcceleratedClock, StartingClock
from parking.money import MoneyError, format_amount, parse_amount
from simulators.demo import Demo, DemoError, say
from simulators.demo_booth import BoothError, ConsoleOperator
from simulators.demo_processes import Child
from simulators.demo_site import CAR_PARK, EDGE_ID, FREE_VEHICLES, PASS_PLATES, CentralSetupError, admin_client
from simulators.scenario_plan import Fault, Lanes, Scenario, ScenarioError, Shift, load_scenario, plan_day, plate_pool
from simulators.traffic import Attended, Decision, DecisionFeed, TrafficRunner, Visit

_LOGGER = logging.getLogger(__name__)
LANES = Lanes(entries=("in-1", "in-2"), attended_exits=("out-1",), unattended_exits=("out-2",))


class CountingFeed(DecisionFeed):
    """The edge's decisions, with the denials counted by lane direction and reason."""

    def __init__(self) -> None:
        super().__init__()
        self.denials: Counter[str] = Counter()

    def put(self, decision: Decision) -> None:
        if decision.outcome == "deny":
            self.denials[f"{decision.lane}: {decision.reason}"] += 1
        super().put(decision)


class DishonestCollector(ConsoleOperator):
    """Opens the barrier by hand for a visitor who pays cash, and keeps the cash (the manual open's reason says the
    driver "had a receipt"); every third visitor is charged the lost-card fee instead, though the entry is on
    record, and that fee is taken through the till."""

    def __init__(self, base_url: str, operator: str, pin: str) -> None:
        super().__init__(base_url, operator, pin)
        self.pocketed = 0
        self.visitors = 0
        self.lost_cards: set[int] = set()

    async def attend(self, visit: Visit, decision: Decision) -> Attended | None:
        if not decision.reason.endswith(" due") or visit.number in self.lost_cards:
            return await super().attend(visit, decision)
        self.visitors += 1
        lane = decision.lane
        if self.visitors % 3 == 1:
            self.lost_cards.add(visit.number)
            answer = await self.http.post(f"/lanes/{lane}/lost-card", json={})
            return Attended("charged the lost-card fee") if answer.status_code == 200 else None
        try:
            due = parse_amount(decision.reason.split()[0], "CNY")
        except MoneyError:
            return None
        answer = await self.http.post(f"/lanes/{lane}/manual-open", json={"reason": "driver showed a receipt"})
        if answer.status_code != 200:
            return None
        self.pocketed += due
        return Attended(f"manual open; kept {format_amount(due, 'CNY')} cash")


@dataclass
class ShiftTotals:
    collector: str
    shift: str = ""
    takings: int = 0  # the edge's expected cash less the float, when the shift closed
    counted: int = 0
    pocketed: int = 0  # cash a dishonest collector kept


@dataclass
class Booth:
    """The collector on duty; a handover closes the shift, signs out, and the next collector opens one."""

    console_url: str
    on_duty: ConsoleOperator | None = None
    closed: list[ShiftTotals] = field(default_factory=list)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def take_over(self, shift: Shift, first: bool) -> None:
        if self.on_duty is not None:
            await self._hand_over_when_clear(f"交班给 {shift.name}")
        async with self.lock:
            kind = DishonestCollector if shift.dishonest else ConsoleOperator
            operator = kind(self.console_url, shift.collector, shift.pin)
            await operator.sign_in_and_open_shift(acknowledge_handover=not first)
            self.on_duty = operator

    async def _hand_over(self, note: str) -> None:
        operator = self.on_duty
        assert operator is not None
        state = (await operator.http.get("/state")).json()["shift"]
        takings = int(state["totals"]["takings"]["minor"])
        shift_id, counted = await operator.close_shift(note)
        pocketed = operator.pocketed if isinstance(operator, DishonestCollector) else 0
        self.closed.append(ShiftTotals(operator.operator, shift_id, takings, counted, pocketed))
        await operator.sign_out()
        await operator.close()
        self.on_duty = None

    async def _hand_over_when_clear(self, note: str, tries: int = 60) -> None:
        """Close the shift once no paid vehicle is still in a lane (the console refuses it before)."""
        for _ in range(tries - 1):
            async with self.lock:
                if self.on_duty is None:
                    return
                try:
                    await self._hand_over(note)
                    return
                except BoothError as err:
                    if "shift.vehicle_in_lane" not in str(err):
                        raise
            await asyncio.sleep(0.5)
        async with self.lock:
            if self.on_duty is not None:
                await self._hand_over(note)

    async def finish(self) -> None:
        await self._hand_over_when_clear("场景结束：现金已点清")

    async def attend(self, visit: Visit, decision: Decision) -> Attended | None:
        async with self.lock:
            return None if self.on_duty is None else await self.on_duty.attend(visit, decision)


class ScenarioRun(Demo):
    def __init__(self, scenario: Scenario, workdir: Path, speed: float) -> None:
        super().__init__(workdir, None, scenario.seed)
        self.scenario = scenario
        self.pending = StartingClock(scenario.start, self.workdir / "clock.go", speed)
        self.clock = AcceleratedClock(scenario.start, time.time(), speed)  # until the clock goes
        self.speed = speed
        self.env[CLOCK_ENV] = ""  # set when the run starts
        self.counting = CountingFeed()
        self.feed = self.watch.feed = self.counting
        self.booth = Booth(self.console_url)
        self.passes = (*PASS_PLATES, *plate_pool("P", max(0, scenario.passes - len(PASS_PLATES))))
        self.blacklist = plate_pool("X", scenario.blacklisted)
        self.report_json: dict[str, Any] | None = None
        self.fault_log: list[dict[str, str]] = []

    def start_clock(self) -> None:
        """The simulated clock for every process of the run (children inherit it, this one reads it): it shows the
        scenario's start until :meth:`StartingClock.go`, when the system is up and the traffic starts."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.pending = StartingClock(self.scenario.start, self.workdir / "clock.go", self.speed)
        self.pending.go_file.unlink(missing_ok=True)
        self.env[CLOCK_ENV] = os.environ[CLOCK_ENV] = self.pending.env_value()

    async def set_up_central(self) -> str:
        token = await super().set_up_central()
        try:
            client = await admin_client(self.central_url, self.password)
            try:
                await self._more_lists(client)
            finally:
                await client.aclose()
        except (CentralSetupError, httpx.HTTPError, KeyError) as err:
            raise DemoError(f"setting up the scenario's lists failed: {err}") from err
        return token

    async def _more_lists(self, client: httpx.AsyncClient) -> None:
        plan = (await client.get("/api/v1/plans")).json()[0]["id"]
        for number, plate in enumerate(self.passes[len(PASS_PLATES) :], start=100):
            unit = (await client.post("/api/v1/units", json={"building": "S", "room": str(number)})).json()
            body = {"name": f"住户{number}", "phone": f"1390000{number:04d}", "unit_id": unit["id"]}
            holder = (await client.post("/api/v1/holders", json=body)).json()
            sale = await client.post("/api/v1/passes", json={"holder_id": holder["id"], "plan_id": plan,
                                                             "plates": [plate]})  # fmt: skip
            if sale.status_code != 201:
                raise CentralSetupError(f"the pass of {plate}: {sale.status_code} {sale.text[:200]}")
        for plate in self.blacklist:
            entry = {"list_kind": "blacklist", "plate": plate, "category": "unpaid", "reason": "scenario: unpaid fees",
                     "car_parks": [CAR_PARK]}  # fmt: skip
            added = await client.post("/api/v1/vehicles", json=entry)
            if added.status_code != 201:
                raise CentralSetupError(f"blacklisting {plate}: {added.status_code} {added.text[:200]}")

    async def add_collector(self, operator: str, name: str, pin: str) -> None:
        """The scenario's collectors instead of the demo's."""
        for shift in self.scenario.shifts:
            if shift.collector not in {s.collector for s in self.scenario.shifts[: self.scenario.shifts.index(shift)]}:
                await super().add_collector(shift.collector, shift.name, shift.pin)

    async def open_booth(self) -> None:
        """The scenario's first shift opens when its traffic starts."""

    async def traffic(self) -> None:
        visits = plan_day(self.scenario, LANES, self.passes, tuple(p for p, _ in FREE_VEHICLES), self.blacklist)
        self.runner = TrafficRunner(self.lanes(), self.feed, self.booth, _LOGGER.info)
        say(
            f"  scenario   {self.scenario.name}: {len(visits)} vehicles over {self.scenario.hours} h from "
            f"{self.scenario.start:%Y-%m-%d %H:%M} at {self.speed:g}x ({self.scenario.hours * 3600 / self.speed:.0f} s)"
        )
        self.clock = self.pending.go()
        try:
            await self.booth.take_over(self.scenario.shifts[0], first=True)
        except (BoothError, httpx.HTTPError) as err:
            raise DemoError(f"the first shift did not open: {err}") from err
        handovers = asyncio.gather(self._handovers(), *(self._fault(f) for f in self.scenario.faults))
        ends = asyncio.get_running_loop().call_later(_real_until(self.clock, self.scenario.end), self.stop.set)
        try:
            await self.runner.run(visits, self.stop)
        finally:
            ends.cancel()
            handovers.cancel()
        await self.booth.finish()

    async def _handovers(self) -> None:
        for shift in self.scenario.shifts[1:]:
            await asyncio.sleep(_real_until(self.clock, shift.starts))
            try:
                await self.booth.take_over(shift, first=False)
            except (BoothError, httpx.HTTPError, KeyError) as err:
                say(f"  booth      the handover to {shift.collector} failed: {err}")
            else:
                say(f"  booth      {shift.starts:%H:%M} handover: {shift.name} ({shift.collector}) opened a shift")

    async def _fault(self, fault: Fault) -> None:
        await asyncio.sleep(_real_until(self.clock, fault.starts))
        where = f" at {fault.lane}" if fault.lane else ""
        say(f"  fault      {fault.starts:%H:%M}-{fault.ends:%H:%M} {fault.kind}{where}")
        self.fault_log.append({"kind": fault.kind, "lane": fault.lane, "from": fault.starts.isoformat(),
                               "to": fault.ends.isoformat()})  # fmt: skip
        if fault.kind == "central_offline":
            assert self.central is not None
            await self.central.stop(within=20)
        else:
            self.sims.modules[fault.lane].lane.barrier.inject_fault(time.monotonic(), "scenario: barrier fault")
        await asyncio.sleep(_real_until(self.clock, fault.ends))
        if fault.kind == "central_offline":
            await self._restart_central()
        else:
            self.sims.modules[fault.lane].lane.barrier.clear_fault(time.monotonic())
        say(f"  fault      {fault.ends:%H:%M} {fault.kind}{where} over")

    async def _restart_central(self) -> None:
        old = self.central
        assert old is not None
        self.central = Child("central", old.argv, old.log_path, old.env)
        await self.central.start()
        await self._wait("central again", lambda: self._http_ok(f"{self.central_url}/healthz"), self.central, 90)

    async def shut_down(self) -> int:
        self.watch.stopping = True
        await self.booth.finish()
        return await super().shut_down()

    async def summary(self, edge_status: int) -> bool:
        ok = await super().summary(edge_status)
        report = await self.report(edge_status)
        self.report_json = report
        return ok and not report["problems"]

    async def report(self, edge_status: int) -> dict[str, Any]:
        central = await self._central_figures()
        edge = self._edge_figures()
        stats = self.runner.stats if self.runner is not None else None
        paid = stats.takings_minor if stats is not None else 0  # through the till (a kept cash is not in it)
        edge_takings = sum(s.takings for s in self.booth.closed)
        shifts = {s.shift for s in self.booth.closed}
        central_takings = sum(int(r["takings"] or 0) for r in central["shift_reports"] if r["shift"] in shifts)
        recon = [s for s in central["reconciliation"]["shifts"] if s["shift"] in shifts]
        reconciled = sum(int(f["tendered"]) - int(f["change"]) - int(f["refunded"]) for f in
                         (s["figures"]["cash"] for s in recon))  # fmt: skip
        reported = {r["shift"]: r["takings"] for r in central["shift_reports"]}
        money = {"paid": paid, "edge_shifts": edge_takings, "central_shift_reports": central_takings,
                 "reconciled": reconciled}  # fmt: skip
        problems = conservation_problems(money, (len(shifts), len(recon)), edge["records"], central["records"],
                                         central["duplicates"], central["missing_seqs"])  # fmt: skip
        dishonest = {s.collector for s in self.scenario.shifts if s.dishonest}
        named = _named(recon, central["reconciliation"]["collectors"])
        if dishonest - named:
            problems.append(
                f"reconciliation does not name the dishonest collector(s) {', '.join(sorted(dishonest - named))}"
            )
        if edge_status != 0:
            problems.append(f"the edge exited with status {edge_status}")
        return {
            "scenario": self.scenario.name, "start": self.scenario.start.isoformat(), "hours": self.scenario.hours,
            "speed": self.speed, "vehicles": edge["vehicles"],
            "traffic": {"entered": stats.entered if stats else 0, "left": stats.left if stats else 0,
                        "did_not_get_through": stats.stuck if stats else 0,
                        "faults": dict(stats.faults) if stats else {}},
            "faults": self.fault_log, "abnormal_events": edge["abnormal"], "denials": dict(self.counting.denials),
            "revenue": central["totals"],
            "money": money,
            "named_by_reconciliation": sorted(named), "pocketed": sum(s.pocketed for s in self.booth.closed),
            "shifts": [{"collector": s.collector, "shift": s.shift, "edge_takings": s.takings, "counted": s.counted,
                        "central_takings": reported.get(s.shift)} for s in self.booth.closed],
            "reconciliation": [{"shift": s["shift"], "collector": s["collector"], "state": s["state"],
                                "findings": [f["code"] for f in s["findings"]]} for s in recon],
            "collectors": central["reconciliation"]["collectors"],
            "records": {"edge": edge["records"], "central": central["records"], "duplicated": central["duplicates"],
                        "missing": central["missing_seqs"]},
            "problems": problems,
        }  # fmt: skip

    def _edge_figures(self) -> dict[str, Any]:
        journal = sqlite3.connect(self.workdir / "edge" / "journal.sqlite3")
        try:
            rows = journal.execute("SELECT kind, status, count(*) FROM sessions GROUP BY kind, status").fetchall()
            records = int(journal.execute("SELECT count(*) FROM records").fetchone()[0])
            abnormal = journal.execute("SELECT lane, json_extract(payload, '$.event') FROM records "
                                       "WHERE kind = 'abnormal_event'").fetchall()  # fmt: skip
        finally:
            journal.close()
        vehicles: dict[str, dict[str, int]] = {}
        for kind, status, count in rows:
            by_kind = vehicles.setdefault(str(kind), {"in": 0, "out": 0})
            by_kind["in"] += int(count)
            by_kind["out"] += int(count) if status == "closed" else 0
        events = Counter(f"{lane}: {event}" for lane, event in abnormal)
        return {"vehicles": vehicles, "records": records, "abnormal": dict(sorted(events.items()))}

    async def _central_figures(self) -> dict[str, Any]:
        client = await admin_client(self.central_url, self.password)
        try:
            seqs: list[int] = []
            while True:
                page = (await client.get("/api/v1/records", params={"edge_id": EDGE_ID, "limit": 1000,
                                                                    "offset": len(seqs)})).json()  # fmt: skip
                seqs += [int(r["seq"]) for r in page]
                if len(page) < 1000:
                    break
            reports = (await client.get("/api/v1/shift-reports", params={"car_park": CAR_PARK, "limit": 1000})).json()
            totals = (await client.get("/api/v1/transactions/totals", params={"car_park": CAR_PARK})).json()
            day = self.scenario.start.date().isoformat()
            recon = (await client.get(f"/api/v1/reconciliation/days/{CAR_PARK}/{day}")).json()
        finally:
            await client.aclose()
        expected = set(range(1, max(seqs, default=0) + 1))
        return {"records": len(seqs), "duplicates": len(seqs) - len(set(seqs)),
                "missing_seqs": len(expected - set(seqs)), "shift_reports": reports, "totals": totals,
                "reconciliation": recon}  # fmt: skip

    async def run(self) -> int:
        self.start_clock()
        return await super().run()


def conservation_problems(money: dict[str, int], shifts: tuple[int, int], edge_records: int, central_records: int,
                          duplicated: int, missing: int) -> list[str]:  # fmt: skip
    """What breaks the run's checks: the money's four figures differ, reconciliation misses a shift (``shifts``: closed
    at the edge, reconciled), or a journal record did not reach central exactly once."""
    problems = []
    if len(set(money.values())) != 1:
        problems.append(f"money is not conserved: {money}")
    if shifts[0] != shifts[1]:
        problems.append(f"reconciliation shows {shifts[1]} of the {shifts[0]} shifts")
    if central_records != edge_records or duplicated or missing:
        problems.append(f"records: edge {edge_records}, central {central_records} ({duplicated} duplicated, "
                        f"{missing} missing)")  # fmt: skip
    return problems


def _named(shifts: list[dict[str, Any]], collectors: list[dict[str, Any]]) -> set[str]:
    """The collectors reconciliation names: of a shift with an exception, or with a rate flagged among peers."""
    named = {str(s["collector"]) for s in shifts if any(f["severity"] == "exception" for f in s["findings"])}
    return named | {str(c["collector"]) for c in collectors if c["flagged"]}


def _real_until(clock: AcceleratedClock, simulated: datetime) -> float:
    """Real seconds from now until ``clock`` shows ``simulated`` (0 when past)."""
    return max(0.0, clock.real_at(simulated) - time.time())


def run_scenario(args: argparse.Namespace) -> int:
    try:
        scenario = load_scenario(Path(args.file))
    except ScenarioError as err:
        print(f"parkgate sim scenario: {err}")
        return 2
    for noisy in ("httpx", "pymodbus"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    speed = float(args.speed) if args.speed is not None else scenario.speed
    run = ScenarioRun(scenario, Path(args.workdir), speed)
    status = asyncio.run(run.run())
    report = run.report_json
    if report is None:
        return status or 1
    Path(args.report).write_text(json.dumps(report, ensure_ascii=False, indent=2, default=str), encoding="utf-8")
    for problem in report["problems"]:
        say(f"  PROBLEM    {problem}")
    say(f"report written to {args.report}")
    return 1 if report["problems"] else status


def register_sim(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sim = subparsers.add_parser("scenario", help="run a simulated day from a scenario file on an accelerated clock")
    sim.add_argument("file", help="the scenario file (config/scenarios/*.toml)")
    sim.add_argument("--speed", type=float, default=None, help="simulated seconds per real second (default: file's)")
    sim.add_argument("--report", default="scenario-report.json", help="where to write what happened (JSON)")
    sim.add_argument("--workdir", default="var/scenario", help="where the run keeps its databases and logs")
    sim.set_defaults(handler=run_scenario)
