"""The edge daemon: every lane of one car park, its devices, the journal, the outbox and list sync, metrics.

Start-up order: journal (open sessions rebuild the car park's state), local lists, lanes, devices, then the
background conversations with central. Shutdown order is the reverse, after the lanes are drained: a lane that
is handling a vehicle finishes it (up to ``drain_timeout_s``); an idle lane takes no new vehicle.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from drivers.health import HealthChange
from edge.booth.alerts import alerts_path
from edge.booth.booth import Booth
from edge.booth.desk import BoothDesk, ObservedWriter, operators_path
from edge.booth.operators import OperatorStore
from edge.console.app import attach_console
from edge.console.metrics import EdgeMetrics
from edge.devices.lifecycle import DeviceFaults, every
from edge.devices.snapshots import SiteSnapshots
from edge.devices.wiring import LaneDevices, SiteDevices, lane_printers
from edge.lanes.actions import Draft, LaneAction
from edge.lanes.directory import Directory
from edge.lanes.entry import EntryLane
from edge.lanes.events import LaneEvent, Tick
from edge.lanes.exit import ExitLane
from edge.lanes.fees import FeeQuote, FeeQuoter, TariffFees
from edge.lanes.lane import DirectoryHolder, Lane, LaneContext, LaneSettings
from edge.lanes.park import ParkState
from edge.lanes.payments import PaymentRefusedError, Prepayment, prepay, quote_session
from edge.runner import LanePort, LaneRunner, utc_now
from edge.site import Central, Direction, LaneMode, SiteConfig, central_tls, lane_devices, tariff_path
from edge.store.evidence_upload import EvidenceUploader
from edge.store.journal import Journal
from edge.store.lists import ListStore, lists_path
from edge.store.retention import purge
from edge.store.sync import CentralLink, ListSync, Outbox
from edge.store.tariff_versions import tariff_version_drafts
from edge.unattended.exit_payments import ExitPayments
from edge.unattended.kiosk import PayStations
from edge.unattended.remote_vend import RemoteVends
from parking.clock import SteadyClock, configured, physical
from parking.ids import new_id
from parking.wire import RecordKind

_LOGGER = logging.getLogger(__name__)

Submit = Callable[[LaneEvent, float], None]
PortFactory = Callable[[SiteConfig, int, Submit], LanePort]


def lane_settings(site: SiteConfig, index: int) -> LaneSettings:
    lane = site.lanes[index]
    return LaneSettings(
        id=lane.id, car_park=site.car_park.id, attended=lane.mode is LaneMode.ATTENDED,
        read_window=physical(timedelta(milliseconds=lane.read_window_ms)), min_confidence=lane.plate_confidence_min,
        repeat_window=physical(timedelta(milliseconds=lane.repeat_window_ms)),
        back_out_settle=physical(timedelta(milliseconds=lane.back_out_settle_ms)),
        loop_stuck=physical(timedelta(seconds=lane.loop_stuck_s)),
        barrier_check=physical(timedelta(seconds=1)),
        free_vehicles=lane.free_vehicles, anti_passback=lane.anti_passback, ticketless=lane.ticketless,
        has_dispenser="dispenser" in lane_devices(site, index), tariff=lane.tariff,
        has_snapshot="snapshot" in lane_devices(site, index),
        currency=site.car_park.currency, timezone=site.car_park.timezone,
    )  # fmt: skip


def site_fees(site: SiteConfig, site_file: Path) -> FeeQuoter | None:
    """The tariff engine over the site's tariff files (None for a site without tariffs: entry lanes only)."""
    if not site.tariffs:
        return None
    return TariffFees({name: tariff_path(site, site_file, name) for name in site.tariffs})


def site_lanes(site: SiteConfig, context: LaneContext, fees: FeeQuoter | None) -> dict[str, Lane]:
    """The state machine of every lane of the site, by lane id, sharing the car park's state and lists."""
    lanes: dict[str, Lane] = {}
    for index, lane in enumerate(site.lanes):
        settings = lane_settings(site, index)
        if lane.direction is Direction.ENTRY:
            lanes[lane.id] = EntryLane(settings, context)
        elif fees is None:
            raise RuntimeError(f"exit lane {lane.id} needs the tariff engine (parking.tariff) to quote fees")
        else:
            lanes[lane.id] = ExitLane(settings, context, fees)
    return lanes


class DaemonLanes:
    """The daemon's lanes as the booth desk's :class:`~edge.booth.ports.LaneControl`: events go through each lane's
    runner (so they are handled one at a time with the devices' own), drafts through the journal writer."""

    def __init__(
        self, site: SiteConfig, lanes: dict[str, Lane], runners: dict[str, LaneRunner], writer: ObservedWriter,
        park: ParkState, devices: Callable[[], SiteDevices | None], booth_lanes: Sequence[str] | None = None,
    ) -> None:  # fmt: skip
        self.site, self._runners, self._writer = site, runners, writer
        self._park, self._devices = park, devices
        # one booth's lanes only: another booth's lane is no lane to this desk
        self._lanes = lanes if booth_lanes is None else {lane: lanes[lane] for lane in booth_lanes if lane in lanes}
        self.printers: dict[str, Any] = {}  # lane id -> receipt printer (the desk's), for their health

    @property
    def park(self) -> ParkState:
        return self._park

    def lane_ids(self) -> Sequence[str]:
        return list(self._lanes)

    def lane(self, lane_id: str) -> Lane | None:
        return self._lanes.get(lane_id)

    def lane_name(self, lane_id: str) -> str:
        return next((lane.name for lane in self.site.lanes if lane.id == lane_id and lane.name), lane_id)

    def device_health(self, lane_id: str) -> list[dict[str, str]]:
        index = next(i for i, lane in enumerate(self.site.lanes) if lane.id == lane_id)
        devices = self._devices()
        out: list[dict[str, str]] = []
        seen: set[str] = set()
        for slot, resolved in lane_devices(self.site, index).items():
            if resolved.id in seen:
                continue
            seen.add(resolved.id)
            tracker = devices.health_of(resolved.id) if devices else None
            printer = self.printers.get(lane_id) if slot == "printer" else None
            if tracker is None and printer is not None and printer.name == resolved.id:
                tracker = printer.health
            health, reason = (tracker.health.value, tracker.reason) if tracker is not None else ("unknown", "")
            out.append({"device": resolved.id, "slot": slot, "kind": resolved.device.kind.value, "health": health,
                        "reason": reason})  # fmt: skip
        return out

    def out_of_service(self, lane_id: str) -> str | None:
        runner = self._runners.get(lane_id)
        return runner.out_of_service if runner is not None else None

    async def feed(self, lane_id: str, event: LaneEvent) -> list[LaneAction]:
        if lane_id not in self._lanes:
            raise KeyError(f"lane {lane_id} is not this booth's")
        return await self._runners[lane_id].feed(event)

    async def commit(self, drafts: Sequence[Draft]) -> None:
        await self._writer.commit(drafts)


def booth_desk(daemon: EdgeDaemon, booth_id: str, booth_lanes: Sequence[str], operators: OperatorStore) -> BoothDesk:
    """A booth console's desk over the booth's lanes, the daemon's journal, the operators and the lanes' printers."""
    site, clock = daemon.site, daemon.clock
    zone = ZoneInfo(site.car_park.timezone)
    booth = Booth(booth_id, site.car_park.id, clock=clock, currency=site.car_park.currency, zone=zone,
                  lanes=booth_lanes)  # fmt: skip
    lanes = DaemonLanes(site, daemon.lanes, daemon.runners, daemon.writer, daemon.park, lambda: daemon.devices,
                        booth_lanes)  # fmt: skip
    lanes.printers = lane_printers(site, every(daemon.metrics.health, daemon.device_faults.observe))
    desk = BoothDesk(
        lanes, daemon.journal, booth, operators, clock, printers=lanes.printers,
        image_roots=[daemon.journal.path.parent / "images"], car_park_name=site.car_park.name,
        alerts_file=alerts_path(daemon.journal.path, booth_id),
    )  # fmt: skip
    for printer in {id(p): p for p in lanes.printers.values()}.values():
        printer.health.listeners.append(desk.device_changed)
    return desk


def _port_of(runner: web.AppRunner) -> int | None:
    for site in runner.sites:
        server = getattr(site, "_server", None)
        if server is not None and server.sockets:
            return int(server.sockets[0].getsockname()[1])
    return None


class EdgeDaemon:
    def __init__(
        self,
        site: SiteConfig,
        site_file: Path,
        *,
        port_factory: PortFactory | None = None,
        fees: FeeQuoter | None = None,
        clock: Callable[[], datetime] | None = None,
        metrics_listen: str | None = None,
        tick_s: float = 0.1,
        drain_timeout_s: float = 120.0,
        synchronous: str = "FULL",
        booth: str | None = "B1",
        inline_commits: bool | None = None,
    ) -> None:
        self.site = site
        self.site_file = site_file
        # Real time without the wall clock's jumps (parking.clock.SteadyClock); a simulated run's clock as it is.
        self.clock: Callable[[], datetime] = clock or (SteadyClock() if configured() is None else utc_now)
        clock = self.clock
        self.tick_s = tick_s
        self.drain_timeout_s = drain_timeout_s
        self.metrics_listen = metrics_listen
        self.metrics = EdgeMetrics()
        journal_path = Path(site.journal.path)
        if not journal_path.is_absolute():
            journal_path = site_file.parent / journal_path
        self.journal = Journal(
            journal_path, site.car_park.id, synchronous="NORMAL" if synchronous == "NORMAL" else "FULL",
            background_checkpoint=True,
        )  # fmt: skip
        self.lists = ListStore(lists_path(journal_path))
        self.park = ParkState(site.car_park.capacity)
        for session in self.journal.open_sessions():
            self.park.open(session)
        directory = self.lists.directory(site.car_park.id)
        self.holder = DirectoryHolder(directory)
        self.metrics.lists_version.set(directory.version)
        self.context = LaneContext(self.park, self.holder)
        self.fees = fees or site_fees(site, site_file)
        if isinstance(self.fees, TariffFees):  # the versions central published, as last synced
            self.fees.use_published(self.lists.tariffs())
        # Without an fsync per commit (NORMAL) a commit costs less than handing it to the writer thread.
        inline = synchronous == "NORMAL" if inline_commits is None else inline_commits
        self.writer = ObservedWriter(self.journal, on_commit=self.metrics.committed, inline=inline)
        self.device_faults = DeviceFaults(site, self.writer.defer, clock, self.journal.open_device_faults())
        self.lanes = site_lanes(site, self.context, self.fees)
        self._port_factory = port_factory
        self.runners: dict[str, LaneRunner] = {}
        self.devices: SiteDevices | None = None
        # Each booth's console side, by booth id (none: no console); ``desk`` is the one on the console listener.
        self.desks: dict[str, BoothDesk] = {}
        self.desk_of_lane: dict[str, BoothDesk] = {}
        self._desks_of_device: dict[str, list[BoothDesk]] = {}
        if booth is not None:
            self._booth_desks(booth)
        self.desk: BoothDesk | None = next(iter(self.desks.values()), None) if not site.booths else None
        for booth_id, config in site.booths.items():
            if config.console_listen is None and booth_id in self.desks:
                self.desk = self.desks[booth_id]
                break
        self._booth_webs: dict[str, web.AppRunner] = {}
        self.outbox: Outbox | None = None
        self._woken_at_seq = 0
        self.reserve_bytes = int(site.journal.reserve_mb * 1024 * 1024)
        self._storage_checked = 0.0
        self._central_alerted = False
        self.sync: ListSync | None = None
        self.exit_payments: ExitPayments | None = None
        self.pay_stations: PayStations | None = None  # the kiosk API, on the console's listener
        self._tasks: list[asyncio.Task[None]] = []
        self._stop = asyncio.Event()
        self._web: web.AppRunner | None = None
        _LOGGER.info("edge for %s: %d open sessions recovered, lists version %s", site.car_park.id,
                     len(self.park.sessions), directory.version)  # fmt: skip

    def _booth_desks(self, default: str) -> None:
        """A desk per booth of the site file (a site without booths: one, ``default``, over every lane)."""
        # PINs are checked in a worker thread: the connection is shared with it; one store for every booth
        operators = OperatorStore(
            sqlite3.connect(operators_path(self.journal.path), check_same_thread=False), clock=self.clock
        )
        for booth_id, lanes in self.site.booth_lanes(default).items():
            desk = self.desks[booth_id] = booth_desk(self, booth_id, lanes, operators)
            self.writer.listeners.append(desk.committed)
            self.desk_of_lane |= dict.fromkeys(lanes, desk)
        for index, lane in enumerate(self.site.lanes):
            if (staffing := self.desk_of_lane.get(lane.id)) is not None:
                for device in lane_devices(self.site, index).values():
                    users = self._desks_of_device.setdefault(device.id, [])
                    if staffing not in users:
                        users.append(staffing)

    def _device_changed(self, change: HealthChange) -> None:
        """A device's health change, for the booths whose lanes use it (a device of no lane: the console's booth)."""
        for desk in self._desks_of_device.get(change.device) or ([self.desk] if self.desk is not None else []):
            desk.device_changed(change)

    # ------------------------------------------------------------------------------------------- life cycle

    async def start(self) -> None:
        self._send_tariff_texts()
        site_devices = None
        if self._port_factory is None:
            site_devices = SiteDevices(on_health=[self.metrics.health, self.device_faults.observe,
                                                  self._device_changed])  # fmt: skip
            site_devices.cameras.timezone = self.site.car_park.timezone
            site_devices.cameras.image_dir = self.journal.path.parent / "images"  # where the console looks
            site_devices.cameras.clock = self.clock
            site_devices.cameras.base_dir = self.site_file.parent  # TLS files are relative to the site file
            self.devices = site_devices
        snapshots = SiteSnapshots(
            self.journal.path.parent / "images", [self.metrics.health, self.device_faults.observe]
        )
        for index, lane in enumerate(self.site.lanes):
            holder: dict[str, LaneRunner] = {}

            def submit(
                event: LaneEvent, received: float, _holder: dict[str, LaneRunner] = holder, _lane: str = lane.id
            ) -> None:
                if (desk := self.desk_of_lane.get(_lane)) is not None:
                    desk.lane_event(_lane, event)
                _holder["runner"].submit(event, received)

            port: LanePort
            if self._port_factory is not None:
                port = self._port_factory(self.site, index, submit)
            else:
                assert site_devices is not None
                port = LaneDevices.for_lane(self.site, index, site_devices, submit)
            owner = self.desk_of_lane.get(lane.id)
            listeners = [owner] if owner is not None else []
            runner = LaneRunner(self.lanes[lane.id], self.writer, port, self.metrics, clock=self.clock,
                                listeners=listeners, snapshots=snapshots.for_lane(self.site, index))  # fmt: skip
            holder["runner"] = runner
            self.runners[lane.id] = runner
            self._tasks.append(asyncio.create_task(runner.serve(), name=f"lane-{lane.id}"))
        if site_devices is not None:
            await site_devices.start()
        self._tasks.append(asyncio.create_task(self._ticker(), name="ticker"))
        self._tasks.append(asyncio.create_task(self._checkpoints(), name="journal-checkpoints"))
        if self.site.retention.enabled:
            self._tasks.append(asyncio.create_task(self._retention(), name="retention-purge"))
        if self.site.central is not None:
            self._talk_to_central(self.site.central)
            if any(lane.direction is not Direction.ENTRY and lane.mode is not LaneMode.ATTENDED
                   for lane in self.site.lanes):  # fmt: skip
                assert self._client is not None
                vends = RemoteVends(self._client, self.journal, self.runners, self.clock)
                self.exit_payments = ExitPayments(self._client, self.journal, self.runners, prepay=self.prepay,
                                                  commit=self.writer.commit, clock=self.clock, vends=vends)  # fmt: skip
                self._tasks.append(asyncio.create_task(self.exit_payments.run(self._stop), name="exit-payments"))
        if self.metrics_listen:
            await self._serve_metrics(self.metrics_listen)
        await self._serve_booth_consoles()
        self.metrics.park(self.park)

    def _talk_to_central(self, central: Central) -> None:
        """The outbox and the list sync, each in its own task over one client."""
        link = CentralLink(central.url, central.edge_id, central.resolve_token(),
                           tls=central_tls(central, self.site_file.parent))  # fmt: skip
        client = self._client = link.client()
        images = EvidenceUploader(self.journal, client, self.journal.path.parent / "images")
        self.outbox = Outbox(self.journal, client, link.edge_id, on_backlog=self.metrics.outbox_backlog.set,
                             images=images)  # fmt: skip
        self.sync = ListSync(self.lists, client, self.site.car_park.id, self._lists_updated)
        self._tasks.append(asyncio.create_task(self.outbox.run(self._stop), name="outbox"))
        self._tasks.append(asyncio.create_task(self.sync.run(self._stop), name="list-sync"))

    def _send_tariff_texts(self) -> None:
        """Central re-checks fees with the exact text: journal each version (site file or published) once, before
        a lane quotes with it."""
        if not isinstance(self.fees, TariffFees):
            return
        ids = {tariff.content_hash: tariff.id for tariff in self.fees.tariffs.values()}
        ids |= {p.tariff.content_hash: p.tariff.id for versions in self.fees.published.values() for p in versions}
        if versions := tariff_version_drafts(self.journal, self.fees.texts, ids, self.clock()):
            self.journal.commit(versions)

    def _lists_updated(self, directory: Directory) -> None:
        if isinstance(self.fees, TariffFees):
            self.fees.use_published(self.lists.tariffs())
            self._send_tariff_texts()
        self.holder.directory = directory
        self.metrics.lists_version.set(directory.version)

    async def _ticker(self) -> None:
        while True:
            await asyncio.sleep(self.tick_s)
            for runner in self.runners.values():
                if runner.lane.deadline is not None:  # only a lane waiting out its read window needs the time
                    runner.submit(Tick(), 0.0)
            self._watch_storage()
            self._watch_clock()
            self.metrics.park(self.park)
            self.metrics.lanes_out_of_service.set(sum(r.out_of_service is not None for r in self.runners.values()))
            if self.outbox is not None and self.journal.last_seq != self._woken_at_seq:
                self._woken_at_seq = self.journal.last_seq  # only new records wake the outbox
                self.outbox.wake()
            self._watch_central()

    def _watch_storage(self, every_s: float = 0.5) -> None:
        """Refuse temporary vehicles while the journal's disk has less than the reserve free; take them again once
        space returns. The change is logged both ways (the lanes alert the booth at each vehicle they refuse)."""
        if time.monotonic() - self._storage_checked < every_s:
            return
        self._storage_checked = time.monotonic()
        try:
            free = self.journal.free_bytes()
        except OSError as err:
            low: str | None = f"cannot read the free space: {err}"
        else:
            mb = 1024 * 1024
            low = None
            if free < self.reserve_bytes:
                low = f"{free / mb:.1f} MB free for the journal, reserve {self.reserve_bytes / mb:.1f} MB"
        if (low is None) != (self.context.storage_low is None):
            if low is not None:
                _LOGGER.error("journal storage low (%s): temporary vehicles are refused", low)
            else:
                _LOGGER.warning("journal storage back above the reserve: temporary vehicles are taken again")
        self.context.storage_low = low

    def _watch_clock(self) -> None:
        """A step of the wall clock (the steady clock does not follow it): logged, journaled, told to the booth."""
        if not isinstance(self.clock, SteadyClock):
            return
        self.clock()  # the steady clock notices a step when it is read
        for step in self.clock.take_steps():
            _LOGGER.error("the wall clock stepped %+.0f s (it reads %s); the edge keeps its own time, durations stay "
                          "real; a restart adopts the new time", step.offset_s, step.wall.isoformat())  # fmt: skip
            payload = {"event": "clock_step", "offset_s": round(step.offset_s, 3), "wall": step.wall.isoformat(),
                       "edge_time": step.at.isoformat(), "evidence": None}  # fmt: skip
            draft = Draft(new_id(int(step.at.timestamp() * 1000)), RecordKind.ABNORMAL_EVENT, None, step.at, payload)
            self.writer.defer([draft])
            for desk in self.desks.values():
                desk.clock_stepped(step.offset_s, step.wall)

    def _watch_central(self) -> None:
        """Alert the booth once an outage of central lasts the site's ``unreachable_alert_minutes``."""
        outbox, central = self.outbox, self.site.central
        if not self.desks or outbox is None or central is None:
            return
        if outbox.failing_since is None:
            self._central_alerted = False
            return
        minutes = (time.monotonic() - outbox.failing_since) / 60
        if minutes >= central.unreachable_alert_minutes and not self._central_alerted:
            self._central_alerted = True
            for desk in self.desks.values():
                desk.central_unreachable(minutes, outbox.last_error)

    async def _checkpoints(self, every_s: float = 2.0) -> None:
        while True:
            await asyncio.sleep(every_s)
            try:
                await asyncio.to_thread(self.journal.checkpoint)
            except Exception:
                _LOGGER.warning("journal checkpoint failed", exc_info=True)

    async def _retention(self, first_after_s: float = 60.0) -> None:
        """The retention purge: a minute after start (not in the rush of a restart), then every ``every_hours``."""
        config = self.site.retention
        await asyncio.sleep(first_after_s)
        while True:
            try:
                await asyncio.to_thread(
                    purge, self.journal, config.rule(), by="edge daemon (retention)", now=self.clock(),
                    require_sent=self.site.central is not None, image_dir=self.journal.path.parent / "images",
                    zone=ZoneInfo(self.site.car_park.timezone),
                )  # fmt: skip
            except Exception:
                _LOGGER.warning("retention purge failed; retried in %s hours", config.every_hours, exc_info=True)
            await asyncio.sleep(config.every_hours * 3600)

    async def _serve_metrics(self, listen: str) -> None:
        host, _, port = listen.rpartition(":")

        async def metrics(request: web.Request) -> web.Response:
            return web.Response(body=self.metrics.exposition(), content_type="text/plain", charset="utf-8")

        async def health(request: web.Request) -> web.Response:
            out = {lane: r.out_of_service for lane, r in self.runners.items() if r.out_of_service}
            failing = {lane: r.journal_failing for lane, r in self.runners.items() if r.journal_failing}
            bad = bool(out or failing)
            return web.json_response({"ok": not bad, "lanes_out_of_service": out, "journal_failing": failing,
                                      "storage_low": self.context.storage_low}, status=503 if bad else 200)  # fmt: skip

        app = web.Application()
        app.router.add_get("/metrics", metrics)
        app.router.add_get("/healthz", health)
        if self.desk is not None:
            attach_console(app, self.desk)
        if self.site.pay_stations:
            self.pay_stations = PayStations(
                {station: config.resolve_token() for station, config in self.site.pay_stations.items()}, self.park,
                self.runners, self.journal, quote=self.quote, prepay=self.prepay, clock=self.clock,
                car_park=self.site.car_park.id,
            )  # fmt: skip
            self.pay_stations.attach(app)
        self._web = web.AppRunner(app, shutdown_timeout=3.0)  # a stuck client must not hold up the shutdown
        await self._web.setup()
        try:
            await web.TCPSite(self._web, host, int(port)).start()
        except OSError as err:
            raise OSError(err.errno, f"cannot listen on {listen} for the console and metrics: {err.strerror}") from err

    async def _serve_booth_consoles(self) -> None:
        """Each booth with its own ``console_listen``: its console alone on that address (its sessions reach only
        its lanes)."""
        for booth_id, config in self.site.booths.items():
            desk = self.desks.get(booth_id)
            if config.console_listen is None or desk is None:
                continue
            app = web.Application()
            attach_console(app, desk)
            runner = self._booth_webs[booth_id] = web.AppRunner(app, shutdown_timeout=3.0)
            await runner.setup()
            host, _, port = config.console_listen.rpartition(":")
            try:
                await web.TCPSite(runner, host, int(port)).start()
            except OSError as err:
                raise OSError(err.errno, f"cannot listen on {config.console_listen} for booth {booth_id}'s console: "
                              f"{err.strerror}") from err  # fmt: skip

    def console_port(self, booth: str) -> int | None:
        """The port booth ``booth``'s console listens on (the console listener's for the booth served there)."""
        if booth not in self._booth_webs:
            return self.metrics_port if self.desk is not None and self.desk.booth_id == booth else None
        return _port_of(self._booth_webs[booth])

    @property
    def metrics_port(self) -> int | None:
        return _port_of(self._web) if self._web is not None else None

    def _tariff(self, tariff: str | None) -> tuple[FeeQuoter, str]:
        if self.fees is None:
            raise PaymentRefusedError("this edge has no tariff")
        name = tariff or next((lane.tariff for lane in self.site.lanes if lane.tariff), None)
        if name is None:
            raise PaymentRefusedError("no lane of this edge names a tariff")
        return self.fees, name

    def quote(self, session_id: str, at: datetime | None = None) -> FeeQuote:
        """What the open session owes now (a pay station's screen); raises PaymentRefusedError."""
        fees, name = self._tariff(None)
        return quote_session(self.park, fees, name, session_id, at or self.clock())

    async def prepay(
        self, session_id: str, amount: int, *, method: str, station: str, operator: str | None = None,
        tariff: str | None = None, extra: Mapping[str, Any] | None = None, at: datetime | None = None,
    ) -> Prepayment:  # fmt: skip
        """Take a payment ahead of the exit (pay station, QR) and commit it; raises PaymentRefusedError."""
        fees, name = self._tariff(tariff)
        session = self.park.sessions.get(session_id)
        before = (session.paid, session.paid_at) if session else (0, None)
        # ``at``: an e-payment is judged at the time of the quote the driver paid, not when it reached the edge
        payment = prepay(self.park, fees, name, session_id, amount, at or self.clock(), method=method,
                         station=station, operator=operator, extra=extra)  # fmt: skip
        try:
            await self.writer.commit(payment.drafts)
        except Exception:
            if session is not None:  # not on disk: not paid
                session.paid, session.paid_at = before
            raise
        return payment

    async def drain(self) -> None:
        """Finish the vehicles in the lanes; idle lanes stop taking new ones."""
        for runner in self.runners.values():
            runner.draining = True
        deadline = asyncio.get_running_loop().time() + self.drain_timeout_s
        abandoned: set[str] = set()
        while busy := [r for r in self.runners.values() if r.lane.busy]:
            # A lane whose devices are gone (or whose safety loop is faulted, or that is out of service) cannot
            # see its vehicle finish: waiting for it would only hold the shutdown for the whole drain timeout.
            for runner in busy:
                if runner.lane.id not in abandoned and (runner.lane.safety_faulted or runner.out_of_service):
                    abandoned.add(runner.lane.id)
                    _LOGGER.warning("shutdown: lane %s cannot finish its vehicle (devices unreachable or faulted); "
                                    "not waiting for it", runner.lane.id)  # fmt: skip
            if all(r.lane.id in abandoned for r in busy):
                break
            if asyncio.get_running_loop().time() > deadline:
                names = [r.lane.id for r in busy]
                _LOGGER.warning("shutdown: lanes %s still busy after %.0f s", names, self.drain_timeout_s)
                break
            await asyncio.sleep(0.05)

    STOP_STEP_S = 10.0  # each step of the shutdown after the drain (tasks cancelled, drivers stopped) waits this long

    async def stop(self) -> None:
        await self.drain()
        self._stop.set()
        await asyncio.gather(*(runner.drain() for runner in self.runners.values()))
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            ended, stuck = await asyncio.wait(self._tasks, timeout=self.STOP_STEP_S)
            for task in ended:
                if not task.cancelled() and (err := task.exception()) is not None:
                    _LOGGER.error("shutdown: %s had failed: %r", task.get_name(), err)
            if stuck:  # a task that swallows its cancellation: named, and left behind rather than awaited for ever
                _LOGGER.error("shutdown: %s did not stop within %.0f s of being cancelled",
                              sorted(t.get_name() for t in stuck), self.STOP_STEP_S)  # fmt: skip
        self.device_faults.close()  # a driver being stopped is not a device fault
        if self.devices is not None:
            try:
                async with asyncio.timeout(self.STOP_STEP_S):
                    await self.devices.stop()
            except TimeoutError:
                _LOGGER.error("shutdown: the device drivers did not stop within %.0f s; going on", self.STOP_STEP_S)
        if self._web is not None:
            await self._web.cleanup()
        for console in self._booth_webs.values():
            await console.cleanup()
        # The writer's stop commits the deferred records (the last close commands): flush it before the final send
        # so they reach central now rather than at the next start.
        await asyncio.to_thread(self.writer.stop)
        if self.outbox is not None:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(2):
                    await self.outbox.send_once()
            await self.outbox.client.aclose()
        backlog = self.journal.backlog()
        self.journal.close()
        self.lists.close()
        _LOGGER.info("edge stopped; %d records await central", backlog)

    async def run_until(self, stop: asyncio.Event) -> None:
        await self.start()
        await stop.wait()
        await self.stop()
