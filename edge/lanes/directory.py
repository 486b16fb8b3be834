"""The lists a lane decides with, in memory: monthly passes, access cards, free/special/blacklist vehicles.

A :class:`Directory` is built from the local copy of central's lists (:mod:`edge.store.lists`) and replaced whole
after every sync, so a lane always sees one consistent version and never waits for a lookup on disk.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from parking.plates import PlateIndex
from parking.wire import CardRecord, CardStatus, PassRecord, PassStatus, VehicleEntry


@dataclass(frozen=True, slots=True)
class PassCheck:
    """Whether a pass is usable now at this car park, and if not why: ``reason`` for the record and the operator,
    ``notice`` for the lane's display (zh-CN, the display's language)."""

    usable: bool
    reason: str
    days_left: int
    notice: str = ""


# Why central holds a pass suspended (PassRecord.status_reason): the record's words and the display's.
SUSPENSION_REASONS = {"arrears": ("arrears", "欠费"), "unpaid": ("unpaid", "未缴费")}
_STATUS_NOTICES = {PassStatus.SUSPENDED: "月租卡已暂停", PassStatus.EXPIRED: "月租卡已过期",
                   PassStatus.CANCELLED: "月租卡已注销"}  # fmt: skip


def _unusable(record: PassRecord, days_left: int) -> PassCheck:
    """A pass central does not hold active: its status, with central's reason where it gives one (an older central
    gives none, an unknown one is named as sent)."""
    reason, notice = f"pass {record.status.value}", _STATUS_NOTICES[record.status]
    if record.status_reason:
        words, shown = SUSPENSION_REASONS.get(record.status_reason, (record.status_reason, record.status_reason))
        reason, notice = f"{reason}: {words}", f"{notice}：{shown}"
    return PassCheck(False, reason, days_left, notice)


def check_pass(record: PassRecord, car_park: str, now: datetime) -> PassCheck:
    """Is ``record`` valid at ``car_park`` at ``now``? Days left count whole days to ``valid_to``."""
    days_left = max(0, (record.valid_to - now).days)
    if record.status is not PassStatus.ACTIVE:
        return _unusable(record, days_left)
    if record.car_parks and car_park not in record.car_parks:
        return PassCheck(False, "pass not valid at this car park", days_left, "月租卡不适用本停车场")
    if now < record.valid_from:
        start = record.valid_from.date().isoformat()
        return PassCheck(False, f"pass starts {start}", days_left, f"月租卡{start}生效")
    if now > record.valid_to:
        end = record.valid_to.date().isoformat()
        return PassCheck(False, f"pass expired {end}", 0, f"月租卡已过期 {end}")
    return PassCheck(True, "monthly pass", days_left)


def vehicle_entry_active(entry: VehicleEntry, car_park: str, now: datetime) -> bool:
    if entry.car_parks and car_park not in entry.car_parks:
        return False
    if now < entry.valid_from:
        return False
    return entry.valid_to is None or now <= entry.valid_to


def card_active(card: CardRecord, car_park: str, lane: str, now: datetime) -> bool:
    if card.status is not CardStatus.ACTIVE:
        return False
    if card.car_parks and car_park not in card.car_parks:
        return False
    if card.lanes and lane not in card.lanes:
        return False
    if now < card.valid_from:
        return False
    return card.valid_to is None or now <= card.valid_to


class Directory:
    """Indexed lists for one car park: passes by plate (fuzzy) and card, cards by number, vehicles by plate."""

    def __init__(
        self,
        car_park: str,
        passes: Iterable[PassRecord] = (),
        cards: Iterable[CardRecord] = (),
        vehicles: Iterable[VehicleEntry] = (),
        version: int = 0,
    ) -> None:
        self.car_park = car_park
        self.version = version
        self.passes_by_plate: PlateIndex[PassRecord] = PlateIndex()
        self.passes_by_card: dict[str, PassRecord] = {}
        self.cards: dict[str, CardRecord] = {}
        self.vehicles: PlateIndex[VehicleEntry] = PlateIndex()
        for record in passes:
            for plate in record.plates:
                self.passes_by_plate.add(plate, record)
            if record.card:
                self.passes_by_card[record.card] = record
        for card in cards:
            self.cards[card.number] = card
        for entry in vehicles:
            self.vehicles.add(entry.plate, entry)

    @property
    def sizes(self) -> dict[str, int]:
        return {"passes_plates": len(self.passes_by_plate), "cards": len(self.cards), "vehicles": len(self.vehicles)}
