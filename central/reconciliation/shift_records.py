"""Everything central received about one booth shift, gathered for the checks (:mod:`.checks`).

Rows are ``money_records`` rows (anything with its columns as attributes: a Core row or a :class:`MoneyRecord`).
The booth's own records carry the shift's id; what the lanes did by themselves (openings, exits without the booth,
cards, abnormal events) belongs to the shift by time: the edge's records between the shift's opening and its close,
and, when the opening record states the lanes its booth staffs (an edge with several booths), only those lanes'
records (and the car park's records of no lane).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from parking.shift_report import ShiftReport
from parking.tariff import Tariff

MoneyRow = Any  # a money_records row (a Core row, read by attribute): every column but ``detail``, and from it
# ``coupons`` and ``presented_card`` (the rest of ``detail`` is read only where needed: reports, breakdown lines)


@dataclass(frozen=True, slots=True)
class ChainProblem:
    seq: int
    record_id: str | None
    reason: str  # hash_mismatch, prev_mismatch, fork, id_conflict, gap
    detail: str


@dataclass(frozen=True, slots=True)
class BagCustody:
    bag: str
    picked_up_at: datetime | None
    picked_up_by: str | None
    witnessed_by: str | None
    counted_at: datetime | None
    counted_by: str | None
    counted: int | None
    deposited_at: datetime | None
    deposited_by: str | None
    deposit_slip: str | None


@dataclass(frozen=True, slots=True)
class Review:
    state: str  # flagged, signed_off
    note: str
    decided_by: str
    decided_at: datetime
    first_decided_at: datetime


@dataclass
class ShiftRecords:
    shift: str
    car_park: str
    edge_id: str
    zone: ZoneInfo
    opened: MoneyRow
    report: ShiftReport | None
    report_row: MoneyRow | None
    booth_rows: list[MoneyRow]  # the shift's own records (payload ``shift``), in seq order
    lane_rows: list[MoneyRow]  # the edge's other records in the shift's time window (and lanes), in seq order
    lanes: frozenset[str] | None = None  # the lanes the shift's booth staffs (None: not stated, every lane)
    sessions: dict[str, MoneyRow] = field(default_factory=dict)  # session id -> its "opened" record
    closings: dict[str, MoneyRow] = field(default_factory=dict)  # transaction id -> the session "closed" record
    paid_ahead: dict[str, list[MoneyRow]] = field(default_factory=dict)  # session id -> its "paid" records
    entries_by_plate: dict[str, list[tuple[MoneyRow, datetime | None]]] = field(default_factory=dict)
    tariffs: dict[str, Tariff | None] = field(default_factory=dict)  # hash -> tariff (None: text does not compile)
    cards_out_at_open: int = 0
    chain: list[ChainProblem] = field(default_factory=list)
    review: Review | None = None
    bags: dict[str, BagCustody] = field(default_factory=dict)
    report_problem: str | None = None  # a closing report arrived but none validates: why

    @property
    def opened_at(self) -> datetime:
        moment: datetime = self.opened.at
        return moment

    @property
    def closed_at(self) -> datetime | None:
        """When the latest report says the shift closed (None while it has no report)."""
        return self.report_row.at if self.report_row is not None else None

    @property
    def operators(self) -> set[str]:
        """Everyone who worked the shift: who opened it and whoever did any of its records."""
        names = {str(self.opened.operator)} if self.opened.operator else set()
        names |= {str(r.operator) for r in self.booth_rows if r.operator and r.event not in ("report_reopened",)}
        if self.report is not None:
            names |= {self.report.operator, self.report.closed_by}
        return names
