"""Random event sequences through an entry and an exit lane sharing one car park, into a real journal.

Invariants, checked after every step: no close command while the safety loop is occupied or faulted; every
opening follows the commit of its barrier-command record, which names a record already committed; occupancy is
never negative and always equals the open sessions. The soak version runs 100,000+ steps (``make soak``).
"""

from __future__ import annotations

import random
from datetime import timedelta
from pathlib import Path

import pytest

from edge.lanes.actions import CloseBarrier, Commit, OpenBarrier
from edge.lanes.events import (
    AttachEntry,
    BarrierPosition,
    BarrierReport,
    CardDispensed,
    CardPresented,
    ConfirmVehicle,
    DispenserFailed,
    LaneEvent,
    Loop,
    LoopChanged,
    LostCard,
    ManualOpen,
    PlateSeen,
    Refuse,
    ResetAntiPassback,
    TakePayment,
    Tick,
    WaiveFee,
)
from edge.lanes.exit import ExitLane
from edge.lanes.lane import Lane
from edge.store.journal import Journal
from parking.wire import RecordKind, VehicleList
from tests.edge.kit import Clock, a_pass, a_vehicle, context, entry_lane, exit_lane

PLATES = [f"粤B{n:05d}" for n in range(12)] + ["粤B3R7K2", "粤83R7K2", "粤B3R7K", "粤B66666", "粤B1234警", "粤BD12345"]


def random_event(rng: random.Random, lane: Lane) -> LaneEvent:
    roll = rng.random()
    if roll < 0.22:
        return LoopChanged(Loop.ARMING, rng.random() < 0.5, faulted=rng.random() < 0.02)
    if roll < 0.44:
        return LoopChanged(Loop.SAFETY, rng.random() < 0.5, faulted=rng.random() < 0.03)
    if roll < 0.60:
        return PlateSeen(rng.choice(PLATES), rng.choice([0.2, 0.75, 0.9, 0.99]), colour=rng.choice([None, "blue"]))
    if roll < 0.64:
        return CardPresented(rng.choice(["C-1", "C-2", "T-9"]))
    if roll < 0.74:
        return BarrierReport(rng.choice(list(BarrierPosition)))
    if roll < 0.80:
        return Tick()
    if roll < 0.82:
        return CardDispensed(f"T-{rng.randint(1, 99)}") if rng.random() < 0.8 else DispenserFailed("jam")
    op = {"operator": "op-1", "reason": "test"}
    sessions = list(lane.park.sessions)
    due = lane.due.quote.total if isinstance(lane, ExitLane) and lane.due is not None else rng.randint(0, 3000)
    commands: list[LaneEvent] = [
        ManualOpen(**op), ConfirmVehicle(**op), WaiveFee(**op), LostCard(**op), Refuse(**op),
        TakePayment(amount=due if rng.random() < 0.8 else max(0, due - 100), **op),
        AttachEntry(session_id=rng.choice(sessions) if sessions else "none", **op), ResetAntiPassback(**op),
    ]  # fmt: skip
    return rng.choice(commands)


def run_lanes(steps: int, seed: int, journal_path: Path) -> dict[str, int]:
    rng = random.Random(seed)
    ctx = context(
        passes=[a_pass("粤B3R7K2", card="C-1"), a_pass("粤B00001", days_left=-2)],
        vehicles=[a_vehicle("粤B66666", VehicleList.BLACKLIST, "arrears"), a_vehicle("粤B1234警", VehicleList.FREE,
                                                                                   "police")],
        capacity={"small": 6, "large": 1, "new_energy": 2},
    )  # fmt: skip
    lanes: list[Lane] = [
        entry_lane(ctx, anti_passback="hard"),
        entry_lane(ctx, has_dispenser=True, ticketless=False, free_vehicles="operator"),
        exit_lane(ctx),
        exit_lane(ctx, attended=False, free_vehicles="operator"),
    ]
    safety = {id(lane): False for lane in lanes}
    journal = Journal(journal_path, "lakeview", synchronous="NORMAL")
    committed: set[str] = set()
    clock = Clock()
    counts = {"opens": 0, "closes": 0, "records": 0}
    for step in range(steps):
        lane = rng.choice(lanes)
        event = random_event(rng, lane)
        if isinstance(event, LoopChanged) and event.loop is Loop.SAFETY:
            safety[id(lane)] = event.occupied or event.faulted
        clock.advance(rng.choice([0.05, 0.5, 2.0, 30.0, 1800.0]))
        actions = lane.handle(event, clock.now)
        where = f"seed {seed} step {step}: {event!r}"
        for action in actions:
            if isinstance(action, Commit):
                journal.commit(action.drafts)
                committed |= {d.id for d in action.drafts}
                counts["records"] += len(action.drafts)
                for draft in action.drafts:
                    if draft.kind is RecordKind.BARRIER_COMMAND and draft.payload["command"] == "open":
                        assert draft.payload["for_record"] in committed, where
            elif isinstance(action, OpenBarrier):
                assert action.record_id in committed, f"opening without a committed record at {where}"
                counts["opens"] += 1
            elif isinstance(action, CloseBarrier):
                assert not safety[id(lane)], f"close with the safety loop occupied or faulted at {where}"
                counts["closes"] += 1
        assert all(n >= 0 for n in ctx.park.occupancy.values()), where
        open_by_bucket: dict[str, int] = dict.fromkeys(ctx.park.capacity, 0)
        for session in ctx.park.sessions.values():
            open_by_bucket[ctx.park.capacity_class(session.vehicle_class)] += 1
        assert open_by_bucket == ctx.park.occupancy, where
    assert journal.verify_chain().ok
    assert journal.rows(
        "SELECT count(*) FROM barrier_commands WHERE command = 'open' AND for_record NOT IN (SELECT id FROM records)"
    ) == [(0,)]
    assert journal.count("sessions", "status = 'open'") == len(ctx.park.sessions)
    journal.close()
    return counts


@pytest.mark.parametrize("seed", [1, 2])
def test_random_traffic_keeps_the_invariants(tmp_path: Path, seed: int) -> None:
    counts = run_lanes(3_000, seed, tmp_path / "j.sqlite3")
    assert counts["opens"] > 50  # the sequences reach the interesting states
    assert counts["closes"] > 50


@pytest.mark.soak
@pytest.mark.parametrize("seed", range(10, 14))
def test_random_traffic_soak(tmp_path: Path, seed: int) -> None:
    counts = run_lanes(30_000, seed, tmp_path / "j.sqlite3")  # 4 x 30,000 = 120,000 steps
    assert counts["opens"] > 500


def test_time_only_moves_forward_in_the_harness() -> None:
    clock = Clock()
    before = clock.now
    assert clock.advance(1) - before == timedelta(seconds=1)
