"""A day's reconciliation as plain text for the terminal (``parkgate central reconcile``)."""

from __future__ import annotations

from central.reconciliation.loader import DayResult
from parking.money import format_amount


def day_text(day: DayResult) -> str:
    """Readable lines: the day's state, then each shift with its cash, findings and bags."""
    closed = "closed" if day.closed else "open"
    lines = [
        f"{day.car_park} {day.day.isoformat()}: {len(day.shifts)} shifts, day {closed}, {day.quotes} fees re-checked"
    ]
    for shift in day.shifts:
        cash = shift.figures["cash"]
        currency = str(cash.get("currency") or "CNY")
        lines.append(f"shift {shift.shift} booth {shift.booth} collector {shift.collector}: {shift.state}, "
                     f"{len(shift.exceptions)} exceptions")  # fmt: skip
        if "counted" in cash:
            expected, edge = format_amount(cash["expected"], currency), format_amount(cash["edge_expected"], currency)
            counted, difference = format_amount(cash["counted"], currency), format_amount(cash["difference"], currency)
            lines.append(f"  cash expected {expected} (edge {edge}), counted {counted}, difference {difference}")
        for finding in shift.findings:
            lines.append(f"  [{finding.severity}] {finding.code}: {finding.message}")
        for bag in shift.listings["bags"]:
            lines.append(f"  bag {bag['bag']}: {bag['state']}")
    for collector in day.collectors:
        flagged = ", ".join(f"{k} (median {v})" for k, v in collector.flagged.items()) or "in line with peers"
        lines.append(f"collector {collector.collector}: {collector.exits} exits, {flagged}")
    return "\n".join(lines)
