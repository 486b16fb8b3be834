"""The shift report: the closing figures of a booth shift, as sent to central in the SHIFT_REPORT record.

The report's models are :mod:`parking.shift_report` (central checks the reports it receives with them); this
module re-exports them and adds the shift panel's running totals, which stay on the edge.
"""

from __future__ import annotations

from pydantic import Field

# The report's models live in parking (central validates shift reports with them); re-exported for the booth.
from parking.shift_report import CardFigures as CardFigures
from parking.shift_report import CashFigures as CashFigures
from parking.shift_report import DropLine as DropLine
from parking.shift_report import ManualOpenLine as ManualOpenLine
from parking.shift_report import MethodTotal as MethodTotal
from parking.shift_report import ReportModel as ReportModel
from parking.shift_report import ShiftReport as ShiftReport


class RunningTotals(ReportModel):
    """The shift panel's figures while the shift is open (not a record: computed on demand)."""

    shift: str
    state: str
    operator: str
    opened_at: str | None
    currency: str
    float_amount: int
    expected_cash: int = Field(description="what the drawer should hold now")
    takings: int
    by_method: dict[str, MethodTotal]
    drops: int
    bags: list[str]
    vehicles_total: int
    waivers: int
    manual_opens: int
    abnormal_events: int
    barrier_cycles: int
    pending_exit: list[str] = Field(description="payments whose vehicle is still in the lane (reversible)")
