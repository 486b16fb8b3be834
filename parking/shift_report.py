"""The shift report: the closing figures of a booth shift, as the edge sends them in a SHIFT_REPORT record's
``report`` and central validates them.

Differences are counted minus expected: a negative cash difference is a shortage (短款), a positive one a surplus
(长款). They are part of the report and stay with it after closing; a recount needs a supervisor to reopen the
report, and the reopened report is kept beside the new revision.

Money is integer minor units beside the report's ``currency``; times are ISO 8601 UTC text. The models are pure
pydantic (no I/O), shared by the edge that builds the report and central that checks what it receives.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from parking.money import format_amount


class CountLine(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    denomination: int = Field(gt=0, description="the note or coin's value in minor units")
    count: int = Field(ge=0)


class CashCount(BaseModel):
    """Cash counted by denomination (JSON-ready: a list of lines, largest denomination first)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    currency: str
    lines: list[CountLine]

    @property
    def total(self) -> int:
        """The counted amount in minor units."""
        return sum(line.denomination * line.count for line in self.lines)

    def describe(self) -> str:
        """The non-zero lines as text, e.g. ``100.00×2, 1.00×3``."""
        return ", ".join(
            f"{format_amount(line.denomination, self.currency)}×{line.count}" for line in self.lines if line.count
        )


class ReportModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MethodTotal(ReportModel):
    count: int = Field(ge=0, description="payments by this method, reversals taken out")
    amount: int = Field(description="net amount in minor units")


class DropLine(ReportModel):
    bag: str
    amount: int
    at: str
    operator: str


class ManualOpenLine(ReportModel):
    at: str
    operator: str
    lane: str | None
    reason: str
    plate: str | None


class CashFigures(ReportModel):
    """Expected cash = float + cash tendered - change given - cash refunded on reversals - cash drops."""

    float_amount: int
    tendered: int
    change: int
    refunded: int
    taken: int = Field(description="tendered - change - refunded: the cash fees kept")
    drops: int
    drop_bags: list[DropLine]
    expected: int
    counted: CashCount
    counted_amount: int
    difference: int = Field(description="counted - expected: negative is a shortage (短款), positive a surplus (长款)")
    float_left: int = Field(description="cash left in the drawer for the next shift")
    handed_in: int = Field(description="cash handed in: the drops plus the counted cash less the float left")


class CardFigures(ReportModel):
    """Expected temporary cards on hand = stock at opening - issued + collected."""

    stock: int
    issued_at_entry: int
    issued_at_booth: int
    issued: int
    collected: int = Field(description="collected at exit, as recorded by the lanes and the booth")
    expected_on_hand: int
    counted_on_hand: int
    difference: int = Field(description="counted on hand - expected on hand")
    collected_counted: int = Field(description="collected cards physically counted at close")
    collected_difference: int = Field(description="collected counted - collected recorded")


class ShiftReport(ReportModel):
    """What one shift did and how its cash and cards closed."""

    shift: str
    car_park: str
    booth: str
    currency: str
    operator: str = Field(description="who opened (and ran) the shift")
    closed_by: str
    opened_at: str
    closed_at: str
    revision: int = 1
    vehicles: dict[str, dict[str, int]] = Field(description="vehicle class -> outcome -> count")
    vehicles_total: int
    by_method: dict[str, MethodTotal] = Field(description="cash, epay, bank_card")
    takings: int = Field(description="fees taken, every method, reversals taken out")
    reversals: int
    reversed_amount: int
    waivers: dict[str, dict[str, int]] = Field(description="free/special -> category -> count")
    waived_amount: int
    free_passes: dict[str, dict[str, int]] = Field(
        default_factory=dict, description="free/special -> category -> count: listed vehicles the lanes let through "
        "by themselves (the booth's own waivers are in ``waivers``); absent in older reports",
    )  # fmt: skip
    manual_opens: list[ManualOpenLine]
    abnormal_events: int
    abnormal_by_kind: dict[str, int]
    barrier_cycles: int
    transactions: int = Field(description="vehicles released with a record: payments, waivers, manual opens, others")
    unexplained_cycles: int = Field(description="barrier cycles - transactions (positive: openings without record)")
    cash: CashFigures
    cards: CardFigures
    handover_note: str

    @property
    def cash_shortage(self) -> int:
        """The shortage in minor units (0 when the cash balanced or was over)."""
        return max(0, -self.cash.difference)


def check_shift_report(payload: Any) -> tuple[ShiftReport | None, str | None]:
    """Read the ``report`` of a SHIFT_REPORT record's payload: the report, or ``None`` and why it does not validate.

    The reason is short and specific (the first few fields at fault), fit to store beside the record.
    """
    if not isinstance(payload, dict) or "report" not in payload:
        return None, "no report in the payload"
    try:
        # strict: an amount sent as text ("15.00") or a bool is refused, never read as 15 minor units or as 1
        return ShiftReport.model_validate(payload["report"], strict=True), None
    except ValidationError as err:
        problems = [f"{'.'.join(str(p) for p in e['loc']) or 'report'}: {e['msg']}" for e in err.errors()[:5]]
        more = f" (+{err.error_count() - 5} more)" if err.error_count() > 5 else ""
        return None, "; ".join(problems) + more
