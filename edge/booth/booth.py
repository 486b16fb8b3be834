"""A booth: its shifts (one opening, open or closing at a time), the handover between them, receipt numbers."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from edge.booth.cash import count_cash
from edge.booth.payment import ShiftError
from edge.booth.records import ShiftOpened, parse_record
from edge.booth.shift import Clock, Shift, ShiftState


class Booth:
    """A booth's shifts: who may open one, the handover between them, receipt numbers."""

    def __init__(
        self,
        booth: str,
        car_park: str,
        *,
        clock: Clock,
        currency: str = "CNY",
        zone: ZoneInfo | None = None,
        allow_zero_float: bool = False,
        lanes: Sequence[str] = (),
    ) -> None:
        self.id = booth
        self.car_park = car_park
        self.clock = clock
        self.currency = currency
        self.zone = zone or ZoneInfo("Asia/Shanghai")
        self.allow_zero_float = allow_zero_float
        self.lanes = tuple(lanes)  # the lanes it staffs (stated in each shift's opening record for central)
        self.shifts: list[Shift] = []
        count_cash({}, currency)  # refuses a currency without denominations now rather than at the first count

    def now(self) -> datetime:
        now = self.clock()
        if now.tzinfo is None:
            raise ValueError("the booth clock must give timezone-aware times")
        return now

    @property
    def current(self) -> Shift | None:
        """The shift being opened, open or closing (there is at most one), else ``None``."""
        for shift in reversed(self.shifts):
            if shift.state is not ShiftState.CLOSED and not shift.reopened:
                return shift
        return None

    @property
    def last_closed(self) -> Shift | None:
        closed = [s for s in self.shifts if s.handover is not None]
        return closed[-1] if closed else None

    def begin_shift(self, operator: str) -> Shift:
        """Start opening a shift for ``operator``; refused while another is opening, open or closing."""
        current = self.current
        if current is not None:
            raise ShiftError("shift.already_open", f"shift {current.id} of {current.operator} is {current.state.value}")
        shift = Shift(self, operator, previous=self.last_closed)
        self.shifts.append(shift)
        return shift

    def abandon_opening(self, shift: Shift) -> None:
        """Drop a shift that was begun but never opened (nothing was recorded for it)."""
        if shift.state is not ShiftState.OPENING or shift not in self.shifts:
            raise ShiftError("shift.not_opening", f"shift {shift.id} is {shift.state.value}: it cannot be dropped")
        self.shifts.remove(shift)

    def next_receipt_no(self, at: datetime) -> str:
        """Receipt numbers run per booth and local day: ``B1-20261127-0003``."""
        prefix = f"{self.id}-{at.astimezone(self.zone):%Y%m%d}-"
        issued = sum(1 for s in self.shifts for p in s.tally.payments.values() if p.receipt_no.startswith(prefix))
        return f"{prefix}{issued + 1:04d}"

    def restore(self, payloads: Iterable[Mapping[str, Any]]) -> None:
        """Rebuild the booth's shifts from their journal payloads (in journal order) after a restart.

        Payments restored this way count as gone through the lane (no reversal after a restart).
        What the lanes told through ``observe_*`` is not in these records: the daemon tells it again.
        """
        by_id: dict[str, Shift] = {}
        for payload in payloads:
            record = parse_record(dict(payload))
            shift = by_id.get(record.shift)
            if shift is None:
                if not isinstance(record, ShiftOpened):
                    raise ValueError(f"record {record.id} of shift {record.shift} comes before the shift opened")
                shift = Shift(self, record.operator, previous=self.last_closed, shift_id=record.shift)
                self.shifts.append(shift)
                by_id[shift.id] = shift
            shift._apply(record)
        for shift in by_id.values():
            shift.tally.pending_exit.clear()
