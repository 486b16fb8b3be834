"""The running totals of an open shift, and the report they close into.

Two sources feed a tally: the shift's own records (payments, reversals, waivers, manual opens, cash drops), applied
as they are made or replayed from the journal; and what the lanes saw (vehicles that left without the booth, barrier
cycles, abnormal events, temporary cards issued and collected), told by the edge daemon through ``observe_*``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Literal

from edge.booth.cash import CashCount
from edge.booth.records import (
    BoothRecord,
    CardIssuedAtBooth,
    CashDropped,
    FeeWaived,
    ManualOpened,
    PaymentReversed,
    PaymentTaken,
    ShiftOpened,
    utc_text,
)
from edge.booth.report import (
    CardFigures,
    CashFigures,
    DropLine,
    ManualOpenLine,
    MethodTotal,
    RunningTotals,
    ShiftReport,
)

METHODS = ("cash", "epay", "bank_card")
CardPlace = Literal["entry", "booth"]  # "booth" here: issued at a booth by a device, not by hand


@dataclass(frozen=True, slots=True)
class CardCount:
    """The temporary cards counted at close."""

    on_hand: int
    collected: int


@dataclass
class ShiftTally:
    """Everything a shift has taken, given back, waived and seen since it opened."""

    currency: str
    payments: dict[str, PaymentTaken] = field(default_factory=dict)
    pending_exit: set[str] = field(default_factory=set)
    reversals: dict[str, PaymentReversed] = field(default_factory=dict)  # by the payment they reverse
    waivers: list[FeeWaived] = field(default_factory=list)
    manual_opens: list[ManualOpened] = field(default_factory=list)
    drops: list[CashDropped] = field(default_factory=list)
    other_exits: Counter[tuple[str, str]] = field(default_factory=Counter)  # (vehicle class, outcome)
    abnormal: Counter[str] = field(default_factory=Counter)
    barrier_cycles: int = 0
    cards_issued: Counter[str] = field(default_factory=Counter)  # by place: entry, booth
    cards_collected: int = 0
    free_passes: Counter[tuple[str, str]] = field(default_factory=Counter)  # (free/special, category), by the lanes

    # ------------------------------------------------------------------------------------------ from records

    def withdraw(self, record: BoothRecord) -> None:
        """Forget a record that was applied but never reached the journal."""
        self.payments.pop(record.id, None)
        self.pending_exit.discard(record.id)
        if isinstance(record, FeeWaived) and record in self.waivers:
            self.waivers.remove(record)
        elif isinstance(record, ManualOpened) and record in self.manual_opens:
            self.manual_opens.remove(record)

    def apply(self, record: BoothRecord) -> None:
        if isinstance(record, PaymentTaken):
            self.payments[record.id] = record
            self.pending_exit.add(record.id)
        elif isinstance(record, PaymentReversed):
            self.reversals[record.reverses] = record
            self.pending_exit.discard(record.reverses)
        elif isinstance(record, FeeWaived):
            self.waivers.append(record)
        elif isinstance(record, ManualOpened):
            self.manual_opens.append(record)
        elif isinstance(record, CashDropped):
            self.drops.append(record)
        elif isinstance(record, CardIssuedAtBooth):
            self.cards_issued["booth"] += 1

    # -------------------------------------------------------------------------------------- from the lanes

    def observe_exit(self, vehicle_class: str, outcome: str) -> None:
        self.other_exits[(vehicle_class, outcome)] += 1

    def observe_free_pass(self, list_kind: str, category: str) -> None:
        self.free_passes[(list_kind, category)] += 1

    def observe_barrier_cycle(self) -> None:
        self.barrier_cycles += 1

    def observe_abnormal(self, kind: str) -> None:
        self.abnormal[kind] += 1

    def observe_card_issued(self, place: CardPlace, count: int = 1) -> None:
        self.cards_issued[place] += count

    def observe_card_collected(self, count: int = 1) -> None:
        self.cards_collected += count

    # ----------------------------------------------------------------------------------------------- totals

    def live_payments(self) -> list[PaymentTaken]:
        return [p for p in self.payments.values() if p.id not in self.reversals]

    def cash_tendered(self) -> int:
        return sum(p.tendered for p in self.payments.values() if p.method == "cash")

    def change_given(self) -> int:
        return sum(p.change for p in self.payments.values() if p.method == "cash")

    def cash_refunded(self) -> int:
        return sum(r.refunded_cash for r in self.reversals.values())

    def dropped(self) -> int:
        return sum(d.amount for d in self.drops)

    def expected_cash(self, float_amount: int) -> int:
        """Float + cash tendered - change - refunds - drops: what the drawer should hold now."""
        return float_amount + self.cash_tendered() - self.change_given() - self.cash_refunded() - self.dropped()

    def by_method(self) -> dict[str, MethodTotal]:
        totals: dict[str, MethodTotal] = {}
        for method in METHODS:
            live = [p for p in self.live_payments() if p.method == method]
            totals[method] = MethodTotal(count=len(live), amount=sum(p.amount for p in live))
        return totals

    def vehicles(self) -> Counter[tuple[str, str]]:
        seen: Counter[tuple[str, str]] = Counter(self.other_exits)
        for payment in self.live_payments():
            seen[(payment.vehicle_class, "lost_card" if payment.lost_card else "paid")] += 1
        for waiver in self.waivers:
            seen[(waiver.vehicle_class, waiver.list_kind)] += 1
        for manual in self.manual_opens:
            seen[(manual.vehicle_class, "manual_open")] += 1
        return seen

    def expected_cards(self, stock: int) -> int:
        return stock - sum(self.cards_issued.values()) + self.cards_collected

    def running_totals(self, shift: str, state: str, operator: str, opened: ShiftOpened | None) -> RunningTotals:
        methods = self.by_method()
        float_amount = opened.float_amount if opened else 0
        return RunningTotals(
            shift=shift, state=state, operator=operator, opened_at=utc_text(opened.at) if opened else None,
            currency=self.currency, float_amount=float_amount, expected_cash=self.expected_cash(float_amount),
            takings=sum(m.amount for m in methods.values()), by_method=methods, drops=self.dropped(),
            bags=[d.bag for d in self.drops], vehicles_total=sum(self.vehicles().values()),
            waivers=len(self.waivers), manual_opens=len(self.manual_opens),
            abnormal_events=sum(self.abnormal.values()), barrier_cycles=self.barrier_cycles,
            pending_exit=sorted(self.pending_exit),
        )  # fmt: skip

    # ----------------------------------------------------------------------------------------------- report

    def report(
        self,
        opened: ShiftOpened,
        *,
        closed_by: str,
        closed_at: str,
        cash: CashCount,
        cards: CardCount,
        handover_note: str,
        revision: int,
        float_left: int,
    ) -> ShiftReport:
        """The closing figures, with the differences between what was counted and what was expected."""
        expected = self.expected_cash(opened.float_amount)
        vehicles: dict[str, dict[str, int]] = {}
        for (vehicle_class, outcome), count in sorted(self.vehicles().items()):
            vehicles.setdefault(vehicle_class, {})[outcome] = count
        waivers: dict[str, dict[str, int]] = {}
        for waiver in self.waivers:
            by_category = waivers.setdefault(waiver.list_kind, {})
            by_category[waiver.category] = by_category.get(waiver.category, 0) + 1
        free_passes: dict[str, dict[str, int]] = {}
        for (list_kind, category), count in sorted(self.free_passes.items()):
            free_passes.setdefault(list_kind, {})[category] = count
        methods = self.by_method()
        expected_cards = self.expected_cards(opened.cards_stock)
        transactions = sum(self.vehicles().values())
        return ShiftReport(
            shift=opened.shift, car_park=opened.car_park, booth=opened.booth, currency=self.currency,
            operator=opened.operator, closed_by=closed_by, opened_at=utc_text(opened.at), closed_at=closed_at,
            revision=revision, vehicles=vehicles, vehicles_total=transactions, by_method=methods,
            takings=sum(m.amount for m in methods.values()),
            reversals=len(self.reversals), reversed_amount=sum(r.amount for r in self.reversals.values()),
            waivers=waivers, waived_amount=sum(w.waived for w in self.waivers), free_passes=free_passes,
            manual_opens=[
                ManualOpenLine(at=utc_text(m.at), operator=m.operator, lane=m.lane, reason=m.reason, plate=m.plate)
                for m in self.manual_opens
            ],
            abnormal_events=sum(self.abnormal.values()), abnormal_by_kind=dict(sorted(self.abnormal.items())),
            barrier_cycles=self.barrier_cycles, transactions=transactions,
            unexplained_cycles=self.barrier_cycles - transactions,
            cash=CashFigures(
                float_amount=opened.float_amount, tendered=self.cash_tendered(), change=self.change_given(),
                refunded=self.cash_refunded(),
                taken=self.cash_tendered() - self.change_given() - self.cash_refunded(),
                drops=self.dropped(),
                drop_bags=[DropLine(bag=d.bag, amount=d.amount, at=utc_text(d.at), operator=d.operator)
                           for d in self.drops],
                expected=expected, counted=cash, counted_amount=cash.total, difference=cash.total - expected,
                float_left=float_left, handed_in=self.dropped() + cash.total - float_left,
            ),
            cards=CardFigures(
                stock=opened.cards_stock, issued_at_entry=self.cards_issued["entry"],
                issued_at_booth=self.cards_issued["booth"], issued=sum(self.cards_issued.values()),
                collected=self.cards_collected, expected_on_hand=expected_cards, counted_on_hand=cards.on_hand,
                difference=cards.on_hand - expected_cards, collected_counted=cards.collected,
                collected_difference=cards.collected - self.cards_collected,
            ),
            handover_note=handover_note,
        )  # fmt: skip
