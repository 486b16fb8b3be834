"""What a booth shift puts in the journal: one pydantic model per record, JSON-ready.

Each model's ``kind`` (a class attribute) is the :class:`parking.wire.RecordKind` the journal files it under:
``SHIFT`` for the shift's own events (opened, cash drop, card issued at the booth, closing, handover, report
reopened), ``SHIFT_REPORT`` for
the closing figures, ``TRANSACTION`` for payments, waivers and reversals, ``MANUAL_ACTION`` for manual opens.
:meth:`BoothRecord.payload` is the ``payload`` of the journal record: times as ISO 8601 UTC text, money as integer
minor units beside a ``currency``. Every record names the operator who did it; ``event`` tells the models apart
when a payload is read back (:func:`parse_record`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, JsonValue, PlainSerializer, TypeAdapter

from edge.booth.cash import CashCount
from edge.booth.report import ShiftReport
from edge.lanes.actions import Draft
from parking.wire import RecordKind


def utc_text(value: datetime) -> str:
    """ISO 8601 in UTC with a ``Z``: ``2026-11-27T01:00:00Z``."""
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


UtcTime = Annotated[AwareDatetime, PlainSerializer(utc_text, return_type=str)]
Text = Annotated[str, Field(max_length=500)]


class BoothRecord(BaseModel):
    """Fields every booth record has: its id (UUIDv7, also the journal record's id), when, where and who."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: ClassVar[RecordKind]

    id: str
    at: UtcTime
    car_park: str
    booth: str
    shift: str
    operator: str = Field(min_length=1, description="who did it (for a supervisor action: the supervisor)")
    lane: str | None = None

    def payload(self) -> dict[str, JsonValue]:
        """The journal record's payload: this record as JSON-ready data."""
        data: dict[str, JsonValue] = self.model_dump(mode="json")
        return data

    def draft(self) -> Draft:
        """This record as a journal draft, ready for a lane-style ``Commit((record.draft(), ...))``."""
        return Draft(id=self.id, kind=self.kind, lane=self.lane, at=self.at, payload=self.payload())


class FeeLine(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    label: str
    amount: int


class CouponUsed(BaseModel):
    """A coupon or validation the fee was quoted with (central's re-check applies it again)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    minutes: int = Field(default=0, ge=0)
    amount: int = Field(default=0, ge=0)
    code: str = Field(default="", max_length=32)


class HandoverAcknowledgement(BaseModel):
    """The previous shift's handover note as shown to the incoming operator, and who acknowledged it when."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    previous_shift: str
    previous_operator: str
    note: Text
    acknowledged_by: str
    acknowledged_at: UtcTime


class ShiftOpened(BoothRecord):
    kind: ClassVar[RecordKind] = RecordKind.SHIFT
    event: Literal["opened"] = "opened"
    currency: str
    float_count: CashCount
    float_amount: int
    cards_stock: int = Field(ge=0, description="temporary cards counted at the booth at opening")
    handover: HandoverAcknowledgement | None = None
    # The lanes this booth staffs: central gives the shift those lanes' records only (absent in older records: every
    # lane's records in the shift's time window).
    lanes: list[Annotated[str, Field(max_length=64)]] | None = Field(default=None, max_length=200)


class CashDropped(BoothRecord):
    """Cash sealed into a numbered bag and dropped into the safe (投包)."""

    kind: ClassVar[RecordKind] = RecordKind.SHIFT
    event: Literal["cash_drop"] = "cash_drop"
    bag: str = Field(min_length=1, max_length=32)
    currency: str
    count: CashCount
    amount: int = Field(gt=0)
    witness: str | None = None


class PaymentTaken(BoothRecord):
    """A fee paid at the booth. ``amount`` is what was due and is kept; for cash ``tendered - change == amount``."""

    kind: ClassVar[RecordKind] = RecordKind.TRANSACTION
    event: Literal["payment"] = "payment"
    transaction_kind: Literal["payment"] = "payment"
    receipt_no: str
    method: Literal["cash", "epay", "bank_card"]
    currency: str
    amount: int = Field(ge=0)
    tendered: int = Field(ge=0)
    change: int = Field(ge=0)
    reference: str | None = Field(default=None, max_length=64, description="e-payment or card terminal reference")
    plate: str | None = None
    vehicle_class: str
    session: str | None = None
    lost_card: bool = False
    entry_at: UtcTime | None = None
    exit_at: UtcTime | None = None
    tariff_id: str | None = None
    lines: list[FeeLine] = Field(default_factory=list)
    tariff_hash: str | None = Field(default=None, max_length=64, description="SHA-256 of the tariff file that quoted")
    quoted_at: UtcTime | None = Field(default=None, description="the exit time the fee was quoted for")
    coupons: list[CouponUsed] = Field(default_factory=list, max_length=20, description="validations applied")


class PaymentReversed(BoothRecord):
    """A payment undone while the vehicle was still in the lane; cash (``refunded``) goes back to the driver."""

    kind: ClassVar[RecordKind] = RecordKind.TRANSACTION
    event: Literal["reversal"] = "reversal"
    transaction_kind: Literal["reversal"] = "reversal"
    reverses: str
    method: Literal["cash", "epay", "bank_card"]
    currency: str
    amount: int = Field(ge=0)
    refunded_cash: int = Field(ge=0)
    reason: Text = Field(min_length=1)


class FeeWaived(BoothRecord):
    """A free (免费车辆) or special (特殊车辆) vehicle let through without charge, by category, with a note."""

    kind: ClassVar[RecordKind] = RecordKind.TRANSACTION
    event: Literal["waiver"] = "waiver"
    transaction_kind: Literal["waiver"] = "waiver"
    list_kind: Literal["free", "special"]
    category: str = Field(min_length=1, max_length=40)
    note: Text = ""
    reason: Text = Field(min_length=1)
    currency: str
    waived: int = Field(ge=0, description="the fee that was due and not charged")
    plate: str | None = None
    vehicle_class: str
    session: str | None = None
    evidence: str | None = None


class ManualOpened(BoothRecord):
    """The barrier opened by the operator's hand, with the reason."""

    kind: ClassVar[RecordKind] = RecordKind.MANUAL_ACTION
    event: Literal["manual_open"] = "manual_open"
    action: Literal["manual_open"] = "manual_open"
    reason: Text = Field(min_length=1)
    plate: str | None = None
    vehicle_class: str
    evidence: str | None = None


class CardIssuedAtBooth(BoothRecord):
    """A temporary card handed out by the collector (the dispenser jammed or ran empty), with the reason."""

    kind: ClassVar[RecordKind] = RecordKind.SHIFT
    event: Literal["card_issued"] = "card_issued"
    card: str | None = Field(default=None, max_length=64)
    reason: Text = Field(min_length=1)


class ShiftClosing(BoothRecord):
    """The operator started closing: no more transactions on this shift."""

    kind: ClassVar[RecordKind] = RecordKind.SHIFT
    event: Literal["closing"] = "closing"


class HandoverRecorded(BoothRecord):
    """The handover record (交接班记录) the outgoing operator leaves for the next one."""

    kind: ClassVar[RecordKind] = RecordKind.SHIFT
    event: Literal["handover"] = "handover"
    note: Text
    currency: str
    float_left: int = Field(ge=0, description="cash left in the drawer for the next shift")
    cards_on_hand: int = Field(ge=0)


class ReportReopened(BoothRecord):
    """A supervisor reopened a closed shift's report for a recount; the earlier report stays in the journal."""

    kind: ClassVar[RecordKind] = RecordKind.SHIFT
    event: Literal["report_reopened"] = "report_reopened"
    requested_by: str
    reason: Text = Field(min_length=1)
    revision: int = Field(ge=1, description="the revision of the report that was reopened")


class ShiftClosed(BoothRecord):
    kind: ClassVar[RecordKind] = RecordKind.SHIFT_REPORT
    event: Literal["report"] = "report"
    revision: int = Field(ge=1)
    report: ShiftReport


AnyBoothRecord = Annotated[
    ShiftOpened | CashDropped | PaymentTaken | PaymentReversed | FeeWaived | ManualOpened | CardIssuedAtBooth
    | ShiftClosing | HandoverRecorded | ReportReopened | ShiftClosed,
    Field(discriminator="event"),
]  # fmt: skip
_READER: TypeAdapter[AnyBoothRecord] = TypeAdapter(AnyBoothRecord)


def parse_record(payload: dict[str, Any]) -> BoothRecord:
    """Read a booth record back from its journal payload (for restoring a shift after a restart)."""
    record: BoothRecord = _READER.validate_python(payload)
    return record
