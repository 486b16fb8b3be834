"""The shift report's models, shared by the edge (which builds reports) and central (which checks them): a report
the booth makes validates, the edge's modules re-export the same classes, and a bad report gets a specific reason."""

from __future__ import annotations

import ast
import copy
from pathlib import Path
from typing import Any

from edge.booth import cash, report
from parking import shift_report
from parking.shift_report import CashCount, ShiftReport, check_shift_report

REPO = Path(__file__).resolve().parents[2]


def a_report(**changes: Any) -> dict[str, Any]:
    """A SHIFT_REPORT record's payload as the booth sends it (one cash payment, a 10.00 shortage)."""
    counted = {"currency": "CNY", "lines": [{"denomination": 10000, "count": 4}, {"denomination": 500, "count": 1}]}
    body: dict[str, Any] = {
        "shift": "0190a000-0000-7000-8000-000000000001", "car_park": "lakeview", "booth": "B1", "currency": "CNY",
        "operator": "c01", "closed_by": "c01", "opened_at": "2026-11-27T00:00:00Z",
        "closed_at": "2026-11-27T08:00:00Z", "revision": 1,
        "vehicles": {"small": {"payment": 1}}, "vehicles_total": 1,
        "by_method": {"cash": {"count": 1, "amount": 1500}}, "takings": 1500, "reversals": 0, "reversed_amount": 0,
        "waivers": {}, "waived_amount": 0, "manual_opens": [], "abnormal_events": 0, "abnormal_by_kind": {},
        "barrier_cycles": 1, "transactions": 1, "unexplained_cycles": 0,
        "cash": {
            "float_amount": 40000, "tendered": 2000, "change": 500, "refunded": 0, "taken": 1500, "drops": 0,
            "drop_bags": [], "expected": 41500, "counted": counted, "counted_amount": 40500, "difference": -1000,
            "float_left": 40000, "handed_in": 500,
        },
        "cards": {
            "stock": 100, "issued_at_entry": 0, "issued_at_booth": 0, "issued": 0, "collected": 0,
            "expected_on_hand": 100, "counted_on_hand": 100, "difference": 0, "collected_counted": 0,
            "collected_difference": 0,
        },
        "handover_note": "交接: 零钱不足",
    }  # fmt: skip
    body.update(changes)
    return {"event": "report", "revision": 1, "shift": body["shift"], "booth": "B1", "report": body}


def test_a_booth_report_validates_and_reads_its_figures() -> None:
    checked, problem = check_shift_report(a_report())
    assert problem is None
    assert checked is not None
    assert checked.cash_shortage == 1000
    assert checked.cash.counted.total == 40500
    assert checked.cash.counted.describe() == "100.00×4, 5.00×1"


def test_the_edge_re_exports_the_same_models() -> None:
    assert report.ShiftReport is ShiftReport
    assert cash.CashCount is CashCount
    assert cash.count_cash({10000: 1}, "CNY").total == 10000


def test_a_report_that_does_not_validate_gets_a_specific_reason() -> None:
    broken = a_report()
    broken["report"]["takings"] = "15.00"
    del broken["report"]["cash"]["counted"]
    checked, problem = check_shift_report(broken)
    assert checked is None
    assert problem is not None
    assert "takings" in problem
    assert "cash.counted: Field required" in problem
    assert check_shift_report({"event": "report"}) == (None, "no report in the payload")
    assert check_shift_report(["not", "a", "payload"]) == (None, "no report in the payload")
    extra = copy.deepcopy(a_report())
    extra["report"]["surprise"] = 1
    assert "surprise: Extra inputs are not permitted" in str(check_shift_report(extra)[1])


def test_the_module_imports_nothing_of_ours_but_parking() -> None:
    tree = ast.parse(Path(shift_report.__file__).read_text())
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    imported |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    ours = {m.split(".")[0] for m in imported} & {"edge", "central", "drivers", "simulators", "tests"}
    assert ours == set()
