"""``make bench``'s machinery at small sizes: ``benchmarks/run.py --quick`` runs each bench script in a process of its
own and prints one table; its JSON holds the figures, each a number with its unit, with the date, the machine and
the command. Structural only: no figure is compared with its goal here (a quick run's sizes are not the product's,
and the machine is shared). `make test` runs three short benches; every bench, and every figure the issue asks for,
is `make soak`'s (the benchmarks stay out of `make test`)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))

from run import BENCHES, REQUIRED, missing  # noqa: E402

pytestmark = [pytest.mark.postgres]


def _quick_run(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    out = tmp_path / "results.json"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "run.py"), "--quick", *args, "--json", str(out)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=880, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done, json.loads(out.read_text())


def _check_report(done: subprocess.CompletedProcess[str], report: dict[str, Any], benches: list[str]) -> None:
    """The JSON's date, machine and command, a figure per row with its unit, goal and peer; the printed table."""
    assert report["quick"] is True
    assert report["command"].startswith("benchmarks/run.py --quick")
    assert report["date"][:2] == "20"
    m = report["machine"]
    assert m["cores"] >= 1
    assert m["cpu"]
    assert m["ram_gb"] > 0
    assert len(m["load_average_before"]) == 3
    assert len(m["load_average_after"]) == 3
    assert [b["name"] for b in report["benches"]] == benches
    assert not any(b["crashed"] for b in report["benches"])
    figures = [f for b in report["benches"] for f in b["figures"]]
    assert figures
    for figure in figures:
        assert isinstance(figure["value"], float), figure
        assert not math.isnan(figure["value"]), figure
        assert figure["unit"], figure
        assert figure["met"] in (True, False, None)
        if figure["goal"]:
            assert figure["met"] is not None, figure
        if figure["peer"]:
            assert figure["peer_value"] is not None, figure
            assert figure["ratio"] is not None, figure
    # the table: a header, a rule, a row per figure (MISSED or yes for those with a goal), the machine line
    lines = done.stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("figure "))
    assert [c.strip() for c in lines[header].split("|")] == ["figure", "value", "floor or peer", "ratio", "goal", "met"]
    assert set(lines[header + 1]) <= {"-", "+"}
    rows = lines[header + 2 : header + 2 + len(figures)]
    assert len(rows) == len(figures)
    for row, figure in zip(rows, figures, strict=True):
        assert row.startswith(figure["name"]), (row, figure["name"])
        assert row.rstrip().endswith(("yes", "MISSED")) == bool(figure["goal"]), row
    assert any(line.startswith("machine: ") and " cores, " in line for line in lines[:header])


def test_run_quick_of_some_benches_prints_one_table_and_writes_their_figures(tmp_path: Path) -> None:
    """`make test`'s share: three short benches side by side (one on PostgreSQL); what they do not record is what
    :func:`run.missing` names."""
    chosen = ["fee", "plates", "reconcile"]
    done, report = _quick_run(tmp_path, "--only", ",".join(chosen), "--jobs", "2")
    _check_report(done, report, chosen)
    absent = missing(report["benches"])
    assert "plate lookup look-alike p99" not in absent
    assert "reconciliation of a day at " not in absent
    assert not [name for name in absent if name.startswith("fee quotes, ")]
    assert "central ingest from " in absent
    assert "vehicle -> barrier command p99, Modbus RTU 115200 baud" in absent


@pytest.mark.soak
@pytest.mark.timeout(900)
def test_run_quick_prints_one_table_and_writes_every_figure(tmp_path: Path) -> None:
    """Every bench at small sizes (about two minutes of mostly waiting for the simulated barrier): `make soak`,
    with `make bench BENCH_ARGS=--quick` the same by hand."""
    done, report = _quick_run(tmp_path, "--jobs", "2")
    _check_report(done, report, [b.name for b in BENCHES])
    assert report["missing"] == []
    figures = [f for b in report["benches"] for f in b["figures"]]
    for required in REQUIRED:
        found = [f for f in figures if f["name"] == required or f["name"].startswith(required)]
        assert found, required
