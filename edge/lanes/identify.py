"""Who is in the lane: a plate consensus and/or a card, matched against the lists, with the reason why.

Order matters and is the operator's: a blacklisted plate is reported whatever else matches; then a card central has
stopped (lost, revoked, replaced), refused for what it is, never taken for an unknown card; then a monthly pass
(by card, then by plate); then the free and special lists; otherwise the vehicle is temporary. A plate matches an
entry when ``read confidence x similarity`` reaches the lane's threshold, so look-alike and one-character-off
reads of a known plate still match while a poor read of a stranger's plate does not.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from edge.lanes.directory import Directory, card_active, check_pass, vehicle_entry_active
from parking.plates import Consensus, vehicle_class_for
from parking.wire import CardRecord, CardStatus, PassRecord, PassStatus, VehicleEntry, VehicleList

RENEWAL_REMINDER_DAYS = 7  # a pass this close to its end is reminded to renew, at the entry and the exit


def pass_lines(plate: str, days_left: int) -> tuple[str, ...]:
    """What the lane's display shows a pass holder: the plate, the days left, and a reminder near the end."""
    lines = (plate, f"月租车 剩余{days_left}天")
    return (*lines, "请及时续租") if days_left <= RENEWAL_REMINDER_DAYS else lines


# What the lane's display says of a card central has stopped (the driver is sent to the management office).
STOPPED_CARD_TEXT = {
    CardStatus.LOST: "此卡已挂失",
    CardStatus.REVOKED: "此卡已注销",
    CardStatus.REPLACED: "此卡已换新",
}


STOPPED_PASSES = frozenset({PassStatus.SUSPENDED, PassStatus.CANCELLED})


class IdentityKind(StrEnum):
    PASS = "pass"  # noqa: S105 -- a monthly pass, not a password
    EXPIRED_PASS = "expired_pass"  # noqa: S105 -- a pass that cannot be used now: the vehicle is temporary, told why
    FREE = "free"
    SPECIAL = "special"
    BLACKLIST = "blacklist"
    STOPPED_CARD = "stopped_card"  # a card central reported lost, revoked or replaced: refused at an entry
    TEMPORARY = "temporary"
    UNKNOWN = "unknown"  # no usable read and no card


@dataclass(frozen=True, slots=True)
class Identity:
    kind: IdentityKind
    reason: str
    vehicle_class: str
    plate: str | None = None
    plate_confidence: float = 0.0
    card: str | None = None
    pass_record: PassRecord | None = None
    vehicle: VehicleEntry | None = None
    days_left: int | None = None
    match: float = 0.0  # confidence of the list match (read confidence x similarity), 1.0 for a card
    card_record: CardRecord | None = None  # the access card central listed, when the card is on its list
    notice: str = ""  # why a pass is not honoured, for the lane's display (zh-CN); ``reason`` is the record's

    @property
    def pass_notice(self) -> tuple[str, ...]:
        """The display lines that tell a pass holder why the lane charges them as a temporary vehicle."""
        if self.kind is not IdentityKind.EXPIRED_PASS:
            return ()
        return (self.notice or self.reason, "按临时车收费")

    @property
    def pass_stopped(self) -> bool:
        """A pass central suspended or cancelled (not one that merely lapsed): the booth is told, with the evidence."""
        record = self.pass_record
        return self.kind is IdentityKind.EXPIRED_PASS and record is not None and record.status in STOPPED_PASSES

    @property
    def pays(self) -> bool:
        return self.kind in (
            IdentityKind.TEMPORARY, IdentityKind.EXPIRED_PASS, IdentityKind.UNKNOWN, IdentityKind.STOPPED_CARD
        )  # fmt: skip

    def stopped_card(self) -> dict[str, object]:
        """What a refusal of a stopped card records: the card, its state and holder (for central's front desk)."""
        record = self.card_record
        assert record is not None
        return {"card": record.number, "card_id": record.id, "card_status": record.status.value,
                "holder": record.holder, "unit": record.unit}  # fmt: skip

    def evidence(self) -> dict[str, object]:
        return {
            "identity": self.kind.value,
            "reason": self.reason,
            "plate": self.plate,
            "plate_confidence": round(self.plate_confidence, 4),
            "card": self.card,
            "pass_id": self.pass_record.id if self.pass_record else None,
            "list_entry": self.vehicle.id if self.vehicle else None,
            "category": self.vehicle.category if self.vehicle else None,
            "match": round(self.match, 4),
        }


def _floor(min_confidence: float, read: Consensus) -> float:
    """The least similarity a stored plate needs for ``read.confidence x similarity`` to reach the threshold."""
    return min_confidence / read.confidence if read.confidence > 0 else 1.0


def _best_vehicle(
    directory: Directory, read: Consensus, kind: VehicleList, min_conf: float, now: datetime
) -> tuple[VehicleEntry, float] | None:
    for m in directory.vehicles.lookup(read.plate, _floor(min_conf, read)):
        score = read.confidence * m.similarity
        if score < min_conf:
            break
        if m.value.list_kind is kind and vehicle_entry_active(m.value, directory.car_park, now):
            return m.value, score
    return None


def _find_pass(
    directory: Directory, read: Consensus | None, card: str | None, min_confidence: float
) -> tuple[PassRecord, float, str | None] | None:
    """The pass of the card, else of the best plate match reaching the threshold: (pass, match, plate matched)."""
    if card is not None and card in directory.passes_by_card:
        return directory.passes_by_card[card], 1.0, None
    if read is not None:
        for m in directory.passes_by_plate.lookup(read.plate, _floor(min_confidence, read)):
            score = read.confidence * m.similarity
            return (m.value, score, m.plate) if score >= min_confidence else None
    return None


def identify(
    directory: Directory,
    read: Consensus | None,
    card: str | None,
    now: datetime,
    *,
    lane: str,
    min_confidence: float,
    colour: str | None = None,
) -> Identity:
    """Identify the vehicle in ``lane`` from a plate consensus (already above the read threshold) and a card."""
    plate = read.plate if read else None
    plate_conf = read.confidence if read else 0.0
    default_class = vehicle_class_for(plate or "", colour)

    def make(
        kind: IdentityKind, reason: str, vehicle_class: str, *, matched_plate: str | None = plate,
        pass_record: PassRecord | None = None, vehicle: VehicleEntry | None = None, days_left: int | None = None,
        match: float = 0.0, notice: str = "",
    ) -> Identity:  # fmt: skip
        return Identity(
            kind, reason, vehicle_class, plate=matched_plate, plate_confidence=plate_conf, card=card,
            pass_record=pass_record, vehicle=vehicle, days_left=days_left, match=match, notice=notice,
        )  # fmt: skip

    if read is not None:
        black = _best_vehicle(directory, read, VehicleList.BLACKLIST, min_confidence, now)
        if black is not None:
            entry, score = black
            reason = f"blacklist: {entry.category}" + (f" ({entry.reason})" if entry.reason else "")
            return make(IdentityKind.BLACKLIST, reason, default_class, vehicle=entry, match=score)
    access = directory.cards.get(card) if card is not None else None
    if access is not None and access.status is not CardStatus.ACTIVE:
        reason = f"{access.status.value} card {access.number} presented at lane {lane}"
        return replace(make(IdentityKind.STOPPED_CARD, reason, default_class, match=1.0), card_record=access)

    found_pass = _find_pass(directory, read, card, min_confidence)
    if found_pass is not None:
        pass_record, match, matched = found_pass
        plate = matched or plate
        check = check_pass(pass_record, directory.car_park, now)
        kind = IdentityKind.PASS if check.usable else IdentityKind.EXPIRED_PASS
        return make(
            kind, check.reason, pass_record.vehicle_class, matched_plate=plate, pass_record=pass_record,
            days_left=check.days_left, match=match, notice=check.notice,
        )  # fmt: skip

    if read is not None:
        for list_kind, kind in ((VehicleList.FREE, IdentityKind.FREE), (VehicleList.SPECIAL, IdentityKind.SPECIAL)):
            found = _best_vehicle(directory, read, list_kind, min_confidence, now)
            if found is not None:
                entry, score = found
                reason = f"{list_kind.value} vehicle: {entry.category}"
                return make(kind, reason, default_class, matched_plate=entry.plate, vehicle=entry, match=score)

    if card is not None:
        if access is not None and card_active(access, directory.car_park, lane, now):
            return make(IdentityKind.TEMPORARY, "access card without a pass", default_class, match=1.0)
        return make(IdentityKind.TEMPORARY, "card not on any list", default_class)
    if read is not None:
        return make(IdentityKind.TEMPORARY, "plate not on any list", default_class)
    return Identity(IdentityKind.UNKNOWN, "no plate read and no card", default_class)
