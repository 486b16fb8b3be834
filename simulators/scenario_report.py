"""What a scenario run's report checks and counts: money conserved, records delivered once, what the edge's journal
holds (vehicles by class, abnormal events, card reads, lost-card fees, cash drops, fault reports), and the booth's
own account of its cash drops against the shift reports."""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from pathlib import Path
from typing import Any


def conservation_problems(money: dict[str, int], shifts: tuple[int, int], edge_records: int, central_records: int,
                          duplicated: int, missing: int) -> list[str]:  # fmt: skip
    """What breaks the run's checks: the money's four figures differ, reconciliation misses a shift (``shifts``: closed
    at the edge, reconciled), or a journal record did not reach central exactly once."""
    problems = []
    if len(set(money.values())) != 1:
        problems.append(f"money is not conserved: {money}")
    if shifts[0] != shifts[1]:
        problems.append(f"reconciliation shows {shifts[1]} of the {shifts[0]} shifts")
    if central_records != edge_records or duplicated or missing:
        problems.append(f"records: edge {edge_records}, central {central_records} ({duplicated} duplicated, "
                        f"{missing} missing)")  # fmt: skip
    return problems


def named_collectors(shifts: list[dict[str, Any]], collectors: list[dict[str, Any]]) -> set[str]:
    """The collectors reconciliation names: of a shift with an exception, or with a rate flagged among peers."""
    named = {str(s["collector"]) for s in shifts if any(f["severity"] == "exception" for f in s["findings"])}
    return named | {str(c["collector"]) for c in collectors if c["flagged"]}


def booth_problems(drops: list[dict[str, Any]], edge: dict[str, Any], collectors: list[dict[str, Any]],
                   honest: set[str]) -> list[str]:  # fmt: skip
    """The bags the collectors dropped are the bags the shift reports list, for the same amount; and no honest
    collector is flagged for lost cards (a card truly lost, charged by the tariff, is not the dishonest pattern)."""
    problems = []
    dropped = sorted((str(d["bag"]), int(d["amount"])) for d in drops)
    if dropped != edge["cash_drops"]:
        problems.append(f"cash drops: the booth sealed {dropped}, the shift reports list {edge['cash_drops']}")
    wrongly = sorted(
        str(c["collector"]) for c in collectors if "lost_card" in c["flagged"] and c["collector"] in honest
    )
    if wrongly:
        problems.append(f"reconciliation flags honest collector(s) {', '.join(wrongly)} for lost cards")
    return problems


def edge_figures(journal_path: Path) -> dict[str, Any]:
    """What the edge's journal holds: sessions by kind in and out, records, abnormal events by lane, entries made
    with an access card, lost-card fees quoted by a collector, the shift reports' cash drops, fault reports."""
    journal = sqlite3.connect(journal_path)
    try:
        rows = journal.execute("SELECT kind, status, count(*) FROM sessions GROUP BY kind, status").fetchall()
        records = int(journal.execute("SELECT count(*) FROM records").fetchone()[0])
        abnormal = journal.execute("SELECT lane, json_extract(payload, '$.event') FROM records "
                                   "WHERE kind = 'abnormal_event'").fetchall()  # fmt: skip
        by_card = int(journal.execute("SELECT count(*) FROM sessions WHERE card IS NOT NULL").fetchone()[0])
        actions = Counter(str(a) for (a,) in journal.execute(
            "SELECT json_extract(payload, '$.action') FROM records WHERE kind = 'manual_action'"))  # fmt: skip
        reports = [json.loads(p) for (p,) in journal.execute("SELECT payload FROM records WHERE kind = 'shift_report'")]
    finally:
        journal.close()
    vehicles: dict[str, dict[str, int]] = {}
    for kind, status, count in rows:
        by_kind = vehicles.setdefault(str(kind), {"in": 0, "out": 0})
        by_kind["in"] += int(count)
        by_kind["out"] += int(count) if status == "closed" else 0
    latest: dict[str, dict[str, Any]] = {}
    for report in reports:  # a reopened shift reports again: its latest revision counts
        body = report.get("report") or {}
        shift = str(body.get("shift"))
        if int(body.get("revision") or 0) >= int(latest.get(shift, {}).get("revision") or 0):
            latest[shift] = body
    bags = sorted((str(b["bag"]), int(b["amount"])) for r in latest.values() for b in r["cash"].get("drop_bags", []))
    events = Counter(f"{lane}: {event}" for lane, event in abnormal)
    return {"vehicles": vehicles, "records": records, "abnormal": dict(sorted(events.items())),
            "entries_by_card": by_card, "lost_card_actions": actions.get("lost_card", 0), "cash_drops": bags,
            "fault_reports": actions.get("fault_report", 0),
            "manual_actions": dict(sorted(actions.items()))}  # fmt: skip
