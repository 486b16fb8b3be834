"""The one summary table `make soak` ends with (issue 18): every fault, fuzz and whole-system run adds a row.

A test calls :func:`record` with what it injected and what it found; the rows go, one JSON object a line, to this
run's own ``test-output/soak/rows-<run>.jsonl`` (so pytest-xdist workers can all write, and runs at the same time do
not mix or remove each other's rows), and ``pytest_terminal_summary`` in ``tests/conftest.py`` prints them as one
table at the end of the run and writes ``test-output/soak/summary.json``.
The short versions in `make test` record too; the table is printed whenever rows were recorded in the run.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

SUMMARY_DIR = Path(__file__).resolve().parent.parent / "test-output" / "soak"
RUN_ENV = "PARKGATE_SOAK_RUN"  # set by the controlling pytest process: rows of other runs are not mixed in


@dataclass(frozen=True, slots=True)
class Row:
    target: str  # what ran: "kill -9 of the edge during traffic", "fuzz: Modbus RTU decoder", ...
    faults: int = 0  # faults injected (kills, restarts, unplugs, clock steps, ...)
    transactions: int = 0  # vehicles / records / payments that went through
    inputs: int = 0  # fuzz inputs tried
    lost: int = 0  # records that should have reached the end and did not
    duplicated: int = 0  # records held more than once
    crashes: int = 0  # unhandled exceptions / 5xx / decoder crashes
    conserved: bool | None = None  # money conservation (None: the run takes no money)
    detail: str = ""


def rows_file(run: str) -> Path:
    return SUMMARY_DIR / f"rows-{run or 'adhoc'}.jsonl"


def record(row: Row) -> None:
    """Add a row to this run's summary (safe from several processes: one short append each)."""
    run = os.environ.get(RUN_ENV, "")
    SUMMARY_DIR.mkdir(parents=True, exist_ok=True)
    line = json.dumps({"run": run, **asdict(row)}, ensure_ascii=False) + "\n"
    with rows_file(run).open("a", encoding="utf-8") as out:
        out.write(line)


def start_run(run: str) -> None:
    """Called once by the controlling process: name this run for the workers (they inherit the environment)."""
    os.environ[RUN_ENV] = run


def end_run(run: str) -> None:
    """The run's rows are in its summary: their file goes."""
    rows_file(run).unlink(missing_ok=True)


def rows(run: str) -> list[dict[str, Any]]:
    path = rows_file(run)
    if not path.exists():
        return []
    found = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            item = json.loads(line)
        except json.JSONDecodeError:
            continue
        if item.get("run") == run:
            found.append(item)
    return found


COLUMNS = ("target", "faults", "transactions", "inputs", "lost", "duplicated", "crashes", "conserved")


def table(items: list[dict[str, Any]]) -> list[str]:
    """The rows as a fixed-width table, with a totals line."""

    def cell(item: dict[str, Any], column: str) -> str:
        value = item.get(column)
        if column == "conserved":
            return "n/a" if value is None else ("yes" if value else "NO")
        return f"{value:,}" if isinstance(value, int) else str(value)

    totals: dict[str, Any] = {c: sum(int(i.get(c) or 0) for i in items) for c in COLUMNS[1:-1]}
    checked = [i["conserved"] for i in items if i.get("conserved") is not None]
    totals.update(target="total", conserved=(all(checked) if checked else None))
    body = [*items, totals]
    widths = [max(len(c), *(len(cell(i, c)) for i in body)) for c in COLUMNS]
    line = " | ".join(c.ljust(w) for c, w in zip(COLUMNS, widths, strict=True))
    rule = "-+-".join("-" * w for w in widths)
    out = [line, rule]
    for item in body:
        if item is totals:
            out.append(rule)
        out.append(" | ".join(cell(item, c).ljust(w) if c == "target" else cell(item, c).rjust(w)
                              for c, w in zip(COLUMNS, widths, strict=True)))  # fmt: skip
    return out
