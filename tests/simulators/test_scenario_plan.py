"""Scenario files: the shipped ones load, a wrong one is refused naming the key, and the plan follows the file."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from simulators.scenario_plan import Lanes, ScenarioError, load_scenario, parse_scenario, plan_day, plate_pool
from simulators.scenario_report import conservation_problems
from simulators.traffic import ReadFault, VehicleKind

SCENARIOS = Path(__file__).resolve().parents[2] / "config" / "scenarios"
LANES = Lanes(entries=("in-1", "in-2"), attended_exits=("out-1",), unattended_exits=("out-2",))


def shipped(name: str) -> dict[str, Any]:
    return tomllib.loads((SCENARIOS / name).read_text(encoding="utf-8"))


@pytest.mark.parametrize("path", sorted(SCENARIOS.glob("*.toml")), ids=lambda p: p.stem)
def test_every_shipped_scenario_loads_and_runs_a_day_within_ten_minutes(path: Path) -> None:
    scenario = load_scenario(path)
    assert scenario.hours * 3600 / scenario.speed < 480  # the traffic's wall time, start-up and shutdown beside it
    assert len(scenario.shifts) >= 2  # a handover


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda d: d["traffic"].update(arrivals_per_hour=[3, 4]),
            "whole numbers from 0; it has 2",
        ),
        (lambda d: d["traffic"]["mix"].update(passes=0.1), "unknown passes"),
        (lambda d: d["traffic"]["mix"].update(free=0.5), "add up to 1.400, not 1"),
        (lambda d: d["scenario"].update(start="2026-03-02T07:00:00"), "has no UTC offset"),
        (lambda d: d["shifts"][1].update(at="06:30"), "#2: 06:30 is not within the scenario (07:00"),
        (lambda d: d["shifts"].append(d["shifts"][1] | {"at": "07:20"}), "#3: the handover at 07:20 is not after"),
        (lambda d: d["shifts"][0].update(pin="12"), "#1: 'pin' must be 4 to 8 digits"),
        (lambda d: d["traffic"].update(misread_rate=1.5), "'misread_rate' = 1.5 is not a share"),
        (lambda d: d["scenario"].pop("hours"), "'hours' is missing"),
    ],
)
def test_a_wrong_file_is_refused_naming_the_key(change: Any, message: str) -> None:
    data = shipped("residential-hour.toml")
    change(data)
    with pytest.raises(ScenarioError, match=re.escape(message)):
        parse_scenario(data, "x.toml")


def test_the_plan_follows_the_file_and_its_seed() -> None:
    data = shipped("residential-hour.toml")
    data["traffic"].update(arrivals_per_hour=[400], misread_rate=0.2, no_read_rate=0.1)
    scenario = parse_scenario(data, "x.toml")
    passes, blacklist = plate_pool("P", 300), plate_pool("X", 300)
    visits = plan_day(scenario, LANES, passes, ("粤B1234警",), blacklist)
    assert visits == plan_day(scenario, LANES, passes, ("粤B1234警",), blacklist)
    assert len(visits) == 400
    assert all(0 <= v.arrive_s < 3600 / scenario.speed for v in visits)
    kinds = Counter("blacklisted" if v.plate in blacklist else v.kind.value for v in visits)
    assert 100 < kinds["pass"] < 180  # 35 %
    assert 20 < kinds["blacklisted"] < 65  # 10 %
    assert 0 < kinds["free"] <= 4  # one free vehicle: it is inside most of the hour
    misreads = sum(v.entry_fault is ReadFault.MISREAD for v in visits)
    assert 50 < misreads < 110
    assert all(v.exit_lane == "out-1" for v in visits if v.kind is VehicleKind.VISITOR)
    assert all(v.exit_fault is ReadFault.NONE for v in visits if v.kind is not VehicleKind.VISITOR)
    stays = sorted(v.stay_s * scenario.speed / 60 for v in visits)
    assert 11 < stays[len(stays) // 2] < 19  # median 15 minutes
    assert stays[-1] == pytest.approx(35, abs=0.01)  # the longest stays are cut at max_minutes


def test_the_run_fails_when_money_or_records_do_not_add_up() -> None:
    fine = {"paid": 2500, "edge_shifts": 2500, "central_shift_reports": 2500, "reconciled": 2500}
    assert conservation_problems(fine, (2, 2), 79, 79, 0, 0) == []
    short = fine | {"reconciled": 2000}
    assert conservation_problems(short, (2, 2), 79, 79, 0, 0) == [f"money is not conserved: {short}"]
    assert conservation_problems(fine, (2, 1), 79, 79, 0, 0) == ["reconciliation shows 1 of the 2 shifts"]
    assert conservation_problems(fine, (2, 2), 79, 78, 0, 1) == [
        "records: edge 79, central 78 (0 duplicated, 1 missing)"
    ]
    assert conservation_problems(fine, (2, 2), 79, 80, 1, 0) == [
        "records: edge 79, central 80 (1 duplicated, 0 missing)"
    ]


def test_the_command_refuses_a_wrong_file_naming_it(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text((SCENARIOS / "residential-hour.toml").read_text(encoding="utf-8").replace("hours = 1", "hours = 2"))
    done = subprocess.run([sys.executable, "-m", "parking", "sim", "scenario", str(bad)], capture_output=True,
                          text=True, timeout=60, check=False)  # fmt: skip
    assert done.returncode == 2
    assert f"{bad} [traffic]: 'arrivals_per_hour' needs 2 counts" in done.stdout
