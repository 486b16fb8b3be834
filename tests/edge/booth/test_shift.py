"""A whole booth shift through the pure machine, with the figures of issue 7's "Done when", and its edge cases."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest

from edge.booth.booth import Booth
from edge.booth.operators import SupervisorApproval
from edge.booth.records import BoothRecord, ShiftClosed, parse_record
from edge.booth.shift import Shift, ShiftError, ShiftState
from parking.shift_report import check_shift_report
from parking.wire import GENESIS_HASH, RecordKind, seal, verify_record

T0 = datetime(2026, 11, 27, 0, 0, tzinfo=UTC)  # 08:00 in Shanghai
FLOAT_500 = {10000: 2, 5000: 2, 2000: 5, 1000: 5, 500: 6, 100: 15, 50: 8, 10: 10}  # 500.00
COUNT_505 = {10000: 2, 5000: 2, 2000: 5, 1000: 4, 500: 9, 100: 15, 50: 8, 10: 10}  # 505.00: 10.00 short


class Clock:
    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw: float) -> None:
        self.now += timedelta(**kw)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def booth(clock: Clock) -> Booth:
    return Booth("B1", "lakeview", clock=clock)


@contextmanager
def refused(code: str) -> Iterator[None]:
    with pytest.raises(ShiftError) as info:
        yield
    assert info.value.code == code


def floats_in(value: object) -> list[float]:
    if isinstance(value, float):
        return [value]
    if isinstance(value, dict):
        return [f for v in value.values() for f in floats_in(v)]
    if isinstance(value, list):
        return [f for v in value for f in floats_in(v)]
    return []


def open_shift(booth: Booth, operator: str = "c01", **kw: bool) -> Shift:
    shift = booth.begin_shift(operator)
    shift.open(operator=operator, float_counts=FLOAT_500, cards_stock=200, **kw)
    return shift


def run_the_day(booth: Booth, clock: Clock) -> tuple[Shift, list[BoothRecord]]:
    """Issue 7's shift: float 500.00, a pass holder, a free vehicle, three temporary vehicles (cash with change,
    e-payment, lost card), a manual open, a cash drop, close with 10.00 short."""
    records: list[BoothRecord] = []
    shift = booth.begin_shift("c01")
    assert shift.previous_handover is None
    records.append(shift.open(operator="c01", float_counts=FLOAT_500, cards_stock=200))
    clock.advance(minutes=5)
    shift.observe_card_issued("entry", 3)  # the three temporary vehicles took cards at the entry dispenser
    # a pass holder leaves by itself
    shift.observe_exit("small", "pass")
    shift.observe_barrier_cycle()
    clock.advance(minutes=3)
    # a police car, let through free
    records.append(
        shift.waive_fee(operator="c01", lane="X1", list_kind="free", category="police", reason="执勤车辆",
                        note="警车 出警", plate="粤B1234警", due=500)
    )  # fmt: skip
    shift.observe_barrier_cycle()
    clock.advance(minutes=4)
    # temporary vehicle 1: 15.00 in cash, 20.00 tendered, 5.00 change
    cash = shift.take_payment(operator="c01", lane="X1", amount=1500, method="cash", tendered=2000, plate="粤B3R7K2",
                              entry_at=T0 - timedelta(hours=2), tariff_id="standard",
                              lines=[("2 h × 5.00", 1000), ("night", 500)])  # fmt: skip
    records.append(cash)
    shift.observe_card_collected()
    shift.vehicle_left(cash.id)
    shift.observe_barrier_cycle()
    clock.advance(minutes=6)
    # temporary vehicle 2: 10.00 by QR e-payment
    epay = shift.take_payment(
        operator="c01", lane="X1", amount=1000, method="epay", reference="WX4200001234", plate="粤BD12345"
    )
    records.append(epay)
    shift.observe_card_collected()
    shift.vehicle_left(epay.id)
    shift.observe_barrier_cycle()
    clock.advance(minutes=7)
    # temporary vehicle 3: lost card, 100.00 in cash, exact
    lost = shift.take_payment(
        operator="c01", lane="X1", amount=10000, method="cash", tendered=10000, plate="粤A88888", lost_card=True
    )
    records.append(lost)
    shift.vehicle_left(lost.id)
    shift.observe_barrier_cycle()
    clock.advance(minutes=2)
    # a manual open for a car with no entry record
    shift.observe_abnormal("no_entry_record")
    records.append(
        shift.manual_open(operator="c01", lane="X1", reason="无入场记录, 核实后放行", plate="粤B55555",
                          vehicle_class="small")
    )  # fmt: skip
    shift.observe_barrier_cycle()
    clock.advance(minutes=30)
    records.append(shift.drop_cash(operator="c01", bag="TB-0001", counts={10000: 1}, witness="s01"))
    assert shift.expected_cash() == 51500
    totals = shift.totals()
    assert (totals.state, totals.expected_cash, totals.takings, totals.drops, totals.bags) == (
        "open", 51500, 12500, 10000, ["TB-0001"],
    )  # fmt: skip
    assert (totals.vehicles_total, totals.waivers, totals.manual_opens, totals.barrier_cycles) == (6, 1, 1, 6)
    assert totals.pending_exit == []
    clock.advance(hours=7)
    records += shift.close(
        operator="c01", cash_counts=COUNT_505, cards_on_hand=199, cards_collected=2, handover_note="3号岗亭打印机缺纸"
    )
    return shift, records


def test_a_whole_shift(booth: Booth, clock: Clock) -> None:
    shift, records = run_the_day(booth, clock)
    assert shift.state is ShiftState.CLOSED
    report = shift.report
    assert report is not None
    assert report.vehicles == {"small": {"free": 1, "lost_card": 1, "manual_open": 1, "paid": 2, "pass": 1}}
    assert report.vehicles_total == 6
    assert {m: (t.count, t.amount) for m, t in report.by_method.items()} == {
        "cash": (2, 11500), "epay": (1, 1000), "bank_card": (0, 0),
    }  # fmt: skip
    assert report.takings == 12500
    assert report.waivers == {"free": {"police": 1}}
    assert report.waived_amount == 500
    assert [m.reason for m in report.manual_opens] == ["无入场记录, 核实后放行"]
    assert report.abnormal_events == 1
    assert report.abnormal_by_kind == {"no_entry_record": 1}
    assert (report.barrier_cycles, report.transactions, report.unexplained_cycles) == (6, 6, 0)
    cash = report.cash
    assert (cash.float_amount, cash.tendered, cash.change, cash.refunded, cash.drops) == (50000, 12000, 500, 0, 10000)
    assert cash.taken == 11500
    assert cash.expected == 51500  # 500 + 120 - 5 - 100
    assert cash.counted_amount == 50500
    assert cash.difference == -1000
    assert report.cash_shortage == 1000
    assert [(b.bag, b.amount) for b in cash.drop_bags] == [("TB-0001", 10000)]
    cards = report.cards
    assert (cards.stock, cards.issued, cards.collected, cards.expected_on_hand) == (200, 3, 2, 199)
    assert (cards.counted_on_hand, cards.difference, cards.collected_difference) == (199, 0, 0)
    assert report.handover_note == "3号岗亭打印机缺纸"
    assert report.opened_at == "2026-11-27T00:00:00Z"
    assert [r.kind for r in records] == [
        RecordKind.SHIFT, RecordKind.TRANSACTION, RecordKind.TRANSACTION, RecordKind.TRANSACTION,
        RecordKind.TRANSACTION, RecordKind.MANUAL_ACTION, RecordKind.SHIFT, RecordKind.SHIFT, RecordKind.SHIFT,
        RecordKind.SHIFT_REPORT,
    ]  # fmt: skip
    assert records == shift.records


def test_the_records_are_journal_ready(booth: Booth, clock: Clock) -> None:
    shift, records = run_the_day(booth, clock)
    prev = GENESIS_HASH
    for seq, record in enumerate(records, 1):
        payload = record.payload()
        text = json.dumps(payload, ensure_ascii=False)
        assert not floats_in(json.loads(text)), "money and counts are integers"
        assert payload["at"].endswith("Z")  # type: ignore[union-attr]
        assert payload["shift"] == shift.id
        assert payload["operator"]
        assert parse_record(json.loads(text)) == record
        sealed = seal(id=record.id, seq=seq, kind=record.kind, car_park="lakeview", lane=record.lane, at=record.at,
                      payload=payload, prev_hash=prev)  # fmt: skip
        assert verify_record(sealed)
        prev = sealed.hash
        draft = record.draft()
        assert (draft.id, draft.kind, draft.lane, draft.at, draft.payload) == (
            record.id, record.kind, record.lane, record.at, payload,
        )  # fmt: skip
    payment = records[2].payload()
    assert payment["amount"] == 1500
    assert (payment["tendered"], payment["change"], payment["currency"]) == (2000, 500, "CNY")
    assert payment["receipt_no"] == "B1-20261127-0001"
    assert records[3].payload()["receipt_no"] == "B1-20261127-0002"
    report = records[-1].payload()["report"]
    assert isinstance(report, dict)
    assert report["cash"]["difference"] == -1000  # type: ignore[call-overload,index]
    checked, problem = check_shift_report(json.loads(json.dumps(records[-1].payload())))  # as central reads it
    assert problem is None
    assert checked is not None
    assert checked.cash.difference == -1000


def test_restore_from_the_journal(booth: Booth, clock: Clock) -> None:
    shift, records = run_the_day(booth, clock)
    again = Booth("B1", "lakeview", clock=clock)
    again.restore(r.payload() for r in records)
    (restored,) = again.shifts
    assert restored.id == shift.id
    assert restored.state is ShiftState.CLOSED
    assert restored.report == shift.report
    assert restored.handover == shift.handover


def test_restore_two_shifts_with_their_handover(booth: Booth, clock: Clock) -> None:
    first, _ = run_the_day(booth, clock)
    second = open_shift(booth, "c02", acknowledge_handover=True)
    again = Booth("B1", "lakeview", clock=clock)
    again.restore(r.payload() for s in booth.shifts for r in s.records)
    assert [s.id for s in again.shifts] == [first.id, second.id]
    current = again.current
    assert current is not None
    assert (current.id, current.operator, current.state) == (second.id, "c02", ShiftState.OPEN)
    assert current.previous_handover is not None
    assert current.previous_handover.note == "3号岗亭打印机缺纸"
    with refused("shift.already_open"):
        again.begin_shift("c03")
    with pytest.raises(ValueError, match="before the shift opened"):
        Booth("B1", "lakeview", clock=clock).restore([first.records[-1].payload()])


def test_restored_open_shift_goes_on_and_refuses_reversal(booth: Booth, clock: Clock) -> None:
    shift = open_shift(booth)
    paid = shift.take_payment(operator="c01", lane="X1", amount=500, method="cash", tendered=1000)
    again = Booth("B1", "lakeview", clock=clock)
    again.restore(r.payload() for r in shift.records)
    restored = again.current
    assert restored is not None
    assert restored.state is ShiftState.OPEN
    assert restored.expected_cash() == 50500
    with refused("reversal.vehicle_left"):
        restored.reverse_payment(paid.id, operator="c01", reason="driver disputes")
    with refused("shift.already_open"):
        again.begin_shift("c02")


def test_next_shift_sees_and_acknowledges_the_handover(booth: Booth, clock: Clock) -> None:
    first, _ = run_the_day(booth, clock)
    clock.advance(minutes=1)
    second = booth.begin_shift("c02")
    assert second.previous_handover is not None
    assert second.previous_handover.note == "3号岗亭打印机缺纸"
    with refused("shift.handover_unacknowledged"):
        second.open(operator="c02", float_counts=FLOAT_500, cards_stock=199)
    assert second.state is ShiftState.OPENING
    opened = second.open(operator="c02", float_counts=FLOAT_500, cards_stock=199, acknowledge_handover=True)
    assert opened.handover is not None
    assert (opened.handover.previous_shift, opened.handover.previous_operator) == (first.id, "c01")
    assert (opened.handover.acknowledged_by, opened.handover.acknowledged_at) == ("c02", clock.now)
    assert opened.payload()["handover"]["note"] == "3号岗亭打印机缺纸"  # type: ignore[call-overload,index]
    # the closed shift keeps its differences
    assert first.report is not None
    assert first.report.cash.difference == -1000


def test_a_cash_refund_the_drawer_no_longer_holds_is_refused(booth: Booth) -> None:
    shift = open_shift(booth)
    paid = shift.take_payment(operator="c01", lane="X1", amount=1500, method="cash", tendered=1500)
    shift.drop_cash(operator="c01", bag="TB-0001", counts={10000: 5, 1000: 1, 500: 1})  # the whole 515.00
    assert shift.expected_cash() == 0
    with refused("reversal.drawer_short"):
        shift.reverse_payment(paid.id, operator="c01", reason="driver backs out")
    assert shift.pending_exit(paid.id)  # nothing recorded: the payment stands until the office refunds it
    assert shift.expected_cash() == 0


def test_reversal_only_while_the_car_is_in_the_lane(booth: Booth) -> None:
    shift = open_shift(booth)
    paid = shift.take_payment(operator="c01", lane="X1", amount=1500, method="cash", tendered=2000)
    assert shift.pending_exit(paid.id)
    assert shift.totals().pending_exit == [paid.id]
    with refused("reversal.reason_required"):
        shift.reverse_payment(paid.id, operator="c01", reason=" ")
    reversal = shift.reverse_payment(paid.id, operator="c01", reason="wrong plate matched")
    assert (reversal.kind, reversal.reverses, reversal.refunded_cash) == (RecordKind.TRANSACTION, paid.id, 1500)
    with refused("reversal.already_reversed"):
        shift.reverse_payment(paid.id, operator="c01", reason="again")
    assert shift.expected_cash() == 50000  # 500 + 20 - 5 - 15
    left = shift.take_payment(operator="c01", lane="X1", amount=1000, method="epay", reference="AP77")
    shift.vehicle_left(left.id)
    with refused("reversal.vehicle_left"):
        shift.reverse_payment(left.id, operator="c01", reason="too late")
    with refused("reversal.unknown_payment"):
        shift.reverse_payment("nope", operator="c01", reason="x")
    records = shift.close(operator="c01", cash_counts={10000: 5}, cards_on_hand=200, cards_collected=0,
                          handover_note="")  # fmt: skip
    report = records[-1]
    assert isinstance(report, ShiftClosed)
    assert (report.report.reversals, report.report.reversed_amount) == (1, 1500)
    assert report.report.by_method["cash"].count == 0
    assert report.report.vehicles == {"small": {"paid": 1}}
    assert report.report.cash.difference == 0


def test_only_one_open_shift_and_no_rescue_shift(booth: Booth) -> None:
    shift = booth.begin_shift("c01")
    with refused("shift.not_open"):
        shift.take_payment(operator="c01", lane="X1", amount=500, method="cash")
    with refused("shift.already_open"):
        booth.begin_shift("c02")
    shift.open(operator="c01", float_counts=FLOAT_500, cards_stock=10)
    with refused("shift.already_open"):
        booth.begin_shift("c02")
    with refused("shift.not_opening"):
        shift.open(operator="c01", float_counts=FLOAT_500, cards_stock=10)
    assert len(booth.shifts) == 1


def test_zero_float_and_bad_counts_refused(booth: Booth) -> None:
    shift = booth.begin_shift("c01")
    with refused("shift.no_float_count"):
        shift.open(operator="c01", float_counts={}, cards_stock=10)
    with refused("shift.zero_float"):
        shift.open(operator="c01", float_counts={10000: 0}, cards_stock=10)
    with refused("cash.bad_count"):
        shift.open(operator="c01", float_counts={200: 3}, cards_stock=10)  # no 2-yuan in the CNY set
    with refused("cash.bad_count"):
        shift.open(operator="c01", float_counts={10000: -1}, cards_stock=10)
    with refused("cards.bad_count"):
        shift.open(operator="c01", float_counts=FLOAT_500, cards_stock=-1)
    with refused("operator.missing"):
        shift.open(operator="", float_counts=FLOAT_500, cards_stock=1)
    assert shift.records == []
    booth.abandon_opening(shift)
    assert booth.current is None


def test_zero_float_allowed_when_configured(clock: Clock) -> None:
    booth = Booth("B2", "lakeview", clock=clock, allow_zero_float=True)
    opened = booth.begin_shift("c01").open(operator="c01", float_counts={10000: 0}, cards_stock=0)
    assert opened.float_amount == 0


def test_payment_rules(booth: Booth) -> None:
    shift = open_shift(booth)
    with refused("payment.short"):
        shift.take_payment(operator="c01", lane="X1", amount=1500, method="cash", tendered=1000)
    with refused("payment.reference_required"):
        shift.take_payment(operator="c01", lane="X1", amount=1500, method="epay")
    with refused("payment.bad_amount"):
        shift.take_payment(operator="c01", lane="X1", amount=-5, method="cash")
    card = shift.take_payment(operator="c01", lane="X1", amount=1500, method="bank_card", reference="T-0042")
    assert (card.tendered, card.change) == (1500, 0)
    exact = shift.take_payment(operator="c01", lane="X1", amount=700, method="cash")
    assert (exact.tendered, exact.change) == (700, 0)
    assert shift.expected_cash() == 50700


def test_a_card_handed_out_at_the_booth_is_recorded_and_counted(booth: Booth, clock: Clock) -> None:
    shift = open_shift(booth)
    with refused("card.reason_required"):
        shift.issue_card(operator="c01", lane="E1", reason="")
    record = shift.issue_card(operator="c01", lane="E1", reason="发卡机卡卡", card="T-00042")
    assert (record.kind, record.operator, record.lane, record.card) == (RecordKind.SHIFT, "c01", "E1", "T-00042")
    shift.observe_card_issued("entry", 2)
    shift.observe_card_collected(1)
    again = Booth("B1", "lakeview", clock=clock)
    again.restore(r.payload() for r in shift.records)
    *_, closed = shift.close(operator="c01", cash_counts=FLOAT_500, cards_on_hand=197, cards_collected=1,
                             handover_note="")  # fmt: skip
    assert isinstance(closed, ShiftClosed)
    cards = closed.report.cards
    assert (cards.issued_at_booth, cards.issued_at_entry, cards.expected_on_hand, cards.difference) == (1, 2, 198, -1)
    restored = again.current
    assert restored is not None
    assert restored.tally.cards_issued["booth"] == 1  # the hand-issued card survives a restart


def test_cash_drop_rules(booth: Booth) -> None:
    shift = open_shift(booth)
    shift.drop_cash(operator="c01", bag="TB-0001", counts={10000: 1})
    with refused("drop.duplicate_bag"):
        shift.drop_cash(operator="c01", bag="TB-0001", counts={10000: 1})
    with refused("drop.empty"):
        shift.drop_cash(operator="c01", bag="TB-0002", counts={10000: 0})
    with refused("drop.bag_required"):
        shift.drop_cash(operator="c01", bag=" ", counts={10000: 1})
    assert shift.expected_cash() == 40000


def test_closing_needs_counts_and_stops_transactions(booth: Booth) -> None:
    shift = open_shift(booth)
    with refused("shift.no_cash_count"):
        shift.close(operator="c01", cash_counts={}, cards_on_hand=200, cards_collected=0, handover_note="")
    with refused("shift.no_card_count"):
        shift.close(operator="c01", cash_counts=FLOAT_500, cards_on_hand=None, cards_collected=0, handover_note="")
    with refused("shift.no_card_count"):
        shift.close(operator="c01", cash_counts=FLOAT_500, cards_on_hand=200, cards_collected=None, handover_note="")
    assert shift.state is ShiftState.OPEN
    assert shift.records[-1].kind is RecordKind.SHIFT  # nothing but the opening
    shift.begin_close(operator="c01")
    with refused("shift.not_open"):
        shift.take_payment(operator="c01", lane="X1", amount=500, method="cash")
    with refused("shift.not_open"):
        shift.manual_open(operator="c01", lane="X1", reason="x")
    with refused("shift.no_cash_count"):
        shift.close(operator="c01", cash_counts={}, cards_on_hand=200, cards_collected=0, handover_note="")
    _, closed = shift.close(
        operator="c01", cash_counts=FLOAT_500, cards_on_hand=201, cards_collected=1, handover_note="ok"
    )
    assert shift.state.value == "closed"
    assert isinstance(closed, ShiftClosed)
    assert closed.report.cash.difference == 0
    assert (closed.report.cards.difference, closed.report.cards.collected_difference) == (1, 1)
    with refused("shift.not_open"):
        shift.close(operator="c01", cash_counts=FLOAT_500, cards_on_hand=200, cards_collected=0, handover_note="")


def test_a_refused_close_changes_nothing(booth: Booth) -> None:
    shift = open_shift(booth)
    with refused("shift.bad_float_left"):
        shift.close(operator="c01", cash_counts={10000: 1}, cards_on_hand=200, cards_collected=0, handover_note="",
                    float_left=20000)  # fmt: skip
    with refused("cash.bad_count"):
        shift.close(operator="c01", cash_counts={3: 1}, cards_on_hand=200, cards_collected=0, handover_note="")
    with refused("input.invalid"):
        shift.close(
            operator="c01", cash_counts=FLOAT_500, cards_on_hand=200, cards_collected=0, handover_note="长" * 501
        )
    assert shift.state is ShiftState.OPEN
    assert len(shift.records) == 1


def test_bad_fields_are_refused_as_shift_errors(booth: Booth) -> None:
    shift = open_shift(booth)
    with refused("input.invalid"):
        shift.waive_fee(operator="c01", lane="X1", list_kind="free", category="x" * 41, reason="r")
    with refused("input.invalid"):
        shift.take_payment(operator="c01", lane="X1", amount=100, method="epay", reference="r" * 65)
    assert len(shift.records) == 1


def test_barrier_cycles_without_transactions_show(booth: Booth) -> None:
    shift = open_shift(booth)
    for _ in range(3):
        shift.observe_barrier_cycle()
    shift.observe_exit("large", "nothing_due")
    shift.waive_fee(
        operator="c01", lane="X1", list_kind="special", category="hearse", reason="殡仪车辆", note="主管同意"
    )
    *_, closed = shift.close(operator="c01", cash_counts=FLOAT_500, cards_on_hand=200, cards_collected=0,
                             handover_note="")  # fmt: skip
    assert isinstance(closed, ShiftClosed)
    assert (closed.report.barrier_cycles, closed.report.transactions, closed.report.unexplained_cycles) == (3, 2, 1)
    assert closed.report.waivers == {"special": {"hearse": 1}}
    assert closed.report.vehicles == {"large": {"nothing_due": 1}, "small": {"special": 1}}


def test_reopen_a_closed_report_with_a_supervisor(booth: Booth, clock: Clock) -> None:
    shift, _ = run_the_day(booth, clock)
    wrong = SupervisorApproval("s01", "reset_anti_passback", "c01", clock.now)
    with refused("approval.invalid"):
        shift.reopen_report(wrong, reason="recount")
    stale = SupervisorApproval("s01", "reopen_shift_report", "c01", clock.now - timedelta(minutes=10))
    with refused("approval.invalid"):
        shift.reopen_report(stale, reason="recount")
    approval = SupervisorApproval("s01", "reopen_shift_report", "c01", clock.now)
    reopened = shift.reopen_report(approval, reason="a 10 yuan note found under the drawer")
    assert (reopened.operator, reopened.requested_by, reopened.revision) == ("s01", "c01", 1)
    assert shift.state is ShiftState.CLOSING
    assert booth.current is None  # a reopened report does not hold up the next shift
    with refused("shift.not_open"):
        shift.take_payment(operator="c01", lane="X1", amount=500, method="cash")
    recount = {**COUNT_505, 1000: 5}
    *_, closed = shift.close(operator="c01", cash_counts=recount, cards_on_hand=199, cards_collected=2,
                             handover_note="3号岗亭打印机缺纸")  # fmt: skip
    assert isinstance(closed, ShiftClosed)
    assert closed.revision == 2
    assert [r.report.cash.difference for r in shift.reports] == [-1000, 0]  # the first report is kept


def test_clock_must_be_aware() -> None:
    booth = Booth("B1", "lakeview", clock=lambda: datetime(2026, 1, 1))
    shift = booth.begin_shift("c01")
    with pytest.raises(ValueError, match="timezone-aware"):
        shift.open(operator="c01", float_counts=FLOAT_500, cards_stock=1)
