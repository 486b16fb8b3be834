"""Properties of a shift over any sequence of booth actions: the cash balances, the report adds up, the journal
restores the same shift."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge.booth.booth import Booth
from edge.booth.cash import denominations
from edge.booth.shift import ShiftError
from tests.edge.booth.test_shift import FLOAT_500, Clock

Action = tuple[str, int, int]
actions = st.lists(
    st.tuples(
        st.sampled_from(["cash", "epay", "bank_card", "reverse", "left", "drop", "waive", "manual"]),
        st.integers(min_value=0, max_value=5000).map(lambda n: n * 10),  # whole jiao: the smallest CNY coin
        st.integers(min_value=0, max_value=3).map(lambda n: (0, 500, 1000, 5000)[n]),
    ),
    max_size=30,
)


def counts_for(amount: int) -> dict[int, int]:
    """Any amount in whole jiao, counted greedily into CNY notes and coins."""
    counts: dict[int, int] = {}
    for denomination in denominations("CNY"):
        counts[denomination], amount = divmod(amount, denomination)
    assert amount == 0
    return counts


@settings(max_examples=60, deadline=None)
@given(actions)
def test_cash_balances_and_the_report_adds_up(steps: list[Action]) -> None:
    clock = Clock()
    booth = Booth("B1", "lakeview", clock=clock)
    shift = booth.begin_shift("c01")
    shift.open(operator="c01", float_counts=FLOAT_500, cards_stock=50)
    live: dict[str, int] = {}  # payment id -> amount, for payments not reversed
    kind_of: dict[str, str] = {}  # payment id -> method
    cash_live = 0
    dropped = 0
    bags = 0
    exited: set[str] = set()
    for kind, amount, extra in steps:
        clock.advance(seconds=30)
        if kind in ("cash", "epay", "bank_card"):
            payment = shift.take_payment(operator="c01", lane="X1", amount=amount, method=kind,  # type: ignore[arg-type]
                                         tendered=amount + extra if kind == "cash" else None,
                                         reference="ref" if kind != "cash" else None)  # fmt: skip
            assert payment.tendered - payment.change == amount
            live[payment.id] = amount
            kind_of[payment.id] = kind
            cash_live += amount if kind == "cash" else 0
        elif kind in ("reverse", "left") and live:
            target = sorted(live)[amount % len(live)]
            if kind == "left":
                shift.vehicle_left(target)
                exited.add(target)
                continue
            if target in exited:
                with pytest.raises(ShiftError, match=r"reversal\.vehicle_left"):
                    shift.reverse_payment(target, operator="c01", reason="too late")
                continue
            if kind_of[target] == "cash" and live[target] > shift.expected_cash():
                with pytest.raises(ShiftError, match=r"reversal\.drawer_short"):
                    shift.reverse_payment(target, operator="c01", reason="after the drop")
                continue
            reversal = shift.reverse_payment(target, operator="c01", reason="driver backs out")
            cash_live -= reversal.refunded_cash
            del live[target]
        elif kind == "drop" and 0 < amount <= shift.expected_cash():
            bags += 1
            shift.drop_cash(operator="c01", bag=f"TB-{bags:04d}", counts=counts_for(amount))
            dropped += amount
        elif kind == "waive":
            shift.waive_fee(
                operator="c01", lane="X1", list_kind="free", category="ambulance", reason="急救", due=amount
            )
        elif kind == "manual":
            shift.manual_open(operator="c01", lane="X1", reason="道闸故障")
        assert shift.expected_cash() == 50000 + cash_live - dropped
    drawer = shift.expected_cash()
    shift.close(operator="c01", cash_counts=counts_for(drawer), cards_on_hand=50, cards_collected=0,
                             handover_note="")  # fmt: skip
    report = shift.report
    assert report is not None
    assert report.cash.difference == 0
    assert report.takings == sum(live.values())
    assert sum(m.count for m in report.by_method.values()) == len(live)
    assert report.cash.taken == cash_live
    assert report.cash.handed_in == report.cash.drops + drawer - report.cash.float_left
    assert report.vehicles_total == len(live) + sum(1 for k, *_ in steps if k in ("waive", "manual"))
    again = Booth("B1", "lakeview", clock=clock)
    again.restore(r.payload() for r in shift.records)
    assert again.shifts[0].report == report
