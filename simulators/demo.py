"""``parkgate demo``: the whole system on embedded defaults, started by ``make demo``.

Central runs as a child process on a SQLite file in the work folder; the demo sets it up through its API (car park,
lanes, the edge's token, monthly passes, free vehicles). The four lanes' devices are simulated in this process:
Modbus I/O modules with barrier and loop physics on pseudo-terminals, plate cameras pushing ISAPI and JSON to the
edge's HTTP listener. The edge runs as a child process on a site file written into the work folder. The traffic
generator (:mod:`simulators.traffic`) drives vehicles through the lanes, and the demo plays the toll collector
through the booth console's API: it opens a shift, takes visitors' fees at the attended exit, and finds the entry
of a vehicle whose plate was not read. At the end (``--duration`` or Ctrl-C) everything stops in order and a
summary shows what the edge journalled, what reached central and whether the hash chain holds.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import re
import secrets
import shutil
import signal
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from parking.money import format_amount
from simulators.barrier import BarrierConfig, BarrierModel, LaneModel
from simulators.camera import CameraSim
from simulators.card_reader import WiegandConverterSim
from simulators.demo_booth import OPERATOR, OPERATOR_PIN, BoothError, ConsoleOperator
from simulators.demo_processes import Child, json_line, parkgate, run_once
from simulators.demo_scan import ProviderServer, ScanToPay
from simulators.demo_site import (
    CAR_PARK,
    EDGE_ID,
    FREE_VEHICLES,
    LANES,
    PASS_PLATES,
    SITE_ZONE,
    TOKEN_ENV,
    CentralSetupError,
    admin_client,
    create_office_users,
    free_port,
    set_up_central,
    write_site,
)
from simulators.io_module import IoModuleSimulator, ModbusServing
from simulators.pty import PtyLink
from simulators.traffic import (
    SHOWCASE,
    Decision,
    DecisionFeed,
    ReadFault,
    SimulatedLane,
    TrafficMix,
    TrafficRunner,
    VehicleKind,
    plan_traffic,
)

_LOGGER = logging.getLogger(__name__)


class DemoError(Exception):
    """A component did not start or the demo could not go on: the message says which and why."""


def say(text: str = "") -> None:
    print(text, flush=True)


# ------------------------------------------------------------------------------------------- the edge's log


@dataclass
class EdgeWatch:
    """What the edge's JSON log says: decisions go to the traffic, lists and problems to the user."""

    feed: DecisionFeed
    lists_ready: asyncio.Event = field(default_factory=asyncio.Event)
    problems: list[str] = field(default_factory=list)
    stopping: bool = False  # devices going offline at shutdown are expected, not news

    def line(self, text: str) -> None:
        entry = json_line(text)
        if entry is None:
            return
        message = str(entry.get("message", ""))
        if "outcome" in entry and "lane" in entry:
            reason = message.split(": ", 2)[-1] if message.count(": ") >= 2 else message
            self.feed.put(Decision(str(entry["lane"]), str(entry["outcome"]), str(entry.get("identity", "")), reason))
        elif message.startswith("lists updated"):
            self.lists_ready.set()
        elif entry.get("level") in ("WARNING", "ERROR", "CRITICAL") and not self.stopping:
            if message.startswith("alert "):  # the booth is called: the collector answers in the next lines
                say(f"     booth called: {message.split(': ', 1)[-1]}")
                return
            first = message.splitlines()[0] if message else ""
            self.problems.append(first)
            if self.problems.count(first) == 1:  # once per kind: a flaky line would drown the traffic
                say(f"     edge {str(entry.get('level')).lower()}: {first} (repeats are counted in the summary)")


# ------------------------------------------------------------------------------------------- the demo


@dataclass
class Simulated:
    links: list[PtyLink] = field(default_factory=list)
    servings: list[ModbusServing] = field(default_factory=list)
    modules: dict[str, IoModuleSimulator] = field(default_factory=dict)
    readers: dict[str, WiegandConverterSim] = field(default_factory=dict)
    reader_ports: dict[str, str] = field(default_factory=dict)  # lane -> the host side of its reader's line

    async def start(self, folder: Path, card_readers: tuple[str, ...] = ()) -> dict[str, str]:
        """The lanes' I/O modules (and the card readers of ``card_readers``) on pseudo-terminals; answers each
        lane's I/O module port."""
        for lane_id in card_readers:
            link = PtyLink(f"{lane_id}-reader", folder).open()
            self.links.append(link)
            self.readers[lane_id] = WiegandConverterSim(link.device_port)
            self.reader_ports[lane_id] = link.host_port
        ports = {}
        for lane in LANES:
            link = PtyLink(lane.id, folder).open()
            self.links.append(link)
            barrier = BarrierModel(BarrierConfig(travel_time_s=1.0), now=time.monotonic())
            module = IoModuleSimulator(LaneModel(barrier))
            serving = module.serving()
            await serving.serve_serial(link.device_port)
            self.servings.append(serving)
            self.modules[lane.id] = module
            ports[lane.id] = link.host_port
        return ports

    def online(self) -> bool:
        return all(module.reads > 0 for module in self.modules.values())

    async def stop(self) -> None:
        for reader in self.readers.values():
            reader.close()
        for serving in self.servings:
            with contextlib.suppress(Exception):
                await serving.stop()
        for link in self.links:
            link.close()


class Demo:
    def __init__(self, workdir: Path, duration: float | None, seed: int) -> None:
        self.workdir = workdir.resolve()
        self.duration = duration
        self.seed = seed
        self.stop = asyncio.Event()
        self.password = secrets.token_urlsafe(12)
        self.office_users: list[tuple[str, str, str]] = []
        self.central_port, self.console_port, self.camera_port = free_port(), free_port(), free_port()
        self.provider = ProviderServer(free_port())  # WeChat Pay and Alipay, for scan-to-pay at the unattended exit
        self.scan: ScanToPay | None = None
        self.central_url = f"http://127.0.0.1:{self.central_port}"
        self.console_url = f"http://127.0.0.1:{self.console_port}"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("PARKGATE_")}
        self.feed = DecisionFeed()
        self.watch = EdgeWatch(self.feed)
        self.sims = Simulated()
        self.central: Child | None = None
        self.edge: Child | None = None
        self.operator: ConsoleOperator | None = None
        self.runner: TrafficRunner | None = None
        self.site_file = self.workdir / "site.toml"
        self.central_database_url = f"sqlite:///{self.workdir / 'central.sqlite3'}"  # fault tests: PostgreSQL
        self.journal_records: int | None = None
        self.closed_shift: str | None = None
        self.card_reader_lanes: tuple[str, ...] = ()  # lanes with a card reader (Wiegand converter); the demo: none

    # ---------------------------------------------------------------------------------------- start-up

    def _fresh_workdir(self) -> None:
        try:
            self._clear_workdir()
        except OSError as err:
            raise DemoError(f"cannot use {self.workdir} as the work folder: {err}") from err

    def _clear_workdir(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        for name in ("central.sqlite3", "central.sqlite3-wal", "central.sqlite3-shm", "central.log", "edge.log",
                     "site.toml"):  # fmt: skip
            (self.workdir / name).unlink(missing_ok=True)
        for folder in ("edge", "pty", "tariffs"):
            shutil.rmtree(self.workdir / folder, ignore_errors=True)
        (self.workdir / "pty").mkdir()

    async def _wait(self, what: str, check: Callable[[], Any], child: Child | None, within: float) -> None:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if self.stop.is_set():
                raise DemoError(f"interrupted while waiting for {what}")
            if child is not None and child.exited is not None:
                raise DemoError(f"{child.name} exited with status {child.exited} while starting "
                                f"(its log: {child.log_path}):\n{child.tail()}")  # fmt: skip
            result = check()
            if asyncio.iscoroutine(result):
                result = await result
            if result:
                return
            await asyncio.sleep(0.2)
        tail = f" (its log: {child.log_path}):\n{child.tail()}" if child is not None else ""
        raise DemoError(f"{what}: not ready after {within:.0f} s{tail}")

    async def _http_ok(self, url: str) -> bool:
        try:
            async with httpx.AsyncClient(timeout=2) as client:
                return (await client.get(url)).status_code == 200
        except httpx.HTTPError:
            return False

    async def start_central(self) -> None:
        env = self.env | {
            "PARKGATE_DATABASE_URL": self.central_database_url,
            "PARKGATE_BOOTSTRAP_ADMIN_PASSWORD": self.password, "PARKGATE_ENVIRONMENT": "development",
            **self.provider.central_env(self.workdir / "pay-keys", self.central_url),
        }  # fmt: skip
        try:
            await self.provider.start()
        except RuntimeError as err:
            raise DemoError(str(err)) from err
        argv = parkgate("central", "run", "--host", "127.0.0.1", "--port", str(self.central_port))
        self.central = Child("central", argv, self.workdir / "central.log", env)
        await self.central.start()
        await self._wait("central", lambda: self._http_ok(f"{self.central_url}/healthz"), self.central, 90)
        sqlite = self.central_database_url.startswith("sqlite")
        database = f"SQLite {self.workdir / 'central.sqlite3'}" if sqlite else "PostgreSQL"
        say(f"  central    pid {self.central.pid:<7} {self.central_url}  ({database})")
        say(f"             office login: admin / {self.password}")
        say(f"  provider   WeChat Pay and Alipay simulator {self.provider.url} (central holds its merchant keys)")

    async def set_up_central(self) -> str:
        try:
            client = await admin_client(self.central_url, self.password)
            try:
                token = await set_up_central(client)
                self.office_users = await create_office_users(client)
            finally:
                await client.aclose()
        except (CentralSetupError, httpx.HTTPError) as err:
            raise DemoError(f"setting up central failed: {err}") from err
        say(f"  central    car park {CAR_PARK!r}, 4 lanes, edge {EDGE_ID!r} with its token, "
            f"{len(PASS_PLATES)} monthly passes ({', '.join(PASS_PLATES)}),")  # fmt: skip
        say(f"             free vehicles {', '.join(f'{p} ({c})' for p, c in FREE_VEHICLES)}")
        self._say_office()
        return token

    def _say_office(self) -> None:
        say(f"  office     {self.central_url}/office/  (zh-CN; English by the link at the top)")
        say(f"             {'admin':<11} admin / {self.password}")
        for role, username, password in self.office_users:
            say(f"             {role:<11} {username} / {password}")

    async def start_edge(self, token: str) -> None:
        ports = await self.sims.start(self.workdir / "pty", self.card_reader_lanes)
        say(f"  devices    4 Modbus I/O modules (barrier 1 s travel, arming and safety loops) on pseudo-terminals "
            f"in {self.workdir / 'pty'}; 4 plate cameras (ISAPI and JSON over HTTP)")  # fmt: skip
        write_site(self.workdir, ports=ports, camera_port=self.camera_port, console_port=self.console_port,
                   central_url=self.central_url, card_readers=self.sims.reader_ports)  # fmt: skip
        code, out = await run_once(parkgate("config", "check", str(self.site_file)), self.env)
        if code != 0:
            raise DemoError(f"the demo's site file does not validate:\n{out}")
        await self.add_collector(OPERATOR, "演示收费员", OPERATOR_PIN)
        argv = parkgate("--log-json", "edge", "run", "--config", str(self.site_file), "--metrics-listen",
                        f"127.0.0.1:{self.console_port}", "--synchronous", "NORMAL",
                        "--drain-timeout", "10")  # fmt: skip
        self.edge = Child("edge", argv, self.workdir / "edge.log", self.env | {TOKEN_ENV: token}, self.watch.line)
        await self.edge.start()
        await self._wait("the edge's console", lambda: self._http_ok(f"{self.console_url}/healthz"), self.edge, 60)
        await self._wait("the edge polling the I/O modules", self.sims.online, self.edge, 30)
        await self._wait("the edge's lists from central", self.watch.lists_ready.is_set, self.edge, 45)
        say(f"  edge       pid {self.edge.pid:<7} site {self.site_file}, lists synced from central")
        await self.open_booth()

    async def open_booth(self) -> None:
        """The demo's collector signs in at the console and opens a shift."""
        self.operator = ConsoleOperator(self.console_url)
        try:
            await self.operator.sign_in_and_open_shift()
        except (BoothError, httpx.HTTPError) as err:
            raise DemoError(str(err)) from err
        say(f"  booth      collector {OPERATOR} signed in at the console, shift opened with a 500.00 float")

    async def add_collector(self, operator: str, name: str, pin: str) -> None:
        """A collector who may sign in at the booth (before the edge starts: the operators sit beside its journal)."""
        code, out = await run_once(
            parkgate("edge", "operator", "add", "--config", str(self.site_file), "--id", operator, "--name", name,
                     "--by", "parkgate-demo"), self.env, stdin=pin + "\n",
        )  # fmt: skip
        if code != 0:
            raise DemoError(f"could not add the booth's collector {operator}:\n{out}")

    def lanes(self) -> dict[str, SimulatedLane]:
        lanes: dict[str, SimulatedLane] = {}
        for lane in LANES:
            protocol = "isapi" if lane.camera == "hikvision_isapi" else "json"
            url = f"http://127.0.0.1:{self.camera_port}{lane.camera_path}"
            camera = CameraSim(f"{lane.id}-cam", seed=self.seed + len(lanes), timezone=SITE_ZONE)
            lanes[lane.id] = SimulatedLane(lane.id, lane.direction, self.sims.modules[lane.id].lane, camera, url,
                                           protocol, reader=self.sims.readers.get(lane.id))  # fmt: skip
        return lanes

    # ---------------------------------------------------------------------------------------- the run

    async def traffic(self) -> None:
        assert self.operator is not None
        scanner = 3  # early in the showcase, a visitor pays by scan-to-pay at the unattended exit
        scans = (VehicleKind.VISITOR, ReadFault.NONE, ReadFault.NONE)
        mix = TrafficMix(
            pass_plates=PASS_PLATES, free_plates=tuple(p for p, _ in FREE_VEHICLES), entry_lanes=("in-1", "in-2"),
            attended_exits=("out-1",), unattended_exits=("out-2",),
            opening=(*SHOWCASE[: scanner - 1], scans, *SHOWCASE[scanner - 1 :]),
            scan_to_pay=frozenset({scanner}),
        )  # fmt: skip
        visits = await asyncio.to_thread(plan_traffic, self.seed, 20_000, mix)  # some 14 hours, off the loop
        self.scan = ScanToPay(self.operator, self.central_url, self.provider, CAR_PARK, mix.scan_to_pay)
        self.runner = TrafficRunner(self.lanes(), self.feed, self.scan, say)
        say()
        say(f"Scan-to-pay: visitor #{scanner} leaves by out-2 (unattended) and pays by phone. To pay as a driver, open")
        say(f"  {self.pay_page_url('out-2')}  (the lane's QR code; a phone-sized window),")
        say("  pick WeChat Pay or Alipay, then 确认支付 on the provider simulator's checkout: the barrier opens")
        say("  once the edge has the payment in its journal.")
        say()
        say(f"Traffic (seed {self.seed}): IN/OUT, lane, plate, who, what the camera did -> the edge's decision; booth")
        say("-" * 110)
        if self.duration is not None:
            asyncio.get_running_loop().call_later(self.duration, self.stop.set)
        await self.runner.run(visits, self.stop)

    def pay_page_url(self, lane: str) -> str:
        """The driver's pay page of ``lane``: what its static QR code holds."""
        return f"{self.central_url}/pay/lane/{CAR_PARK}/{lane}"

    async def shut_down(self) -> int:
        """Stop in order: the edge (lanes drain, the outbox flushes), the devices, central. Returns the edge's
        exit status (None counts as a failure)."""
        edge_status: int | None = 0
        self.watch.stopping = True
        if self.operator is not None:
            await self._close_shift(self.operator)
            await self.operator.close()
        if self.edge is not None:
            await self._settle()
            edge_status = await self.edge.stop(within=30)
        await self.sims.stop()
        await self.provider.stop()
        return -1 if edge_status is None else edge_status

    async def _close_shift(self, operator: ConsoleOperator) -> None:
        """The collector closes the shift; its report reaches central with the journal (``_settle`` waits for it)."""
        try:
            shift, counted = await operator.close_shift()
        except (BoothError, httpx.HTTPError, KeyError, TypeError, ValueError) as err:
            say(f"  booth      the shift could not be closed: {err}")
            return
        self.closed_shift = shift
        say(f"  booth      collector {OPERATOR} closed shift {shift}, cash counted {format_amount(counted, 'CNY')} CNY;"
            f" it waits in the supervisor's queue: {self.central_url}/office/reconciliation")  # fmt: skip

    async def _settle(self, within: float = 10.0) -> None:
        """Before the edge stops: wait until central has acknowledged the journal (the edge's outbox backlog, from its
        metrics, stays at 0), so the records of the last vehicles are not left for the edge's next start."""
        deadline, quiet = time.monotonic() + within, 0
        while time.monotonic() < deadline and quiet < 3:
            try:
                async with httpx.AsyncClient(timeout=2) as client:
                    text = (await client.get(f"{self.console_url}/metrics")).text
            except httpx.HTTPError:
                return
            found = re.search(r"^parkgate_edge_outbox_backlog ([0-9.e+]+)$", text, re.MULTILINE)
            quiet = quiet + 1 if found and float(found.group(1)) == 0 else 0
            await asyncio.sleep(0.5)

    async def summary(self, edge_status: int) -> bool:
        ok = edge_status == 0
        say()
        say("Summary")
        say("-" * 110)
        stats = self.runner.stats if self.runner else None
        if stats is not None:
            takings = format_amount(stats.takings_minor, "CNY")
            say(f"  vehicles   {stats.entered} in, {stats.left} out, {stats.entered - stats.left} still inside"
                + (f", {stats.stuck} did not get through" if stats.stuck else ""))  # fmt: skip
            say(f"  faults     {stats.faults.get('misread', 0)} misreads, {stats.faults.get('no_read', 0)} no-reads "
                "played by the cameras")  # fmt: skip
            for key, number in sorted(stats.decisions.items()):
                say(f"  decisions  {key}: {number}")
            say(f"  takings    {takings} CNY in cash at the booth ({self.operator.payments if self.operator else 0} "
                "payments)")  # fmt: skip
            if self.scan is not None:
                say(f"  scan-to-pay {format_amount(self.scan.paid_minor, 'CNY')} CNY by phone at the unattended exit "
                    f"({self.scan.paid} payments, provider simulator)")  # fmt: skip
        say(f"  edge       exit status {edge_status}" + ("" if edge_status == 0 else "  <-- FAILED"))
        if self.watch.problems:
            say(f"             {len(self.watch.problems)} warnings/errors logged ({self.workdir / 'edge.log'}):")
            for message, number in Counter(self.watch.problems).most_common(5):
                say(f"             {number:>5} x {message[:140]}")
        code, out = await run_once(parkgate("edge", "status", "--config", str(self.site_file)), self.env)
        for line in out.strip().splitlines():
            say(f"             {line}")
        found = re.search(r": (\d+) records, (\d+) not yet acknowledged", out)
        self.journal_records = int(found.group(1)) if found else None
        code, out = await run_once(parkgate("edge", "verify", "--config", str(self.site_file)), self.env)
        say(f"  chain      {out.strip()}")
        ok = ok and code == 0
        ok = await self._central_summary() and ok
        say()
        say("  While it ran:")
        say(f"    booth console  {self.console_url}/console/   (collector {OPERATOR}, PIN {OPERATOR_PIN})")
        say(f"    edge metrics   {self.console_url}/metrics")
        say(f"    central API    {self.central_url}/docs   (admin / {self.password})")
        say(f"    office console {self.central_url}/office/   (users above, one per role)")
        say(f"    central metrics {self.central_url}/metrics")
        say(f"  Files: {self.workdir} (site.toml, edge/journal.sqlite3, central.sqlite3, edge.log, central.log)")
        return ok

    async def _central_summary(self) -> bool:
        if self.central is None or self.central.exited is not None:
            say("  central    not running: nothing to check  <-- FAILED")
            return False
        try:
            client = await admin_client(self.central_url, self.password)
            try:
                edges = (await client.get("/api/v1/edges")).json()
                totals = (await client.get("/api/v1/transactions/totals", params={"car_park": CAR_PARK})).json()
                records = 0
                while True:
                    page = (await client.get("/api/v1/records", params={"edge_id": EDGE_ID, "limit": 1000,
                                                                        "offset": records})).json()  # fmt: skip
                    records += len(page)
                    if len(page) < 1000:
                        break
                breaks = (await client.get("/api/v1/chain-breaks", params={"edge_id": EDGE_ID})).json()
            finally:
                await client.aclose()
        except (httpx.HTTPError, CentralSetupError, ValueError) as err:
            say(f"  central    could not be queried: {err}  <-- FAILED")
            return False
        edge: dict[str, Any] = next((e for e in edges if e["id"] == EDGE_ID), {})
        of = f" of the journal's {self.journal_records}" if self.journal_records is not None else ""
        say(f"  central    {records}{of} records received from {EDGE_ID} (chain at seq {edge.get('chain_seq')}), "
            f"{len(breaks)} chain breaks")  # fmt: skip
        if self.journal_records is not None and records < self.journal_records:
            say(f"             the other {self.journal_records - records} wait in the edge's outbox for its next start")
        for total in totals:
            say(f"             {total['transaction_kind']}: {total['count']} transactions, "
                f"{format_amount(total['amount_minor'], total['currency'])} {total['currency']}")  # fmt: skip
        return not breaks and records > 0

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self.stop.set)
        say("ParkGate demo: central, one edge with 4 lanes, simulated devices and traffic")
        say("=" * 110)
        failed: str | None = None
        ok = False
        try:
            self._fresh_workdir()
            await self.start_central()
            token = await self.set_up_central()
            await self.start_edge(token)
            say(f"  console    {self.console_url}/console/  (collector {OPERATOR}, PIN {OPERATOR_PIN})")
            say(f"  central    {self.central_url}/docs  (admin / {self.password})")
            say("  Ctrl-C stops the demo" if self.duration is None else f"  running {self.duration:.0f} s of traffic")
            await self.traffic()
        except DemoError as err:
            failed = str(err)
        finally:
            say()
            say("Stopping: vehicles in the lanes finish, the edge sends what central has not acknowledged ...")
            edge_status = await self.shut_down()
            if failed is None:
                ok = await self.summary(edge_status)
            if self.central is not None:
                await self.central.stop(within=20)
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)
        if failed is not None:
            say(f"parkgate demo: {failed}")
            return 1
        say("demo finished: OK" if ok else "demo finished with problems (see above)")
        return 0 if ok else 1


def run_demo(args: argparse.Namespace) -> int:
    """Run central, an edge and simulated traffic until ``--duration`` passes or Ctrl-C."""
    seed = int(getattr(args, "seed", None) or 2026)
    for noisy in ("httpx", "pymodbus"):  # the demo prints what happens; their request lines would drown it
        logging.getLogger(noisy).setLevel(logging.WARNING)
    demo = Demo(Path(args.workdir), args.duration, seed)
    return asyncio.run(demo.run())
