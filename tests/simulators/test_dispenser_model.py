"""The dispenser mechanism on an explicit clock."""

from __future__ import annotations

from drivers.dispenser import StockLevel
from simulators.dispenser import DispenserModel


def kinds(model: DispenserModel, now: float) -> list[str]:
    return [n.kind for n in model.advance(now)]


def test_issue_present_take() -> None:
    model = DispenserModel(stock=12, low_threshold=10, present_time_s=0.5, take_after_s=2.0)
    assert model.issue(0.0) is None
    assert model.issue(0.1) == "BUSY"
    assert kinds(model, 0.4) == []
    assert kinds(model, 0.5) == ["PRESENTED"]
    assert kinds(model, 2.5) == ["TAKEN"]
    assert model.stock == 11


def test_stock_runs_low_then_empty() -> None:
    model = DispenserModel(stock=2, low_threshold=1, present_time_s=0.1, take_after_s=0.1)
    seen: list[tuple[str, StockLevel | None]] = []
    t = 0.0
    for _ in range(2):
        assert model.issue(t) is None
        t += 1.0
        seen += [(n.kind, n.stock) for n in model.advance(t)]
    assert ("STOCK", StockLevel.LOW) in seen
    assert ("STOCK", StockLevel.EMPTY) in seen
    assert model.issue(t) == "EMPTY"


def test_not_taken_goes_to_the_recall_bin() -> None:
    model = DispenserModel(present_time_s=0.1, take_after_s=None, recall_after_s=20.0)
    model.issue(0.0)
    assert kinds(model, 10.0) == ["PRESENTED"]
    assert kinds(model, 20.2) == ["RECALLED"]
    assert model.recall_bin == 1


def test_jam_blocks_until_reset() -> None:
    model = DispenserModel(present_time_s=0.5)
    model.issue(0.0)
    model.jam(0.2)
    assert kinds(model, 5.0) == []
    assert model.issue(5.0) == "JAM"
    model.reset(6.0)
    assert model.issue(6.0) is None
