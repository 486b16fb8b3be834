"""The booth desk on its own: built from its ports over real lanes and a real journal, without an edge daemon."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path

import pytest
from argon2 import PasswordHasher

from edge.booth.booth import Booth
from edge.booth.desk import BoothDesk, DeskError
from edge.booth.operators import OperatorStore, Role
from edge.lanes.actions import Commit, Draft, LaneAction, Passed, Released
from edge.lanes.events import LaneEvent
from edge.lanes.lane import Lane, LaneContext, Phase
from edge.lanes.park import ParkState
from edge.store.journal import Journal
from parking.wire import RecordKind
from tests.edge.kit import CAR_PARK, Clock, arrive, context, cross, entry_lane, exit_lane, feed, opens

FAST = PasswordHasher(time_cost=1, memory_cost=64, parallelism=1)
FLOAT = {10000: 2, 5000: 2, 2000: 5, 1000: 5}  # 500.00


class LocalLanes:
    """The desk's :class:`~edge.booth.ports.LaneControl` in one process: an event goes straight into the lane's
    state machine, its records into the journal, and every committed batch to the listeners (as the daemon's
    writer tells the desk)."""

    def __init__(self, lanes: Sequence[Lane], park: ParkState, journal: Journal, clock: Clock) -> None:
        self.lanes = {lane.id: lane for lane in lanes}
        self._park, self.journal, self.clock = park, journal, clock
        self.stopped: dict[str, str] = {}
        self.desk: BoothDesk
        self.listeners: list[Callable[[Sequence[Draft]], None]] = []

    @property
    def park(self) -> ParkState:
        return self._park

    def lane_ids(self) -> Sequence[str]:
        return list(self.lanes)

    def lane(self, lane_id: str) -> Lane | None:
        return self.lanes.get(lane_id)

    def lane_name(self, lane_id: str) -> str:
        return f"lane {lane_id}"

    def device_health(self, lane_id: str) -> list[dict[str, str]]:
        return []

    def out_of_service(self, lane_id: str) -> str | None:
        return self.stopped.get(lane_id)

    async def feed(self, lane_id: str, event: LaneEvent) -> list[LaneAction]:
        actions = self.lanes[lane_id].handle(event, self.clock.advance(0.1))
        for action in actions:
            if isinstance(action, Commit):
                await self.commit(action.drafts)
            elif isinstance(action, Released):
                self.desk.released(lane_id, action)
            elif isinstance(action, Passed):
                self.desk.passed(lane_id, action.session)
        return actions

    async def commit(self, drafts: Sequence[Draft]) -> None:
        self.journal.commit(drafts)
        for listener in self.listeners:
            listener(drafts)


class Wall:
    """The booth's clock, the lanes' clock moved on."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock

    def __call__(self) -> datetime:
        return self.clock.now


def make_desk(tmp_path: Path, ctx: LaneContext, clock: Clock) -> tuple[BoothDesk, LocalLanes]:
    journal = Journal(tmp_path / "journal.sqlite3", CAR_PARK)
    lanes = LocalLanes([exit_lane(ctx)], ctx.park, journal, clock)
    operators = OperatorStore(sqlite3.connect(":memory:"), clock=Wall(clock), hasher=FAST)
    operators.add("c01", "李收费", Role.COLLECTOR, "2468", by="admin")
    booth = Booth("B1", CAR_PARK, clock=Wall(clock))
    desk = BoothDesk(lanes, journal, booth, operators, Wall(clock), image_roots=[tmp_path / "images"])
    lanes.listeners.append(desk.committed)
    lanes.desk = desk
    return desk, lanes


async def vehicle_waiting(desk: BoothDesk, lanes: LocalLanes, ctx: LaneContext, clock: Clock, plate: str) -> None:
    assert len(opens(feed(entry_lane(ctx), clock, *arrive(plate), *cross()))) == 1
    clock.advance(2 * 3600)
    for event in arrive(plate):
        desk.lane_event("out-1", event)
        await lanes.feed("out-1", event)


def pending(desk: BoothDesk) -> str | None:
    return desk.watches["out-1"].pending_payment


@pytest.fixture
def clock() -> Clock:
    return Clock()


async def test_a_cash_payment_is_one_transaction_and_the_vehicle_leaving_ends_it(tmp_path: Path, clock: Clock) -> None:
    ctx = context()
    desk, lanes = make_desk(tmp_path, ctx, clock)
    await desk.open_shift("c01", FLOAT, 100, acknowledge_handover=False)
    await vehicle_waiting(desk, lanes, ctx, clock, "粤B12345")
    assert desk.watches["out-1"].plate == "粤B12345"

    record = await desk.take_payment("out-1", "c01", "cash", tendered=2000)

    lane = lanes.lanes["out-1"]
    assert lane.phase is Phase.PASSING
    (tx,) = [r for r in lanes.journal.records() if r.kind is RecordKind.TRANSACTION]
    assert (tx.id, tx.payload["shift"], tx.payload["amount"], tx.payload["change"]) == (
        record.id,
        record.shift,
        1500,
        500,
    )
    shift = desk.booth.current
    assert shift is not None
    assert shift.pending_exit(record.id)
    watch = desk.watches["out-1"]
    assert watch.pending_payment == record.id
    for event in cross():
        await lanes.feed("out-1", event)
    assert pending(desk) is None
    assert not shift.pending_exit(record.id)  # the vehicle passed: no reversal any more
    assert [kind for _, kind, _ in desk.watches["out-1"].history] == ["payment"]


async def test_a_lane_that_does_not_take_the_payment_leaves_the_shift_without_it(tmp_path: Path, clock: Clock) -> None:
    ctx = context()
    desk, lanes = make_desk(tmp_path, ctx, clock)
    await desk.open_shift("c01", FLOAT, 100, acknowledge_handover=False)
    await vehicle_waiting(desk, lanes, ctx, clock, "粤B12345")
    lanes.stopped["out-1"] = "journal failure"

    with pytest.raises(DeskError) as refused:
        await desk.take_payment("out-1", "c01", "cash", tendered=2000)

    assert refused.value.code == "lane.out_of_service"
    shift = desk.booth.current
    assert shift is not None
    assert not shift.tally.payments
    assert [type(r).__name__ for r in shift.records] == ["ShiftOpened"]
    assert not [r for r in lanes.journal.records() if r.kind is RecordKind.TRANSACTION]


async def test_the_desk_rebuilds_its_shift_from_the_journal(tmp_path: Path, clock: Clock) -> None:
    ctx = context()
    desk, lanes = make_desk(tmp_path, ctx, clock)
    opened = await desk.open_shift("c01", FLOAT, 100, acknowledge_handover=False)
    await vehicle_waiting(desk, lanes, ctx, clock, "粤B12345")
    paid = await desk.take_payment("out-1", "c01", "epay", reference="wx-1")

    again = BoothDesk(lanes, lanes.journal, Booth("B1", CAR_PARK, clock=Wall(clock)), desk.operators, Wall(clock))

    shift = again.booth.current
    assert shift is not None
    assert shift.id == opened.id
    assert list(shift.tally.payments) == [paid.id]


async def test_lane_actions_name_the_lane_and_what_is_wrong(tmp_path: Path, clock: Clock) -> None:
    desk, _ = make_desk(tmp_path, context(), clock)
    with pytest.raises(DeskError) as unknown:
        await desk.refuse("nowhere", "c01", "")
    assert (unknown.value.code, unknown.value.status) == ("lane.unknown", 404)
    with pytest.raises(DeskError) as no_shift:
        await desk.drop_cash("c01", "bag-1", {10000: 1}, None)
    assert no_shift.value.code == "shift.not_open"
    with pytest.raises(DeskError) as idle:
        await desk.take_payment("out-1", "c01", "cash", tendered=100)
    assert idle.value.code == "lane.no_vehicle_waiting"
