"""``parkgate sim scenario`` as a user runs it: central and the edge as processes on an accelerated clock, the
simulated lanes, a scenario file's traffic and shifts. The hour runs in ``make test``; the shipped days in
``make soak``. Each run must conserve money (paid = the edge's shift takings = central's shift reports = what
reconciliation computes) and deliver every journal record to central once. The hour also plays the newer kinds
of traffic (special vehicles, access cards, a lost temporary card, cash drops) and two faults (a loop stuck on
presence, a camera gone silent)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests import soak_summary

REPO = Path(__file__).resolve().parents[2]
SCENARIOS = REPO / "config" / "scenarios"
DAYS = sorted(p for p in SCENARIOS.glob("*.toml") if p.stem != "residential-hour")


def run_scenario(path: Path, workdir: Path, timeout: float) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARKGATE_")}
    report = workdir / "report.json"
    done = subprocess.run(
        [sys.executable, "-m", "parking", "sim", "scenario", str(path), "--workdir", str(workdir / "run"),
         "--report", str(report)],
        capture_output=True, text=True, timeout=timeout, cwd=REPO, env=env, check=False,
    )  # fmt: skip
    assert report.exists(), done.stdout[-3000:] + done.stderr[-3000:]
    return done, json.loads(report.read_text(encoding="utf-8"))


def check_conserved(done: subprocess.CompletedProcess[str], report: dict[str, Any], target: str) -> None:
    records = report["records"]
    money = report["money"]
    conserved = len({money["paid"], money["edge_shifts"], money["central_shift_reports"], money["reconciled"]}) == 1
    soak_summary.record(soak_summary.Row(
        target=target, faults=len(report.get("faults", [])), transactions=int(records["central"]),
        lost=int(records["missing"]), duplicated=int(records["duplicated"]), conserved=conserved,
        detail=f"paid {money['paid']} minor units",
    ))  # fmt: skip
    assert report["problems"] == [], report["problems"]
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert money["paid"] > 0
    assert money["paid"] == money["edge_shifts"] == money["central_shift_reports"] == money["reconciled"]
    assert records["edge"] == records["central"] > 0
    assert records["duplicated"] == records["missing"] == 0
    assert [s["shift"] for s in report["reconciliation"]] == [s["shift"] for s in report["shifts"]]
    assert sum(s["edge_takings"] for s in report["shifts"]) == money["paid"]
    assert all(s["edge_takings"] == s["central_takings"] for s in report["shifts"])


@pytest.mark.slow
def test_an_hour_of_the_residential_morning(tmp_path: Path) -> None:
    started = time.monotonic()
    done, report = run_scenario(SCENARIOS / "residential-hour.toml", tmp_path, timeout=300)
    check_conserved(done, report, "scenario hour: residential-hour")
    assert [s["collector"] for s in report["shifts"]] == ["c01", "c02"]  # the 07:30 handover
    vehicles = report["vehicles"]
    assert vehicles["pass"]["in"] >= 1
    assert vehicles["temporary"]["in"] >= 3
    assert vehicles["temporary"]["out"] >= 1
    assert report["traffic"]["entered"] == sum(v["in"] for v in vehicles.values())
    assert any("blacklist" in reason for reason in report["denials"])
    # The new kinds of traffic: a special vehicle by rule, pass holders at the readers, a lost temporary card,
    # cash drops in sealed bags (the same bags in the shift reports, checked by the run: problems would say).
    traffic = report["traffic"]
    assert vehicles["special"]["in"] >= 1
    assert traffic["card_reads"] >= 1
    assert traffic["entries_by_card"] >= 1
    lost = traffic["lost_cards"]
    assert lost["charged_by_collectors"] == lost["lost_card_actions"] >= 1
    assert report["cash_drops"]["count"] >= 1
    assert report["cash_drops"]["amount"] == sum(b["amount"] for b in report["cash_drops"]["in_shift_reports"])
    # The faults on the timetable: listed, reported by the collector on duty, journaled; money and records held.
    assert [(f["kind"], f["lane"]) for f in report["faults"]] == [("loop_stuck", "in-2"), ("camera_offline", "out-1")]
    assert [(r["lane"], r["device"]) for r in report["fault_reports"]["by_collectors"]] == [
        ("in-2", "in-2-io"),
        ("out-1", "out-1-cam"),
    ]
    assert report["fault_reports"]["journaled"] == 2
    assert report["manual_actions"]["fault_report"] == 2
    print(f"one simulated hour in {time.monotonic() - started:.0f} s of wall time")


@pytest.mark.soak
@pytest.mark.timeout(700)
@pytest.mark.parametrize("path", DAYS, ids=lambda p: p.stem)
def test_a_shipped_day(tmp_path: Path, path: Path) -> None:
    """A simulated day at the scenario's own speed: the run is stopped (and fails) after 10 minutes of wall time."""
    started = time.monotonic()
    done, report = run_scenario(path, tmp_path, timeout=600)
    check_conserved(done, report, f"scenario day: {path.stem}")
    assert len(report["shifts"]) >= 2
    print(f"{path.stem}: a simulated day in {time.monotonic() - started:.0f} s of wall time")
