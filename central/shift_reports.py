"""Projecting ``shift_report`` journal records into ``shift_reports``, the typed table reconciliation queries.

Every report is checked with the shared model (:mod:`parking.shift_report`, the one the edge builds it with). One
that does not validate is never refused: the record stays in ``edge_records`` exactly as the edge sent it, and its
row here is flagged (``valid`` false, ``problem`` saying why) with only what could be read safely.
"""

from __future__ import annotations

from typing import Any

from parking.shift_report import check_shift_report

_BIGINT = 2**63 - 1


def _text(payload: Any, key: str, length: int) -> str | None:
    value = payload.get(key) if isinstance(payload, dict) else None
    return value[:length] if isinstance(value, str) else None


def shift_report_row(record: dict[str, Any]) -> dict[str, Any]:
    """The ``shift_reports`` row of one stored ``shift_report`` record (as the ingest rows are built)."""
    payload = record["payload"]
    row: dict[str, Any] = {
        "record_id": record["id"], "edge_id": record["edge_id"], "car_park": record["car_park"], "at": record["at"],
        "shift": _text(payload, "shift", 64), "booth": _text(payload, "booth", 64), "revision": None,
        "operator": _text(payload, "operator", 64), "currency": "", "takings": None, "cash_expected": None,
        "cash_counted": None, "cash_difference": None, "cards_difference": None, "unexplained_cycles": None,
        "free_passes": None, "valid": False, "problem": "",
    }  # fmt: skip
    report, problem = check_shift_report(payload)
    if report is None:
        row["problem"] = (problem or "not a shift report")[:2000]
        return row
    if report.car_park != record["car_park"]:
        row["problem"] = f"the report is for car park {report.car_park[:64]!r}, the record from {record['car_park']!r}"
        return row
    figures = {
        "takings": report.takings, "cash_expected": report.cash.expected, "cash_counted": report.cash.counted_amount,
        "cash_difference": report.cash.difference, "cards_difference": report.cards.difference,
        "unexplained_cycles": report.unexplained_cycles, "revision": report.revision,
    }  # fmt: skip
    if out_of_range := sorted(name for name, value in figures.items() if abs(value) > _BIGINT):
        row["problem"] = f"figures out of range: {', '.join(out_of_range)}"
        return row
    if report.revision > 2**31 - 1:
        row["problem"] = "revision out of range"
        return row
    row.update(figures)
    if "free_passes" in report.model_fields_set:  # older edges' reports do not count them
        row["free_passes"] = report.free_passes
    row.update(shift=report.shift[:64], booth=report.booth[:64], operator=report.closed_by[:64],
               currency=report.currency[:3], valid=True)  # fmt: skip
    return row
