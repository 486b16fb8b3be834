"""The soak summary table: rows from any worker are printed once, with totals."""

from __future__ import annotations

import uuid

import pytest

from tests import soak_summary


def test_rows_make_one_table_with_totals() -> None:
    items = [
        {"target": "kill -9", "faults": 3, "transactions": 120, "lost": 0, "duplicated": 0, "conserved": True},
        {"target": "fuzz: modbus", "inputs": 1000, "crashes": 0, "conserved": None},
    ]
    lines = soak_summary.table(items)
    assert lines[0].split(" | ")[0].strip() == "target"
    total = lines[-1].split("|")
    assert total[0].strip() == "total"
    assert [c.strip() for c in total[1:]] == ["3", "120", "1,000", "0", "0", "0", "yes"]
    assert "NO" in soak_summary.table([{"target": "x", "conserved": False}])[-1]


def test_a_recorded_row_belongs_to_its_run(monkeypatch: pytest.MonkeyPatch) -> None:
    run = f"self-test-{uuid.uuid4().hex}"  # not this run's table
    monkeypatch.setenv(soak_summary.RUN_ENV, run)
    soak_summary.record(soak_summary.Row("summary self-test", faults=1, detail="from a worker"))
    assert any(r["target"] == "summary self-test" for r in soak_summary.rows(run))
    assert not soak_summary.rows("another run")
    soak_summary.end_run(run)
    assert not soak_summary.rows(run)
