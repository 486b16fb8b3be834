"""A traffic generator for simulated lanes: vehicles arrive at an entry lane, the lane's camera pushes their plate as
they reach the arming loop, they cross when the barrier opens, stay a while, and leave by an exit lane.

The day's plan (:func:`plan_traffic`) is a pure function of a seed: who comes (monthly pass holders, free vehicles
on duty, temporary visitors), by which lanes, when, for how long, and which reads go wrong (a look-alike misread at
the entry, no read at all at the exit). :class:`TrafficRunner` plays a plan on real lanes: the loops and barriers
are :class:`~simulators.barrier.LaneModel` physics behind Modbus I/O module simulators, polled by the edge in real
time, so only the gaps and stays are compressed, never the barrier's travel.

What the edge decided comes back through a :class:`DecisionFeed` (the demo fills it from the edge's log); when a
lane waits for the booth, an :class:`Operator` (the demo's collector, through the console's API) acts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol

import httpx

from simulators.barrier import SAFETY_LOOP, LaneModel
from simulators.camera import CameraSim

if TYPE_CHECKING:  # the reader's module loads libosdp: only a run with card readers needs it
    from simulators.card_reader import WiegandConverterSim

_LOGGER = logging.getLogger(__name__)

SERIAL_CHARS = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"  # GA 36: no I or O in the serial
DIGITS = "0123456789"


class VehicleKind(StrEnum):
    PASS = "pass"  # 月租车
    FREE = "free"  # 免费车辆 (police, ambulance)
    SPECIAL = "special"  # 特殊车辆 (a hearse, a VIP, a contractor): let through by rule, logged
    VISITOR = "visitor"  # 临时车


class ReadFault(StrEnum):
    NONE = ""
    MISREAD = "misread"  # one look-alike character swapped (8/B, 0/D, 2/Z ...)
    NO_READ = "no_read"  # the camera reports "unknown"


@dataclass(frozen=True, slots=True)
class Visit:
    """One vehicle's visit: ``arrive_s`` after the start, ``stay_s`` inside."""

    number: int
    plate: str
    kind: VehicleKind
    entry_lane: str
    exit_lane: str
    arrive_s: float
    stay_s: float
    entry_fault: ReadFault = ReadFault.NONE
    exit_fault: ReadFault = ReadFault.NONE
    colour: str = "blue"
    card: str = ""  # the access card the driver (a pass holder) presents at the lanes' readers, if any
    lost_card: bool = False  # a visitor who lost the temporary card: the collector charges the lost-card fee


@dataclass(frozen=True, slots=True)
class TrafficMix:
    """Who comes, and how often reads go wrong. Shares are of all vehicles; the rest are visitors."""

    pass_plates: tuple[str, ...]
    free_plates: tuple[str, ...]
    entry_lanes: tuple[str, ...]
    attended_exits: tuple[str, ...]
    unattended_exits: tuple[str, ...]
    pass_share: float = 0.4
    free_share: float = 0.1
    unattended_share: float = 0.8  # of passes and free vehicles, who leave by an unattended exit when there is one
    misread_share: float = 0.12
    no_read_share: float = 0.1
    mean_gap_s: float = 2.5
    stay_s: tuple[float, float] = (3.0, 9.0)
    # The first visits show every case once, in this order, before the mix takes over: who, entry read, exit read.
    opening: tuple[tuple[VehicleKind, ReadFault, ReadFault], ...] = ()
    scan_to_pay: frozenset[int] = frozenset()  # visitors (by visit number) who leave unattended and pay by phone


SHOWCASE = (
    (VehicleKind.PASS, ReadFault.NONE, ReadFault.NONE),
    (VehicleKind.VISITOR, ReadFault.NONE, ReadFault.NONE),
    (VehicleKind.FREE, ReadFault.NONE, ReadFault.NONE),
    (VehicleKind.PASS, ReadFault.MISREAD, ReadFault.NONE),
    (VehicleKind.VISITOR, ReadFault.NONE, ReadFault.NO_READ),
    (VehicleKind.FREE, ReadFault.NONE, ReadFault.NONE),
)


def visitor_plate(rng: random.Random) -> str:
    """A Guangdong small-vehicle plate (粤 + issuing letter + 5), or now and then an 8-character new-energy one."""
    letter = rng.choice("ABCEFS")
    if rng.random() < 0.15:
        return f"粤{letter}D" + "".join(rng.choice(DIGITS) for _ in range(5))
    return f"粤{letter}" + "".join(rng.choice(SERIAL_CHARS) for _ in range(5))


def plan_traffic(seed: int, count: int, mix: TrafficMix) -> list[Visit]:
    """The same seed gives the same day. Passes and free vehicles leave by any exit (they open by themselves);
    visitors leave by an attended exit, where the collector takes the fee (those in ``scan_to_pay`` by an
    unattended one, paying by phone). A pass or free vehicle comes back only
    after its planned exit (with a margin: lanes queue in real time)."""
    rng = random.Random(seed)
    visits: list[Visit] = []
    at = 0.0
    back_at: dict[str, float] = {}  # plate -> when it is planned out again
    for number in range(1, count + 1):
        at += rng.expovariate(1.0 / mix.mean_gap_s) if number > 1 else 0.5
        roll, fault_roll = rng.random(), rng.random()
        kind = VehicleKind.VISITOR
        if roll < mix.pass_share:
            kind = VehicleKind.PASS
        elif roll < mix.pass_share + mix.free_share:
            kind = VehicleKind.FREE
        entry_fault = ReadFault.MISREAD if fault_roll < mix.misread_share else ReadFault.NONE
        no_read = mix.misread_share <= fault_roll < mix.misread_share + mix.no_read_share
        exit_fault = ReadFault.NO_READ if no_read else ReadFault.NONE
        if number <= len(mix.opening):
            kind, entry_fault, exit_fault = mix.opening[number - 1]
        pool = {VehicleKind.PASS: mix.pass_plates, VehicleKind.FREE: mix.free_plates}.get(kind, ())
        candidates = [p for p in pool if back_at.get(p, -1.0) < at]
        if candidates:
            plate = rng.choice(candidates)
        else:
            kind, plate = VehicleKind.VISITOR, visitor_plate(rng)
            while plate in back_at:
                plate = visitor_plate(rng)
        if kind is not VehicleKind.VISITOR:
            exit_fault = ReadFault.NONE  # the collector searches visitors' plates; passes are found by plate
        stay = round(rng.uniform(*mix.stay_s), 2)
        back_at[plate] = at + stay + 30.0
        exits = mix.attended_exits
        scans = kind is VehicleKind.VISITOR and number in mix.scan_to_pay  # pays by phone, needs no collector
        if mix.unattended_exits and (
            scans or (kind is not VehicleKind.VISITOR and rng.random() < mix.unattended_share)
        ):
            exits = mix.unattended_exits
        colour = "white" if plate.endswith("警") else ("green" if len(plate) == 8 else "blue")
        visits.append(Visit(
            number=number, plate=plate, kind=kind, entry_lane=rng.choice(mix.entry_lanes), exit_lane=rng.choice(exits),
            arrive_s=round(at, 2), stay_s=stay, entry_fault=entry_fault, exit_fault=exit_fault, colour=colour,
        ))  # fmt: skip
    return visits


# ------------------------------------------------------------------------------------------- what the edge did


@dataclass(frozen=True, slots=True)
class Decision:
    """One decision of a lane, as the edge logged it: ``outcome`` open/wait/deny/dispense."""

    lane: str
    outcome: str
    identity: str
    reason: str


class DecisionFeed:
    """The edge's decisions per lane, in order, for the vehicle that is in the lane."""

    def __init__(self) -> None:
        self._queues: dict[str, asyncio.Queue[Decision]] = {}

    def _queue(self, lane: str) -> asyncio.Queue[Decision]:
        return self._queues.setdefault(lane, asyncio.Queue())

    def put(self, decision: Decision) -> None:
        self._queue(decision.lane).put_nowait(decision)

    def clear(self, lane: str) -> None:
        queue = self._queue(lane)
        while not queue.empty():
            queue.get_nowait()

    async def next(self, lane: str, within: float) -> Decision | None:
        try:
            async with asyncio.timeout(within):
                return await self._queue(lane).get()
        except TimeoutError:
            return None


@dataclass(frozen=True, slots=True)
class Attended:
    """What the collector (or, ``by`` "phone", the driver paying by scan-to-pay) did about a waiting lane."""

    note: str
    paid_minor: int = 0  # cash taken at the booth
    by: str = "booth"


class Operator(Protocol):
    async def attend(self, visit: Visit, decision: Decision) -> Attended | None:
        """Act on a lane that waits for the booth; None if nothing could be done."""
        ...


# ------------------------------------------------------------------------------------------- the lanes


@dataclass
class SimulatedLane:
    """A lane's devices as the traffic sees them: the physics and the camera pushing to the edge."""

    id: str
    direction: str  # entry / exit
    model: LaneModel
    camera: CameraSim
    url: str  # where the camera pushes
    protocol: str  # isapi / json
    images: bool = True
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    reader: WiegandConverterSim | None = None  # the lane's card reader (a Wiegand converter on a serial line)
    camera_offline: bool = False  # the camera pushes nothing (a fault on the scenario's timetable)

    async def present_card(self, card: str) -> bool:
        """The driver holds the access card to the reader; False when the lane has none."""
        if self.reader is None:
            return False
        await asyncio.to_thread(self.reader.send, int(card))
        return True

    async def push(self, plate: str, colour: str, fault: ReadFault) -> str:
        """The camera reads the vehicle and pushes the read; returns what it read."""
        read = self.camera.read(plate, colour=colour, misread=fault is ReadFault.MISREAD,
                                unknown=fault is ReadFault.NO_READ)  # fmt: skip
        # The JPEGs are drawn off the event loop: the Modbus simulators in it must answer within the poll timeout.
        if self.protocol == "isapi":
            body, content_type = await asyncio.to_thread(self.camera.isapi_body, read, images=self.images)
        else:
            body, content_type = (
                await asyncio.to_thread(self.camera.json_body, read, images=self.images),
                "application/json",
            )
        try:
            async with httpx.AsyncClient(timeout=5) as client:
                status = (await client.post(self.url, content=body, headers={"Content-Type": content_type})).status_code
        except httpx.HTTPError as err:  # the edge is down (restarting): the read is lost, the vehicle gets no decision
            _LOGGER.warning("camera of %s: the edge did not take the read: %s", self.id, err)
            return read.plate
        self.camera.sent += 1
        if status != 200:
            _LOGGER.warning("camera of %s: the edge answered %s", self.id, status)
        return read.plate


@dataclass
class TrafficStats:
    entered: int = 0
    left: int = 0
    stuck: int = 0
    takings_minor: int = 0
    decisions: Counter[str] = field(default_factory=Counter)
    faults: Counter[str] = field(default_factory=Counter)
    card_reads: int = 0  # access cards presented at a reader
    unread: int = 0  # vehicles in a lane whose camera was offline
    rerouted: int = 0  # vehicles that got no decision at one entry and drove to another


Log = Callable[[str], None]


class TrafficRunner:
    """Plays visits on the lanes: one vehicle at a time per lane, as many lanes at once as the plan has."""

    def __init__(
        self, lanes: dict[str, SimulatedLane], feed: DecisionFeed, operator: Operator, log: Log, *,
        speed_mps: float = 8.0, decision_timeout_s: float = 8.0, pass_timeout_s: float = 15.0,
        finish_timeout_s: float = 15.0, card_lead_s: float = 0.3,
    ) -> None:  # fmt: skip
        self.card_lead_s = card_lead_s  # the card is at the reader this long before the camera's read
        self.finish_timeout_s = finish_timeout_s
        self.lanes = lanes
        self.feed = feed
        self.operator = operator
        self.log = log
        self.speed_mps = speed_mps
        self.decision_timeout_s = decision_timeout_s
        self.pass_timeout_s = pass_timeout_s
        self.stats = TrafficStats()
        self.inside: set[str] = set()
        self.stopping = asyncio.Event()

    async def run(self, visits: list[Visit], stop: asyncio.Event) -> None:
        """Start each visit at its time until ``stop`` is set; vehicles already driving finish their passage."""
        self.stopping = stop
        start = time.monotonic()
        tasks: set[asyncio.Task[None]] = set()
        try:
            for visit in visits:
                delay = start + visit.arrive_s - time.monotonic()
                if delay > 0:
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(delay):
                            await stop.wait()
                if stop.is_set():
                    break
                task = asyncio.create_task(self.play(visit, stop), name=f"visit-{visit.number}")
                tasks.add(task)
                task.add_done_callback(tasks.discard)
            else:
                await stop.wait()
        finally:
            stop.set()
            if tasks:  # vehicles under way finish their passage (staying ones return at once)
                await asyncio.wait(list(tasks), timeout=self.finish_timeout_s)
            for task in list(tasks):
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def play(self, visit: Visit, stop: asyncio.Event) -> None:
        if visit.plate in self.inside and not await self._until(lambda: visit.plate not in self.inside, 60.0):
            return  # still inside from an earlier visit (the exit queued longer than planned): it does not come
        if not await self.enter(visit):
            return
        self.stats.entered += 1
        self.inside.add(visit.plate)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(visit.stay_s):
                await stop.wait()
        if stop.is_set():
            return  # stays inside: the car park is not empty at closing time
        if await self.cross(visit, self.lanes[visit.exit_lane], visit.exit_fault):
            self.stats.left += 1
            self.inside.discard(visit.plate)

    async def enter(self, visit: Visit) -> bool:
        """Cross the visit's entry lane; a driver who gets no decision there at all (the lane is jammed: a loop stuck
        on presence) backs away and tries each other entry once, as drivers go round to the other gate."""
        others = [lane for lane in self.lanes.values() if lane.direction == "entry" and lane.id != visit.entry_lane]
        for number, lane in enumerate([self.lanes[visit.entry_lane], *others]):
            if number:
                self.stats.rerouted += 1
            undecided: list[bool] = []
            if await self.cross(visit, lane, visit.entry_fault, undecided):
                return True
            if not undecided or self.stopping.is_set():
                return False
        return False

    async def cross(self, visit: Visit, lane: SimulatedLane, fault: ReadFault, undecided: list[bool] | None = None
                    ) -> bool:  # fmt: skip
        """Drive up, get read, wait for the decision (and the collector), cross. False if the vehicle got stuck
        (``undecided`` gets True when the lane decided nothing at all)."""
        async with lane.lock:
            if self.stopping.is_set() and lane.direction == "entry":
                return False  # closing time: no new vehicle comes in
            self.feed.clear(lane.id)
            vehicle = lane.model.add_vehicle(time.monotonic(), speed=self.speed_mps)
            await self._until(lambda: lane.model.arming.occupied, 5.0)
            if visit.card and await lane.present_card(visit.card):
                self.stats.card_reads += 1
                await asyncio.sleep(self.card_lead_s)
            if lane.camera_offline:
                seen, self.stats.unread = "(camera offline)", self.stats.unread + 1
            else:
                seen = await lane.push(visit.plate, visit.colour, fault)
                if fault is not ReadFault.NONE:
                    self.stats.faults[fault.value] += 1
            decision = await self.feed.next(lane.id, self.decision_timeout_s)
            if decision is None and undecided is not None:
                undecided.append(True)
            notes: list[str] = []
            while decision is not None and decision.outcome != "open":
                self.stats.decisions[f"{lane.direction} {decision.outcome} {decision.identity}"] += 1
                if decision.outcome == "deny":
                    break
                attended = await self.operator.attend(visit, decision)
                if attended is None:
                    break
                notes.append(f"{attended.by}: {attended.note}")
                # Counted as the cash changes hands: a run stopped while this vehicle waits for its opening (or
                # is still crossing) must not lose a payment the journal holds.
                self.stats.takings_minor += attended.paid_minor
                decision = await self.feed.next(lane.id, self.decision_timeout_s)
            crossed = False
            if decision is not None and decision.outcome == "open":
                self.stats.decisions[f"{lane.direction} {decision.outcome} {decision.identity}"] += 1
                # Past the safety loop the barrier closes behind it and the next vehicle may drive up.
                crossed = await self._until(
                    lambda: vehicle.rear > SAFETY_LOOP[1] or vehicle not in lane.model.vehicles, self.pass_timeout_s
                )
            self.log(self._line(visit, lane, seen, decision, notes, crossed))
            if not crossed:
                model = lane.model
                _LOGGER.warning(
                    "%s stuck in %s: vehicles at %s m, barrier at %.2f (%s, fault %s), loops arming %s safety %s",
                    visit.plate, lane.id, [round(v.front, 1) for v in model.vehicles], model.barrier.position,
                    model.barrier.motion.value, model.barrier.fault, model.arming.occupied, model.safety.occupied,
                )  # fmt: skip
                self.stats.stuck += 1
                if vehicle in lane.model.vehicles:  # it backs away, so the lane serves the next one
                    lane.model.vehicles.remove(vehicle)
                await asyncio.sleep(0.5)
            return crossed

    @staticmethod
    def _line(
        visit: Visit, lane: SimulatedLane, seen: str, decision: Decision | None, notes: list[str], crossed: bool
    ) -> str:
        arrow = "IN " if lane.direction == "entry" else "OUT"
        read = "" if seen == visit.plate else f" (camera read {seen!r})"
        what = f"{decision.outcome} ({decision.identity}): {decision.reason}" if decision else "no decision"
        booth = "".join(f"\n{'':<24}{note}" for note in notes)
        end = "" if crossed else "  -- vehicle did not get through"
        who = f"#{visit.number:<3} {arrow} {lane.id:<6} {visit.plate:<9} {visit.kind.value:<8}"
        return f"{who}{read} -> {what}{end}{booth}"

    @staticmethod
    async def _until(check: Callable[[], bool], within: float) -> bool:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if check():
                return True
            await asyncio.sleep(0.05)
        return check()
