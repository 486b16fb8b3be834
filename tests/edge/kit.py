"""Building blocks for the lane tests: a car park's lists, a simple real tariff, a clock, action inspection."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from edge.lanes.actions import Commit, Draft, LaneAction, OpenBarrier
from edge.lanes.directory import Directory
from edge.lanes.entry import EntryLane
from edge.lanes.events import BarrierPosition, BarrierReport, LaneEvent, Loop, LoopChanged, PlateSeen
from edge.lanes.exit import ExitLane
from edge.lanes.fees import FeeQuote
from edge.lanes.lane import DirectoryHolder, Lane, LaneContext, LaneSettings
from edge.lanes.park import ParkState
from parking.tariff import Coupon
from parking.wire import CardRecord, CardStatus, PassRecord, RecordKind, VehicleEntry, VehicleList

T0 = datetime(2026, 11, 27, 1, 0, tzinfo=UTC)
CAR_PARK = "lakeview"


@dataclass
class HourlyTariff:
    """A small but real fee rule for lane tests: 30 free minutes, then 5.00 CNY per started hour, 30.00 per day
    at most per 24 h; lost card 100.00 CNY; a session may last 7 days."""

    free_minutes: int = 30
    hourly: int = 500
    lost_card_fee: int = 10000

    def quote(
        self, tariff: str, entry: datetime | None, exit: datetime, vehicle_class: str, *, lost_card: bool = False,
        paid: int = 0, paid_at: datetime | None = None, coupons: Sequence[Coupon] = (),
    ) -> FeeQuote:  # fmt: skip
        exit -= timedelta(minutes=sum(c.minutes for c in coupons))  # free time: as if it left that much earlier
        off = sum(c.amount for c in coupons)
        if paid_at is not None and exit - paid_at <= timedelta(minutes=15):
            return FeeQuote(
                0, "CNY", tariff, "h" * 64, [{"label": "paid, within grace", "amount": 0}], ("within_grace",)
            )
        if lost_card or entry is None:
            return FeeQuote(self.lost_card_fee, "CNY", tariff, "h" * 64, [{"label": "lost card", "amount": 10000}])
        minutes = (exit - entry).total_seconds() / 60
        if minutes <= self.free_minutes:
            return FeeQuote(0, "CNY", tariff, "h" * 64, [{"label": "free period", "amount": 0}], ("grace",))
        hours = int(-(-minutes // 60))
        total = max(0, min(hours * self.hourly, 3000 * (1 + hours // 24)) - paid - off)
        return FeeQuote(total, "CNY", tariff, "h" * 64, [{"label": f"{hours} h", "amount": total}],
                        coupons=tuple(coupons))  # fmt: skip

    def max_stay(self, tariff: str) -> timedelta | None:
        return timedelta(days=7)


def a_pass(plate: str = "粤B3R7K2", *, days_left: int = 20, card: str | None = None, **kw: Any) -> PassRecord:
    return PassRecord(
        id=kw.pop("id", f"pass-{plate}"), holder="王先生", plates=[plate], card=card,
        valid_from=T0 - timedelta(days=30), valid_to=T0 + timedelta(days=days_left, hours=12), **kw,
    )  # fmt: skip


def a_vehicle(plate: str, kind: VehicleList, category: str) -> VehicleEntry:
    return VehicleEntry(
        id=f"{kind.value}-{plate}", list_kind=kind, plate=plate, category=category, valid_from=T0 - timedelta(days=1)
    )


def a_card(number: str, status: CardStatus = CardStatus.ACTIVE, **kw: Any) -> CardRecord:
    return CardRecord(id=kw.pop("id", f"card-{number}"), number=number, holder="李女士", unit="3-1201",
                      valid_from=T0 - timedelta(days=30), status=status, **kw)  # fmt: skip


def context(
    passes: Iterable[PassRecord] = (),
    vehicles: Iterable[VehicleEntry] = (),
    capacity: dict[str, int] | None = None,
    cards: Iterable[CardRecord] = (),
) -> LaneContext:
    directory = Directory(CAR_PARK, passes=passes, cards=cards, vehicles=vehicles)
    return LaneContext(ParkState(capacity or {"small": 10, "large": 2}), DirectoryHolder(directory))


def entry_lane(ctx: LaneContext, **settings: Any) -> EntryLane:
    return EntryLane(LaneSettings(id="in-1", car_park=CAR_PARK, **settings), ctx)


def exit_lane(ctx: LaneContext, **settings: Any) -> ExitLane:
    settings.setdefault("tariff", "residential")
    return ExitLane(LaneSettings(id="out-1", car_park=CAR_PARK, **settings), ctx, HourlyTariff())


class Clock:
    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def advance(self, seconds: float) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now


def feed(lane: Lane, clock: Clock, *events: LaneEvent, step: float = 0.1) -> list[LaneAction]:
    out: list[LaneAction] = []
    for event in events:
        out += lane.handle(event, clock.advance(step))
    return out


def arrive(plate: str | None = None, confidence: float = 0.95) -> list[LaneEvent]:
    events: list[LaneEvent] = [LoopChanged(Loop.ARMING, True)]
    if plate is not None:
        events.append(PlateSeen(plate, confidence))
    return events


def cross() -> list[LaneEvent]:
    """The vehicle moves over the safety loop and away; the barrier reports its travel."""
    return [
        BarrierReport(BarrierPosition.OPEN),
        LoopChanged(Loop.SAFETY, True),
        LoopChanged(Loop.ARMING, False),
        LoopChanged(Loop.SAFETY, False),
        BarrierReport(BarrierPosition.CLOSED),
    ]


def drafts(actions: Iterable[LaneAction], kind: RecordKind | None = None) -> list[Draft]:
    found = [d for a in actions if isinstance(a, Commit) for d in a.drafts]
    return [d for d in found if kind is None or d.kind is kind]


def opens(actions: Iterable[LaneAction]) -> list[OpenBarrier]:
    return [a for a in actions if isinstance(a, OpenBarrier)]


def of_type(actions: Iterable[LaneAction], cls: type[Any]) -> list[Any]:
    return [a for a in actions if isinstance(a, cls)]


def assert_open_is_justified(actions: list[LaneAction]) -> None:
    """Every OpenBarrier comes after the Commit holding its barrier-command record."""
    committed: set[str] = set()
    for action in actions:
        if isinstance(action, Commit):
            committed |= {d.id for d in action.drafts}
        if isinstance(action, OpenBarrier):
            assert action.record_id in committed, "an opening without a committed record"
