"""``parkgate fee quote``: the published examples, the readable breakdown, and clear errors (exit 1, no traceback)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from parking.cli import main

TARIFFS = Path(__file__).resolve().parents[2] / "config" / "tariffs"
RESIDENTIAL = str(TARIFFS / "residential.toml")
DAYNIGHT = str(TARIFFS / "daynight.toml")

# The examples published in the issue: (tariff, class, entry, exit, fen). Times are local (Asia/Shanghai).
PUBLISHED = [
    (RESIDENTIAL, "small", "2026-03-02T08:00", "2026-03-02T08:25", 0),
    (RESIDENTIAL, "small", "2026-03-02T08:00", "2026-03-02T08:31", 500),
    (RESIDENTIAL, "small", "2026-03-02T08:00", "2026-03-02T09:01", 700),
    (RESIDENTIAL, "small", "2026-03-02T08:00", "2026-03-02T11:10", 1100),
    (RESIDENTIAL, "small", "2026-03-02T08:00", "2026-03-03T08:20", 3500),
    (RESIDENTIAL, "large", "2026-03-02T08:00", "2026-03-02T11:10", 2200),
    (DAYNIGHT, "small", "2026-03-02T10:00", "2026-03-02T12:30", 1200),
    (DAYNIGHT, "small", "2026-03-02T18:30", "2026-03-02T20:00", 600),
    (DAYNIGHT, "small", "2026-03-02T18:00", "2026-03-03T08:00", 1400),
    (DAYNIGHT, "small", "2026-03-02T06:50", "2026-03-02T07:20", 600),
]


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["fee", "quote", *args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    ("tariff", "vehicle_class", "entry", "exit", "expected"),
    PUBLISHED,
    ids=[f"{Path(p[0]).stem}-{p[1]}-{p[2][11:]}-{p[3][11:]}" for p in PUBLISHED],
)
def test_published_example(
    tariff: str, vehicle_class: str, entry: str, exit: str, expected: int, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["--tariff", tariff, "--entry", entry, "--exit", exit, "--class", vehicle_class, "--json"]
    code, out, err = run(args, capsys)
    assert (code, err) == (0, "")
    data = json.loads(out)
    assert data["total"] == expected
    assert data["currency"] == "CNY"
    assert isinstance(data["lines"], list)
    assert data["lines"]
    assert sum(line["amount"] for line in data["lines"]) == expected


def test_a_published_example_through_a_subprocess() -> None:
    tariff, vehicle_class, entry, exit, expected = PUBLISHED[4]
    command = ["fee", "quote", "--tariff", tariff, "--entry", entry, "--exit", exit, "--class", vehicle_class]
    result = subprocess.run(
        [sys.executable, "-m", "parking", *command, "--json"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["total"] == expected


def test_readable_breakdown(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["--tariff", DAYNIGHT, "--entry", "2026-03-02T18:00", "--exit", "2026-03-03T08:00"], capsys)
    assert code == 0
    assert "2026-03-02 19:00+08:00 -> 2026-03-03 07:00+08:00  band night, cycle 1: 6 x 120 min x 2.00 = 12.00" in out
    assert ", capped at 6.00" in out
    assert out.rstrip().endswith("Total due: 14.00 CNY")


def test_offsets_are_honoured_and_naive_times_are_local(capsys: pytest.CaptureFixture[str]) -> None:
    # 00:00Z is 08:00 in Shanghai
    args = ["--tariff", RESIDENTIAL, "--entry", "2026-03-02T00:00Z", "--exit", "2026-03-02T11:10", "--json"]
    code, out, _ = run(args, capsys)
    assert (code, json.loads(out)["total"]) == (0, 1100)


def test_lost_card_paid_and_coupons(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        ["--tariff", RESIDENTIAL, "--entry", "unknown", "--exit", "2026-03-02T11:10", "--lost-card", "--json"], capsys
    )
    assert (code, json.loads(out)["total"], json.loads(out)["flags"]) == (0, 5000, ["lost_card", "entry_unknown"])
    base = ["--tariff", RESIDENTIAL, "--entry", "2026-03-02T08:00", "--exit", "2026-03-02T12:20", "--json"]
    code, out, _ = run([*base, "--paid", "11.00", "--paid-at", "2026-03-02T11:10"], capsys)
    assert json.loads(out)["total"] == 200
    code, out, _ = run([*base, "--coupon", "1h", "--coupon", "1.00"], capsys)
    assert json.loads(out)["total"] == 1300 - 200 - 100


ERRORS = [
    (["--entry", "2026-03-02T08:00", "--exit", "2026-03-02T07:00"], "exit 2026-03-02T07:00:00+08:00 is before entry"),
    (["--entry", "yesterday", "--exit", "2026-03-02T07:00"], "--entry 'yesterday' is not an ISO 8601 time"),
    (["--entry", "unknown", "--exit", "2026-03-02T07:00"], "--entry unknown is only allowed with --lost-card"),
    (["--entry", "2026-03-02T08:00", "--exit", "2026-03-02T09:00", "--class", "bus"], "no vehicle class 'bus'"),
    (["--entry", "2026-03-02T08:00", "--exit", "2026-03-02T09:00", "--paid", "1.00"], "--paid and --paid-at go"),
    (
        [
            "--entry",
            "2026-03-02T08:00",
            "--exit",
            "2026-03-02T09:00",
            "--paid",
            "1.005",
            "--paid-at",
            "2026-03-02T09:00",
        ],
        "--paid: amount '1.005' has more decimals",
    ),
    (["--entry", "2026-03-02T08:00", "--exit", "2026-03-02T09:00", "--coupon", "lots"], "coupon 'lots'"),
]


@pytest.mark.parametrize(("args", "message"), ERRORS, ids=[e[1][:30] for e in ERRORS])
def test_bad_arguments(args: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["--tariff", RESIDENTIAL, *args], capsys)
    assert code == 1
    assert out == ""
    assert err.startswith("parkgate: error: ")
    assert message in err


def test_bad_tariff_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text(Path(RESIDENTIAL).read_text().replace('cap = "30.00"', 'cap = "-30.00"'))
    code, _, err = run(["--tariff", str(broken), "--entry", "2026-03-02T08:00", "--exit", "2026-03-02T09:00"], capsys)
    assert code == 1
    assert "1 error in the tariff" in err
    assert "cycle.cap: negative amount '-30.00'" in err
    code, _, err = run(["--tariff", str(tmp_path / "none.toml"), "--entry", "x", "--exit", "y"], capsys)
    assert (code, "cannot read the tariff file" in err) == (1, True)


BEFORE_ENTRY = ["--entry", "2026-03-02T08:00", "--exit", "2026-03-01T08:00"]


def test_no_traceback_from_the_command_line() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "parking", "fee", "quote", "--tariff", RESIDENTIAL, *BEFORE_ENTRY],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "is before entry" in result.stderr
