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
import contextlib
import json
import logging
import os
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
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
from simulators.scenario_report import booth_problems, conservation_problems, edge_figures, named_collectors
from simulators.traffic import Attended, Decision, DecisionFeed, TrafficRunner, VehicleKind, Visit

_LOGGER = logging.getLogger(__name__)
SPECIAL_CATEGORIES = ("hearse", "vip", "contractor")  # 特殊车辆 as the front desk registers them
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
        if not decision.reason.endswith(" due") or visit.number in self.lost_cards or visit.lost_card:
            return await super().attend(visit, decision)  # a card truly lost: charged like his peers charge it
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
    drops: list[dict[str, Any]] = field(default_factory=list)  # the sealed bags dropped (投包)
    fault_reports: list[dict[str, str]] = field(default_factory=list)  # the collectors' fault reports
    lost_cards: int = 0  # lost-card fees charged for a card truly lost (the closed shifts' collectors)

    async def drop_cash(self, bag: str) -> int:
        """The collector on duty drops the drawer's takings into ``bag``; answers the amount (0: nothing dropped)."""
        async with self.lock:
            operator = self.on_duty
            if operator is None:
                return 0
            amount = await operator.drop_cash(bag)
            if amount:
                self.drops.append({"bag": bag, "collector": operator.operator, "amount": amount})
            return amount

    async def report_fault(self, lane: str, device: str, note: str) -> None:
        async with self.lock:
            if self.on_duty is not None and await self.on_duty.report_fault(lane, device, note):
                self.fault_reports.append({"lane": lane, "device": device, "collector": self.on_duty.operator})

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
        self.lost_cards += len(operator.lost_cards_charged)
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
        self.special = plate_pool("T", scenario.special)
        # The scenario's own pass holders (not the demo's eight) carry an access card that also identifies the pass.
        self.cards = {plate: str(70_000_000 + n) for n, plate in enumerate(self.passes[len(PASS_PLATES) :], start=1)}
        # Readers at the entries and at the unattended exit, where pass holders leave.
        self.card_reader_lanes = (*LANES.entries, *LANES.unattended_exits) if scenario.card_rate else ()
        self.report_json: dict[str, Any] | None = None
        self.visits: list[Visit] = []
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
            body = {"holder_id": holder["id"], "plan_id": plan, "plates": [plate], "card_number": self.cards[plate]}
            sale = await client.post("/api/v1/passes", json=body)
            if sale.status_code != 201:
                raise CentralSetupError(f"the pass of {plate}: {sale.status_code} {sale.text[:200]}")
        for plate in self.blacklist:
            entry = {"list_kind": "blacklist", "plate": plate, "category": "unpaid", "reason": "scenario: unpaid fees",
                     "car_parks": [CAR_PARK]}  # fmt: skip
            added = await client.post("/api/v1/vehicles", json=entry)
            if added.status_code != 201:
                raise CentralSetupError(f"blacklisting {plate}: {added.status_code} {added.text[:200]}")
        for number, plate in enumerate(self.special):
            category = SPECIAL_CATEGORIES[number % len(SPECIAL_CATEGORIES)]
            entry = {"list_kind": "special", "plate": plate, "category": category, "reason": f"scenario: {category}",
                     "car_parks": [CAR_PARK]}  # fmt: skip
            added = await client.post("/api/v1/vehicles", json=entry)
            if added.status_code != 201:
                raise CentralSetupError(f"the special vehicle {plate}: {added.status_code} {added.text[:200]}")

    async def add_collector(self, operator: str, name: str, pin: str) -> None:
        """The scenario's collectors instead of the demo's."""
        for shift in self.scenario.shifts:
            if shift.collector not in {s.collector for s in self.scenario.shifts[: self.scenario.shifts.index(shift)]}:
                await super().add_collector(shift.collector, shift.name, shift.pin)

    async def open_booth(self) -> None:
        """The scenario's first shift opens when its traffic starts."""

    async def traffic(self) -> None:
        free = tuple(p for p, _ in FREE_VEHICLES)
        visits = self.visits = plan_day(self.scenario, LANES, self.passes, free, self.blacklist, self.special,
                                        self.cards)  # fmt: skip
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
        handovers = asyncio.gather(
            self._handovers(), self._cash_drops(), *(self._fault(f) for f in self.scenario.faults)
        )
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

    async def _cash_drops(self) -> None:
        """Every ``cash_drop_hours`` the collector on duty seals the drawer's takings into a numbered bag (投包)."""
        every = self.scenario.cash_drop_hours
        if not every:
            return
        at, number = self.scenario.start + timedelta(hours=every), 0
        while at < self.scenario.end:
            await asyncio.sleep(_real_until(self.clock, at))
            number += 1
            bag = f"{CAR_PARK}-{at:%Y%m%d}-{number:02d}"
            try:
                amount = await self.booth.drop_cash(bag)
            except (BoothError, httpx.HTTPError, KeyError) as err:
                say(f"  booth      the cash drop into {bag} failed: {err}")
            else:
                if amount:
                    say(f"  booth      {at:%H:%M} cash drop: {format_amount(amount, 'CNY')} sealed into bag {bag}")
            at += timedelta(hours=every)

    async def _fault(self, fault: Fault) -> None:
        await asyncio.sleep(_real_until(self.clock, fault.starts))
        where = f" at {fault.lane}" + (f" ({fault.loop} loop)" if fault.loop else "") if fault.lane else ""
        say(f"  fault      {fault.starts:%H:%M}-{fault.ends:%H:%M} {fault.kind}{where}")
        span = {"from": fault.starts.isoformat(), "to": fault.ends.isoformat()}
        logged = {"kind": fault.kind, "lane": fault.lane, **span}
        self.fault_log.append(logged | ({"loop": fault.loop} if fault.loop else {}))
        self._set_fault(fault, on=True)
        if fault.kind == "central_offline":
            assert self.central is not None
            await self.central.stop(within=20)
        else:  # the collector sees it (a jammed lane, no reads) and reports it at the console
            device = f"{fault.lane}-cam" if fault.kind == "camera_offline" else f"{fault.lane}-io"
            with contextlib.suppress(httpx.HTTPError):
                await self.booth.report_fault(fault.lane, device, f"scenario: {fault.kind}{where}")
        await asyncio.sleep(_real_until(self.clock, fault.ends))
        if fault.kind == "central_offline":
            await self._restart_central()
        self._set_fault(fault, on=False)
        say(f"  fault      {fault.ends:%H:%M} {fault.kind}{where} over")

    def _set_fault(self, fault: Fault, *, on: bool) -> None:
        """Put the simulated device of a lane fault into (or out of) its fault."""
        if fault.kind == "barrier_fault":
            barrier = self.sims.modules[fault.lane].lane.barrier
            if on:
                barrier.inject_fault(time.monotonic(), "scenario: barrier fault")
            else:
                barrier.clear_fault(time.monotonic())
        elif fault.kind == "loop_stuck":
            model = self.sims.modules[fault.lane].lane
            model.advance(time.monotonic())  # the physics up to now, before the detector's output changes
            (model.arming if fault.loop == "arming" else model.safety).stuck = on
        elif fault.kind == "camera_offline" and self.runner is not None:
            self.runner.lanes[fault.lane].camera_offline = on

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
        edge = edge_figures(self.workdir / "edge" / "journal.sqlite3")
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
        named = named_collectors(recon, central["reconciliation"]["collectors"])
        if dishonest - named:
            problems.append(
                f"reconciliation does not name the dishonest collector(s) {', '.join(sorted(dishonest - named))}"
            )
        honest = {s.collector for s in self.scenario.shifts} - dishonest
        problems += booth_problems(self.booth.drops, edge, central["reconciliation"]["collectors"], honest)
        if edge_status != 0:
            problems.append(f"the edge exited with status {edge_status}")
        return {
            "scenario": self.scenario.name, "start": self.scenario.start.isoformat(), "hours": self.scenario.hours,
            "speed": self.speed, "vehicles": edge["vehicles"],
            "traffic": {"entered": stats.entered if stats else 0, "left": stats.left if stats else 0,
                        "did_not_get_through": stats.stuck if stats else 0,
                        "rerouted_to_another_entry": stats.rerouted if stats else 0,
                        "unread_camera_offline": stats.unread if stats else 0,
                        "faults": dict(stats.faults) if stats else {},
                        "special": sum(1 for v in self.visits if v.kind is VehicleKind.SPECIAL),
                        "card_reads": stats.card_reads if stats else 0, "entries_by_card": edge["entries_by_card"],
                        "lost_cards": {"planned": sum(1 for v in self.visits if v.lost_card),
                                       "charged_by_collectors": self.booth.lost_cards,
                                       "lost_card_actions": edge["lost_card_actions"]}},
            "cash_drops": {"bags": self.booth.drops, "count": len(self.booth.drops),
                           "amount": sum(int(d["amount"]) for d in self.booth.drops),
                           "in_shift_reports": [{"bag": b, "amount": a} for b, a in edge["cash_drops"]]},
            "fault_reports": {"by_collectors": self.booth.fault_reports, "journaled": edge["fault_reports"]},
            "manual_actions": edge["manual_actions"],
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
