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
from simulators.scenario_report import booth_problems, conservation_problems
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
        (lambda d: d["traffic"]["mix"].update(free=0.5), "add up to 1.450, not 1"),
        (lambda d: d["traffic"].update(special=0), "'special' = 0 registers no special vehicle"),
        (lambda d: d["traffic"].update(card_rate=-0.1), "[traffic]: 'card_rate' = -0.1 is not a share"),
        (lambda d: d["traffic"].update(lost_card_rate="often"), "'lost_card_rate' = 'often' is not"),
        (lambda d: d["booth"].update(cash_drop_hours=0.1), "[booth]: 'cash_drop_hours' = 0.1 must be 0"),
        (lambda d: d["booth"].update(drops=2), "[booth]: unknown drops (known: cash_drop_hours)"),
        (lambda d: d["faults"][0].update(loop="exit"), "[[faults]] #1: 'loop' = 'exit' is not one of arming, safety"),
        (lambda d: d["faults"][1].update(lane="out-9"), "[[faults]] #2: 'lane' = 'out-9' is not a lane"),
        (lambda d: d["faults"][1].pop("lane"), "[[faults]] #2: 'lane' is missing"),
        (lambda d: d["faults"][0].update(minutes=0), "[[faults]] #1: 'minutes' = 0 must be above 0"),
        (lambda d: d["faults"][0].update(kind="power_cut"), "'kind' = 'power_cut' is not one of central_offline"),
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


def test_cards_lost_cards_and_special_vehicles_follow_the_file() -> None:
    data = shipped("residential-hour.toml")
    data["traffic"].update(arrivals_per_hour=[400], card_rate=0.5, lost_card_rate=0.25)
    scenario = parse_scenario(data, "x.toml")
    assert (scenario.special, scenario.cash_drop_hours) == (1, 0.4)
    assert [(f.kind, f.lane, f.loop) for f in scenario.faults] == [("loop_stuck", "in-2", "arming"),
                                                                   ("camera_offline", "out-1", "")]  # fmt: skip
    passes = plate_pool("P", 300)
    cards = {plate: str(70_000_000 + n) for n, plate in enumerate(passes[:150])}  # half the passes carry a card
    visits = plan_day(scenario, LANES, passes, ("粤B1234警",), plate_pool("X", 3), ("粤BT0001",), cards)
    with_card = [v for v in visits if v.kind is VehicleKind.PASS and v.plate in cards]
    assert 0.35 < sum(bool(v.card) for v in with_card) / len(with_card) < 0.65
    assert all(v.card == cards[v.plate] for v in visits if v.card)
    assert not any(v.card for v in visits if v.kind is not VehicleKind.PASS or v.plate not in cards)
    temporary = [v for v in visits if v.kind is VehicleKind.VISITOR and not v.plate.startswith("粤BX")]
    assert 0.15 < sum(v.lost_card for v in temporary) / len(temporary) < 0.35
    assert not any(v.lost_card for v in visits if v.kind is not VehicleKind.VISITOR)
    special = [v for v in visits if v.kind is VehicleKind.SPECIAL]
    assert special
    assert {v.plate for v in special} == {"粤BT0001"}
    assert all(v.exit_lane == "out-2" for v in special)  # let through by rule: the unattended exit
    # The rates draw from their own generator: without them the rest of the day is planned as before.
    plain = parse_scenario(data | {"traffic": data["traffic"] | {"card_rate": 0, "lost_card_rate": 0}}, "x.toml")
    before = plan_day(plain, LANES, passes, ("粤B1234警",), plate_pool("X", 3), ("粤BT0001",), cards)
    assert [(v.plate, v.arrive_s) for v in before] == [(v.plate, v.arrive_s) for v in visits]


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


def test_the_run_fails_when_a_bag_goes_missing_or_an_honest_collector_is_flagged_for_lost_cards() -> None:
    drops = [{"bag": "demo-20260302-01", "collector": "c01", "amount": 12000}]
    edge = {"cash_drops": [("demo-20260302-01", 12000)]}
    rates = [{"collector": "c01", "flagged": {}}, {"collector": "c02", "flagged": {"lost_card": 3.0}}]
    assert booth_problems(drops, edge, rates, {"c01"}) == []  # c02 is the dishonest one
    assert booth_problems(drops, edge, rates, {"c01", "c02"}) == [
        "reconciliation flags honest collector(s) c02 for lost cards"
    ]
    assert booth_problems(drops, {"cash_drops": []}, rates[:1], {"c01"}) == [
        "cash drops: the booth sealed [('demo-20260302-01', 12000)], the shift reports list []"
    ]


def test_the_command_refuses_a_wrong_file_naming_it(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text((SCENARIOS / "residential-hour.toml").read_text(encoding="utf-8").replace("hours = 1", "hours = 2"))
    done = subprocess.run([sys.executable, "-m", "parking", "sim", "scenario", str(bad)], capture_output=True,
                          text=True, timeout=60, check=False)  # fmt: skip
    assert done.returncode == 2
    assert f"{bad} [traffic]: 'arrivals_per_hour' needs 2 counts" in done.stdout
