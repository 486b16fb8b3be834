"""A day at a car park driven through the real lanes (:mod:`edge.entry`, :mod:`edge.exit`) into a real journal,
with the totals a report of it must show: the journal the report tests send to central."""

from __future__ import annotations

import functools
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from drivers.health import Health, HealthChange
from edge.devices.lifecycle import DeviceFaults
from edge.lanes.actions import Commit, LaneAction
from edge.lanes.events import BarrierPosition, BarrierReport, ManualOpen, TakePayment, WaiveFee
from edge.lanes.lane import Lane
from edge.site import load_site
from edge.store.journal import Journal
from parking.wire import JournalRecord, VehicleList
from tests.edge.kit import CAR_PARK, Clock, a_pass, a_vehicle, arrive, context, cross, entry_lane, exit_lane, feed

# 09:00 in Shanghai on 27 November 2026 (01:00 UTC): the day's first vehicle.
MORNING = datetime(2026, 11, 27, 1, 0, tzinfo=UTC)
PASS_PLATE, POLICE_PLATE, BLACKLISTED = "粤B3R7K2", "粤A00110", "粤A66666"
# The day's figures by local hour: vehicles in and out, and the money taken.
ENTRIES_BY_HOUR = {9: 3, 10: 2}
EXITS_BY_HOUR = {10: 1, 11: 1, 12: 2, 14: 1}
TAKEN_BY_HOUR = {10: 500, 11: 1500}
# The devices' health as their drivers report it (hours after 09:00): the exit camera silent 15:00-15:45, the entry
# I/O module unreachable from 17:00 to the end of the day (ongoing).
SITE = Path(__file__).resolve().parents[2] / "config" / "small.toml"
DEVICE_HEALTH = [
    (5.5, "out-cam", Health.ONLINE, "pushing events"),
    (6.0, "out-cam", Health.OFFLINE, "no event or heartbeat for 60 s"),
    (6.75, "out-cam", Health.ONLINE, "pushing events"),
    (8.0, "in-io", Health.OFFLINE, "connection refused"),
]  # fmt: skip


@dataclass
class Day:
    """What happened, as the report must count it (money in minor units, CNY; hours local)."""

    journal: Journal
    takings: dict[str, int] = field(default_factory=dict)  # by method
    by_collector: dict[str, int] = field(default_factory=dict)


def _commit(journal: Journal, actions: list[LaneAction]) -> None:
    for action in actions:
        if isinstance(action, Commit):
            journal.commit(action.drafts)


def drive_day(directory: Path) -> Day:
    """Nine vehicles, two payments in cash and one by e-payment, a pass, a police car waived at the exit, a manual
    open, a blacklisted car denied entry, a barrier fault and two device faults (one cleared, one ongoing); every
    record through the lanes' and the device faults' own code."""
    ctx = context(passes=[a_pass(PASS_PLATE)],
                  vehicles=[a_vehicle(POLICE_PLATE, VehicleList.SPECIAL, "police"),
                            a_vehicle(BLACKLISTED, VehicleList.BLACKLIST, "other")])  # fmt: skip
    journal = Journal(directory / "journal.sqlite3", CAR_PARK)
    day = Day(journal)
    entry, exit_ = entry_lane(ctx), exit_lane(ctx, free_vehicles="operator")
    clock = Clock(MORNING)

    def run(hours: float, lane: Lane, *events: object) -> None:
        clock.now = MORNING + timedelta(hours=hours)
        _commit(journal, feed(lane, clock, *events))  # type: ignore[arg-type]

    run(0.0, entry, *arrive("粤A11111"), *cross())  # 09:00
    run(0.1, entry, *arrive("粤A22222"), *cross())  # 09:06
    run(0.2, entry, *arrive(PASS_PLATE), *cross())  # 09:12
    run(1.0, entry, *arrive(POLICE_PLATE), *cross())  # 10:00
    run(1.05, exit_, *arrive("粤A22222"), TakePayment("c02", "paid", amount=500, method="epay"), *cross())  # 1 h
    run(1.5, entry, *arrive("粤A33333"), *cross())  # 10:30
    run(1.6, entry, *arrive(BLACKLISTED))  # 10:36, denied
    run(2.2, exit_, *arrive("粤A11111"), TakePayment("c01", "paid", amount=1500, method="cash"), *cross())  # 3 h
    run(3.0, exit_, *arrive(PASS_PLATE), *cross())  # 12:00
    run(3.5, exit_, *arrive(POLICE_PLATE), WaiveFee("c01", "police on duty", category="police"), *cross())
    run(4.0, exit_, BarrierReport(BarrierPosition.FAULT, "motor overload"))  # 13:00
    run(4.25, exit_, BarrierReport(BarrierPosition.CLOSED))
    run(
        5.0,
        exit_,
        *arrive("粤A33333"),
        ManualOpen("c02", "payment terminal down", evidence="img/manual-1.jpg"),
        *cross(),
    )  # 14:00, 3.5 h: 20.00 due, not charged
    faults = DeviceFaults(load_site(SITE), journal.commit, lambda: clock.now)
    for hours, device, health, reason in DEVICE_HEALTH:
        clock.now = MORNING + timedelta(hours=hours)
        faults.observe(HealthChange(device, health, reason, clock.now.timestamp()))
    day.takings = {"cash": 1500, "epay": 500}
    day.by_collector = {"c01": 1500, "c02": 500}
    return day


@functools.cache
def day_records() -> tuple[JournalRecord, ...]:
    """The records of :func:`drive_day`, driven once per test process (the tests empty central between them)."""
    with tempfile.TemporaryDirectory() as folder:
        day = drive_day(Path(folder))
        records = tuple(day.journal.records())
        day.journal.close()
    return records
