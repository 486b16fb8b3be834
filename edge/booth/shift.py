"""A booth shift as a pure state machine: opening -> open -> closing -> closed (one open shift per booth: see
:class:`edge.booth.booth.Booth`, which makes them).

Every command checks the state and its input, makes a record (:mod:`edge.booth.records`), applies it and returns
it; the caller commits the records to the journal (``Draft(r.id, r.kind, r.lane, r.at, r.payload())``) before
acting on them. A refused command raises :class:`ShiftError` with a stable ``code`` and changes nothing.
Time comes from the injected clock only. Transactions need an open shift: there is never a shift made up on the
spot (a zero-float "rescue" shift) to hold a late or orphan transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Literal, Protocol, TypeVar

from pydantic import ValidationError

from edge.booth.cash import CashCountError, count_cash
from edge.booth.operator_text import OperatorTextError, operator_text
from edge.booth.operators import SupervisorApproval
from edge.booth.payment import Method, settle
from edge.booth.payment import ShiftError as ShiftError
from edge.booth.records import (
    BoothRecord,
    CardIssuedAtBooth,
    CashDropped,
    CouponUsed,
    FeeLine,
    FeeWaived,
    HandoverAcknowledgement,
    HandoverRecorded,
    ManualOpened,
    PaymentReversed,
    PaymentTaken,
    ReportReopened,
    ShiftClosed,
    ShiftClosing,
    ShiftOpened,
    utc_text,
)
from edge.booth.report import RunningTotals, ShiftReport
from edge.booth.tally import CardCount, CardPlace, ShiftTally
from parking.ids import new_id

Clock = Callable[[], datetime]
APPROVAL_VALID_FOR = timedelta(minutes=5)
R = TypeVar("R", bound=BoothRecord)
NOTE_MAX = 500  # as records.Text


class ShiftState(StrEnum):
    OPENING = "opening"
    OPEN = "open"
    CLOSING = "closing"
    CLOSED = "closed"


class ShiftBooth(Protocol):
    """What a shift needs of its booth (:class:`edge.booth.booth.Booth`): where and when, the currency, the
    receipt numbers, and the booth's other shifts (a cash bag is dropped once per booth)."""

    id: str
    car_park: str
    currency: str
    allow_zero_float: bool
    shifts: list[Shift]
    lanes: tuple[str, ...]

    def now(self) -> datetime: ...

    def next_receipt_no(self, at: datetime) -> str: ...


class Shift:
    """One operator's shift at one booth."""

    def __init__(
        self, booth: ShiftBooth, operator: str, *, previous: Shift | None, shift_id: str | None = None
    ) -> None:
        self.booth = booth
        self.id = shift_id or new_id()
        self.operator = operator
        self.state = ShiftState.OPENING
        self.previous = previous
        self.tally = ShiftTally(booth.currency)
        self.opened: ShiftOpened | None = None
        self.handover: HandoverRecorded | None = None
        self.reports: list[ShiftClosed] = []
        self.reopened = False  # a reopened report of a shift since superseded at the booth
        self.records: list[BoothRecord] = []

    # -------------------------------------------------------------------------------------------- helpers

    @property
    def previous_handover(self) -> HandoverRecorded | None:
        """The handover note to show the incoming operator before opening."""
        return self.previous.handover if self.previous is not None else None

    @property
    def report(self) -> ShiftReport | None:
        """The latest closing report (its differences stay after closing)."""
        return self.reports[-1].report if self.reports else None

    def _base(self, operator: str, lane: str | None = None) -> dict[str, Any]:
        if not operator:
            raise ShiftError("operator.missing", "every action names its operator")
        return {"id": new_id(), "at": self.booth.now(), "car_park": self.booth.car_park, "booth": self.booth.id,
                "shift": self.id, "operator": operator, "lane": lane}  # fmt: skip

    def _need(self, *states: ShiftState) -> None:
        if self.state not in states:
            wanted = " or ".join(s.value for s in states)
            raise ShiftError(f"shift.not_{states[0].value}", f"shift {self.id} is {self.state.value}, not {wanted}")

    def _count(self, counts: Mapping[int, int]) -> Any:
        try:
            return count_cash(counts, self.booth.currency)
        except CashCountError as err:
            raise ShiftError("cash.bad_count", str(err)) from err

    def _apply(self, record: BoothRecord) -> None:
        self.records.append(record)
        self.tally.apply(record)
        if isinstance(record, ShiftOpened):
            self.opened, self.operator, self.state = record, record.operator, ShiftState.OPEN
        elif isinstance(record, ShiftClosing):
            self.state = ShiftState.CLOSING
        elif isinstance(record, HandoverRecorded):
            self.handover = record
        elif isinstance(record, ShiftClosed):
            self.reports.append(record)
            self.state, self.reopened = ShiftState.CLOSED, False
        elif isinstance(record, ReportReopened):
            self.state, self.reopened = ShiftState.CLOSING, True

    @staticmethod
    def _typed(value: str, field: str, *, multiline: bool = False) -> str:
        """Text as an operator typed it, refused with a :class:`ShiftError` naming the field when it holds a control
        character or is too long (see :mod:`edge.booth.operator_text`)."""
        try:
            return operator_text(value, field, multiline=multiline)
        except OperatorTextError as err:
            raise ShiftError(err.code, str(err)) from err

    def _make(self, model: type[R], **fields: Any) -> R:
        """Build a record, turning a field the model refuses (a note too long, say) into a :class:`ShiftError`."""
        try:
            return model(**fields)
        except ValidationError as err:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in err.errors())
            raise ShiftError("input.invalid", problems) from err

    def _emit(self, record: BoothRecord) -> BoothRecord:
        self._apply(record)
        return record

    # ------------------------------------------------------------------------------------------------ open

    def open(
        self, *, operator: str, float_counts: Mapping[int, int], cards_stock: int, acknowledge_handover: bool = False
    ) -> ShiftOpened:
        """Open with the float counted by denomination and the temporary cards counted.

        When a previous shift left a handover, ``acknowledge_handover`` must say the operator read it; who and
        when go into the record.
        """
        self._need(ShiftState.OPENING)
        if not float_counts:
            raise ShiftError("shift.no_float_count", "count the opening float by denomination")
        float_count = self._count(float_counts)
        if float_count.total == 0 and not self.booth.allow_zero_float:
            raise ShiftError("shift.zero_float", "a shift opens with a float: count the change in the drawer")
        if isinstance(cards_stock, bool) or cards_stock < 0:
            raise ShiftError("cards.bad_count", f"card stock {cards_stock!r} is not a count")
        base = self._base(operator)
        acknowledgement = None
        previous = self.previous_handover
        if previous is not None:
            if not acknowledge_handover:
                raise ShiftError("shift.handover_unacknowledged", "read and acknowledge the handover note first")
            acknowledgement = HandoverAcknowledgement(
                previous_shift=previous.shift, previous_operator=previous.operator, note=previous.note,
                acknowledged_by=operator, acknowledged_at=base["at"],
            )  # fmt: skip
        record = self._make(
            ShiftOpened,
            **base, currency=self.booth.currency, float_count=float_count, float_amount=float_count.total,
            cards_stock=cards_stock, handover=acknowledgement, lanes=list(self.booth.lanes) or None,
        )  # fmt: skip
        self._emit(record)
        return record

    # ----------------------------------------------------------------------------------------------- during

    def take_payment(
        self,
        *,
        operator: str,
        lane: str | None,
        amount: int,
        method: Method,
        tendered: int | None = None,
        reference: str | None = None,
        vehicle_class: str = "small",
        plate: str | None = None,
        session: str | None = None,
        lost_card: bool = False,
        entry_at: datetime | None = None,
        tariff_id: str | None = None,
        lines: Sequence[tuple[str, int]] = (),
        tariff_hash: str | None = None,
        quoted_at: datetime | None = None,
        coupons: Sequence[Mapping[str, Any]] = (),
    ) -> PaymentTaken:
        """Take the fee ``amount`` by ``method``: cash with the amount ``tendered`` (change is computed),
        ``epay`` (QR / e-payment) with its ``reference``, ``bank_card`` with the terminal's reference if any.

        The payment is *pending exit* until :meth:`vehicle_left`; only then is it final.
        """
        self._need(ShiftState.OPEN)
        if isinstance(amount, bool) or not isinstance(amount, int) or amount < 0:
            raise ShiftError("payment.bad_amount", f"amount {amount!r} is not minor units")
        tendered, change = settle(amount, method, tendered, reference)
        base = self._base(operator, lane)
        record = self._make(
            PaymentTaken,
            **base, receipt_no=self.booth.next_receipt_no(base["at"]), method=method, currency=self.booth.currency,
            amount=amount, tendered=tendered, change=change, reference=reference, plate=plate,
            vehicle_class=vehicle_class, session=session, lost_card=lost_card, entry_at=entry_at, exit_at=base["at"],
            tariff_id=tariff_id, lines=[FeeLine(label=label, amount=value) for label, value in lines],
            tariff_hash=tariff_hash, quoted_at=quoted_at, coupons=[CouponUsed.model_validate(c) for c in coupons],
        )  # fmt: skip
        self._emit(record)
        return record

    def vehicle_left(self, payment_id: str) -> None:
        """The vehicle of this payment has gone through the lane: the payment can no longer be reversed."""
        self.tally.pending_exit.discard(payment_id)

    def withdraw(self, record: BoothRecord) -> None:
        """Take back a record the journal never got (the lane refused it): the shift forgets it was made."""
        if record in self.records:
            self.records.remove(record)
        self.tally.withdraw(record)

    def pending_exit(self, payment_id: str) -> bool:
        return payment_id in self.tally.pending_exit

    def reverse_payment(self, payment_id: str, *, operator: str, reason: str) -> PaymentReversed:
        """Undo a payment while its vehicle is still in the lane (pending exit), with the reason."""
        self._need(ShiftState.OPEN)
        payment = self.tally.payments.get(payment_id)
        if payment is None:
            raise ShiftError("reversal.unknown_payment", f"no payment {payment_id} in shift {self.id}")
        if payment_id in self.tally.reversals:
            raise ShiftError("reversal.already_reversed", f"payment {payment_id} is reversed already")
        if payment_id not in self.tally.pending_exit:
            raise ShiftError("reversal.vehicle_left", "the vehicle has left the lane: the payment is final")
        reason = self._typed(reason, "reason")
        if not reason:
            raise ShiftError("reversal.reason_required", "a reversal needs a reason")
        if payment.method == "cash" and payment.amount > self.expected_cash():
            # The refund is handed back from the drawer: after a cash drop it may not hold the payment any more, and a
            # drawer counted below zero is a shortage nobody can explain at close.
            raise ShiftError(
                "reversal.drawer_short",
                f"the drawer should hold {self.expected_cash()} minor units, less than the {payment.amount} to refund "
                "in cash: refund it from the office",
            )
        record = self._make(
            PaymentReversed,
            **self._base(operator, payment.lane), reverses=payment_id, method=payment.method, currency=payment.currency,
            amount=payment.amount, refunded_cash=payment.amount if payment.method == "cash" else 0, reason=reason,
        )  # fmt: skip
        self._emit(record)
        return record

    def waive_fee(
        self,
        *,
        operator: str,
        lane: str | None,
        list_kind: Literal["free", "special"],
        category: str,
        reason: str,
        note: str = "",
        due: int = 0,
        vehicle_class: str = "small",
        plate: str | None = None,
        session: str | None = None,
        evidence: str | None = None,
    ) -> FeeWaived:
        """Let a free (by category: police, ambulance...) or special vehicle through without charge, logged."""
        self._need(ShiftState.OPEN)
        category, reason = self._typed(category, "category"), self._typed(reason, "reason")
        note = self._typed(note, "note", multiline=True)
        if not category or not reason:
            raise ShiftError("waiver.category_and_reason", "a free or special vehicle needs a category and reason")
        record = self._make(
            FeeWaived,
            **self._base(operator, lane), list_kind=list_kind, category=category, note=note, reason=reason,
            currency=self.booth.currency, waived=due, plate=plate, vehicle_class=vehicle_class, session=session,
            evidence=evidence,
        )  # fmt: skip
        self._emit(record)
        return record

    def manual_open(
        self,
        *,
        operator: str,
        lane: str,
        reason: str,
        plate: str | None = None,
        vehicle_class: str = "unknown",
        evidence: str | None = None,
    ) -> ManualOpened:
        """Record a manual opening of ``lane`` with its reason (commit it before the barrier moves)."""
        self._need(ShiftState.OPEN)
        reason = self._typed(reason, "reason")
        if not reason:
            raise ShiftError("manual_open.reason_required", "a manual open needs a reason")
        record = self._make(
            ManualOpened,
            **self._base(operator, lane),
            reason=reason,
            plate=plate,
            vehicle_class=vehicle_class,
            evidence=evidence,
        )
        self._emit(record)
        return record

    def drop_cash(
        self, *, operator: str, bag: str, counts: Mapping[int, int], witness: str | None = None
    ) -> CashDropped:
        """Seal cash counted by denomination into the numbered ``bag`` and drop it in the safe (投包)."""
        self._need(ShiftState.OPEN)
        bag = self._typed(bag, "bag")
        if not bag:
            raise ShiftError("drop.bag_required", "a cash drop needs the bag's number")
        if any(d.bag == bag for s in self.booth.shifts for d in s.tally.drops):
            raise ShiftError("drop.duplicate_bag", f"bag {bag} was used already")
        count = self._count(counts)
        if count.total <= 0:
            raise ShiftError("drop.empty", "a cash drop holds some cash")
        record = self._make(
            CashDropped,
            **self._base(operator), bag=bag, currency=self.booth.currency, count=count, amount=count.total,
            witness=witness,
        )  # fmt: skip
        self._emit(record)
        return record

    def issue_card(self, *, operator: str, lane: str | None, reason: str, card: str | None = None) -> CardIssuedAtBooth:
        """Hand a temporary card out at the booth (the dispenser jammed or is empty), attributed and with reason."""
        self._need(ShiftState.OPEN)
        reason = self._typed(reason, "reason")
        if not reason:
            raise ShiftError("card.reason_required", "a card issued by hand needs a reason")
        record = self._make(CardIssuedAtBooth, **self._base(operator, lane), card=card, reason=reason)
        self._emit(record)
        return record

    # what the lanes saw, told by the daemon (not journaled by the shift: the lanes journal it)

    def observe_exit(self, vehicle_class: str, outcome: str) -> None:
        """A vehicle left without a booth action (a pass holder, nothing due, paid at a pay station)."""
        self._need(ShiftState.OPEN, ShiftState.CLOSING)
        self.tally.observe_exit(vehicle_class, outcome)

    def observe_free_pass(self, list_kind: str, category: str) -> None:
        self.tally.observe_free_pass(list_kind, category)

    def observe_barrier_cycle(self) -> None:
        self.tally.observe_barrier_cycle()

    def observe_abnormal(self, kind: str) -> None:
        self.tally.observe_abnormal(kind)

    def observe_card_issued(self, place: CardPlace = "entry", count: int = 1) -> None:
        self.tally.observe_card_issued(place, count)

    def observe_card_collected(self, count: int = 1) -> None:
        self.tally.observe_card_collected(count)

    def expected_cash(self) -> int:
        """What the drawer should hold now (running total for the shift panel)."""
        return self.tally.expected_cash(self.opened.float_amount if self.opened else 0)

    def totals(self) -> RunningTotals:
        """The running figures for the console's shift panel."""
        return self.tally.running_totals(self.id, self.state.value, self.operator, self.opened)

    # ------------------------------------------------------------------------------------------------ close

    def begin_close(self, *, operator: str) -> ShiftClosing:
        """Stop taking transactions on this shift and go on to counting."""
        self._need(ShiftState.OPEN)
        record = ShiftClosing(**self._base(operator))
        self._emit(record)
        return record

    def close(
        self,
        *,
        operator: str,
        cash_counts: Mapping[int, int],
        cards_on_hand: int | None,
        cards_collected: int | None,
        handover_note: str,
        float_left: int | None = None,
    ) -> list[BoothRecord]:
        """Close with the cash counted by denomination and the cards counted: returns the handover and the
        SHIFT_REPORT record. ``float_left`` is the cash left in the drawer for the next shift (default: the
        opening float, or all the cash when there is less)."""
        self._need(ShiftState.OPEN, ShiftState.CLOSING)
        self._check_close_counts(cash_counts, cards_on_hand, cards_collected)
        assert self.opened is not None
        assert cards_on_hand is not None
        assert cards_collected is not None
        cash = self._count(cash_counts)
        left = min(self.opened.float_amount, cash.total) if float_left is None else float_left
        if not 0 <= left <= cash.total:
            raise ShiftError("shift.bad_float_left", f"float left {left} is not within the {cash.total} counted")
        if len(handover_note) > NOTE_MAX:
            raise ShiftError("input.invalid", f"the handover note is longer than {NOTE_MAX} characters")
        handover_note = self._typed(handover_note, "handover note", multiline=True)
        # every check is done: from here on records are emitted, and all of them are returned
        records: list[BoothRecord] = []
        if self.state is ShiftState.OPEN:
            records.append(self.begin_close(operator=operator))
        handover = self._make(
            HandoverRecorded,
            **self._base(operator), note=handover_note, currency=self.booth.currency, float_left=left,
            cards_on_hand=cards_on_hand,
        )  # fmt: skip
        revision = len(self.reports) + 1
        report = self.tally.report(
            self.opened, closed_by=operator, closed_at=utc_text(handover.at), cash=cash,
            cards=CardCount(on_hand=cards_on_hand, collected=cards_collected), handover_note=handover_note,
            revision=revision, float_left=left,
        )  # fmt: skip
        closed = ShiftClosed(**self._base(operator), revision=revision, report=report)
        records += [self._emit(handover), self._emit(closed)]
        return records

    @staticmethod
    def _check_close_counts(cash: Mapping[int, int], on_hand: int | None, collected: int | None) -> None:
        if not cash:
            raise ShiftError("shift.no_cash_count", "count the cash by denomination before closing")
        for name, value in (("cards on hand", on_hand), ("cards collected", collected)):
            if value is None or isinstance(value, bool) or value < 0:
                raise ShiftError("shift.no_card_count", f"count the {name} before closing")

    def reopen_report(self, approval: SupervisorApproval, *, reason: str) -> ReportReopened:
        """A supervisor reopens this closed shift's report for a recount; the closed report stays on record."""
        self._need(ShiftState.CLOSED)
        now = self.booth.now()
        if approval.action != "reopen_shift_report" or now - approval.at > APPROVAL_VALID_FOR or now < approval.at:
            raise ShiftError("approval.invalid", "a fresh supervisor approval for reopen_shift_report is needed")
        reason = self._typed(reason, "reason")
        if not reason:
            raise ShiftError("reopen.reason_required", "reopening a report needs a reason")
        record = self._make(
            ReportReopened,
            **self._base(approval.supervisor), requested_by=approval.requested_by, reason=reason,
            revision=len(self.reports),
        )  # fmt: skip
        self._emit(record)
        return record
