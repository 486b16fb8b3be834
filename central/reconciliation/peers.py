"""Collectors against their peers: per 100 exits, each collector's rates of lost cards, manual opens, waivers,
reversals and unpaid exits over a period, flagged when far above the car park's median for the same period."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import median
from typing import Any

from central.reconciliation.checks import ShiftResult
from central.reconciliation.findings import Finding, ReconcileSettings

RATES = ("lost_card", "manual_open", "waiver", "reversal", "unpaid")


@dataclass(frozen=True, slots=True)
class CollectorRates:
    collector: str
    shifts: tuple[str, ...]
    exits: int
    rates: dict[str, float]  # per 100 exits
    flagged: dict[str, float]  # rate -> the car park's median it stands out from

    def as_json(self) -> dict[str, Any]:
        return {"collector": self.collector, "shifts": list(self.shifts), "exits": self.exits, "rates": self.rates,
                "flagged": self.flagged}  # fmt: skip


def collector_rates(results: Sequence[ShiftResult], settings: ReconcileSettings) -> list[CollectorRates]:
    """Each collector's rates over ``results`` (the shifts of one car park and period), outliers flagged."""
    totals: dict[str, Counter[str]] = defaultdict(Counter)
    shifts: dict[str, list[str]] = defaultdict(list)
    for result in results:
        totals[result.collector] += result.counts
        shifts[result.collector].append(result.shift)
    rates = {
        name: {rate: round(100 * counts[rate] / counts["exits"], 2) if counts["exits"] else 0.0 for rate in RATES}
        for name, counts in totals.items()
    }
    sampled = [name for name, counts in totals.items() if counts["exits"] >= settings.peer_min_exits]
    medians = {rate: median(rates[n][rate] for n in sampled) for rate in RATES} if sampled else {}
    out = []
    for name in sorted(totals):
        flagged: dict[str, float] = {}
        if name in sampled and len(sampled) >= settings.peer_min_collectors:
            for rate in RATES:
                mid = medians[rate]
                value = rates[name][rate]
                if value > mid * settings.peer_factor and value - mid >= settings.peer_min_gap:
                    flagged[rate] = mid
        out.append(CollectorRates(name, tuple(shifts[name]), totals[name]["exits"], rates[name], flagged))
    return out


def flag_outliers(results: Sequence[ShiftResult], collectors: Sequence[CollectorRates]) -> None:
    """Add a ``collector.rate_above_peers`` finding to every shift of a flagged collector."""
    by_shift = {r.shift: r for r in results}
    for line in collectors:
        for rate, mid in line.flagged.items():
            for shift in line.shifts:
                by_shift[shift].findings.append(Finding(
                    "collector.rate_above_peers",
                    f"{line.collector}: {line.rates[rate]} {rate.replace('_', ' ')}s per 100 exits, the car park's "
                    f"median is {mid}", "exception", (), {"collector": line.collector, "rate": rate,
                                                         "value": line.rates[rate], "median": mid},
                ))  # fmt: skip
