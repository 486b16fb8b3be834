"""``make bench``: every benchmark, each in its own process, then one table of its figures beside their floors or
peers measured in the same run, written to ``benchmarks/results.json`` with the date, the machine and the command.

    .venv/bin/python benchmarks/run.py [--quick] [--only NAME,...] [--json FILE] [--log FILE]

Each bench script runs standalone too (its own options, its own printout); here it is called with ``--json`` and
its printout goes to the log (``benchmarks/results.log``), so the terminal shows one line per bench and the table.
The exit status is non-zero only when a bench crashed (or wrote no figures); a goal missed is a ``MISSED`` in the
table, not a failure. ``--quick`` runs every bench at small sizes (a minute or two: what the test in ``make test``
checks the table's shape with); its figures are not the product's.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent


@dataclass(frozen=True)
class Bench:
    name: str
    script: str
    full: tuple[str, ...]
    quick: tuple[str, ...]


# The full sizes are the scripts' own defaults (the issue's: 200 car parks, 10,000,000 transactions, 1,000,000
# plates, 20 edges...); --quick's are small.
BENCHES = (
    Bench("edge", "bench_edge.py", (), ("--seconds", "4", "--lanes", "1,8,32,64", "--commits", "300")),
    Bench("edge_start", "bench_edge_start.py", (), ("--repeats", "1", "--settle", "1")),
    Bench("e2e_modbus", "bench_e2e.py", (), ("--samples", "2", "--throughput-vehicles", "3", "--commits", "30")),
    Bench("drivers_io", "bench_drivers_io.py", (), ("--samples", "20")),
    Bench("drivers_lpr", "bench_drivers_lpr.py", (), ("--n", "20")),
    Bench("fee", "bench_fee.py", (), ("--stays", "2000", "--rounds", "1")),
    Bench("plates", "bench_plates.py", (), ("--passes", "20000", "--lookups", "2000")),
    Bench("central", "bench_central.py", (),
          ("--edges", "4", "--batches", "2", "--batch-size", "100", "--passes", "2000", "--page", "1000")),
    Bench("reconcile", "bench_reconcile.py", (), ("--car-parks", "2", "--transactions", "200")),
    Bench("billing", "bench_billing.py", (), ("--holders", "500")),
    Bench("reports", "bench_reports.py", (),
          ("--transactions", "20000", "--car-parks", "2", "--records", "5000", "--ingest", "1000", "--rounds", "1")),
)  # fmt: skip


# The figures issue 17 asks `make bench` for (names as the bench scripts record them; the tariffs are the files in
# config/tariffs): a run that lacks one says so under the table, and the test of `--quick` checks them.
REQUIRED = (
    *(f"decision {stat}, {lanes} lanes" for lanes in (1, 8, 32, 64) for stat in ("p50", "p99", "max")),
    "journal commit alone p99",
    *(
        f"vehicle -> barrier command {stat}, Modbus RTU {baud} baud"
        for baud in (9600, 115200)
        for stat in ("p50", "p99")
    ),
    "lane throughput, 1 s barrier, 9600 baud",
    "lane throughput the software alone allows",
    *(f"fee quotes, {path.stem}" for path in sorted((REPO / "config" / "tariffs").glob("*.toml"))),
    "plate lookup exact p99",
    "plate lookup look-alike p99",
    "central ingest from ",
    "full sync of ",
    "delta sync of 100 changes",
    "reconciliation of a day at ",
    "report: revenue, month, every car park",
    *(f"edge {what}, {lanes} lanes" for lanes in (8, 64) for what in ("RSS", "start to /healthz")),
    "OSDP card -> barrier command p50",
    "OSDP card -> barrier command p99",
)


def missing(results: list[dict[str, Any]]) -> list[str]:
    """The :data:`REQUIRED` figures no bench recorded (a name ending in a space is a prefix)."""
    names = [f["name"] for r in results for f in r.get("figures", [])]
    return [req for req in REQUIRED if not any(n == req or (req.endswith(" ") and n.startswith(req)) for n in names)]


def machine() -> dict[str, Any]:
    """Cores, CPU model, RAM and load average of this machine (from /proc where Linux has it)."""
    model = platform.processor() or platform.machine()
    memory_kb = 0
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory_kb = int(line.split()[1])
                break
    except OSError:
        pass
    return {"cores": os.cpu_count(), "cpu": model, "ram_gb": round(memory_kb / 1024 / 1024, 1),
            "load_average": [round(x, 2) for x in os.getloadavg()], "python": platform.python_version(),
            "system": f"{platform.system()} {platform.release()}"}  # fmt: skip


def run_bench(bench: Bench, quick: bool, log: Any) -> dict[str, Any]:
    """Run one bench script in a process of its own; answers its JSON (figures) with its status and time."""
    with tempfile.NamedTemporaryFile(prefix=f"bench-{bench.name}-", suffix=".json", delete=False) as handle:
        out = Path(handle.name)
    command = [sys.executable, str(HERE / bench.script), *(bench.quick if quick else bench.full),
               "--json", str(out)]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, (str(REPO), os.environ.get("PYTHONPATH"))))}
    log.write(f"\n===== {bench.name}: {shlex.join(command)}\n")
    log.flush()
    started = time.perf_counter()
    status = subprocess.run(command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, check=False)
    seconds = time.perf_counter() - started
    result: dict[str, Any] = {"bench": bench.name, "figures": []}
    try:
        if out.stat().st_size:
            result = json.loads(out.read_text())
    except (OSError, ValueError) as err:
        log.write(f"(no figures read: {err})\n")
    finally:
        out.unlink(missing_ok=True)
    result.update(name=bench.name, exit_status=status.returncode, wall_s=round(seconds, 1),
                  crashed=status.returncode != 0 or not result.get("figures"))  # fmt: skip
    return result


def run_side_by_side(chosen: list[Bench], jobs: int, log: Any) -> list[dict[str, Any]]:
    """``--quick --jobs N``: the benches ``jobs`` at a time, each printing to a file of its own, copied into ``log``
    in the benches' order; answers their results in that order."""
    from concurrent.futures import ThreadPoolExecutor

    def one(bench: Bench) -> tuple[dict[str, Any], str]:
        with tempfile.TemporaryFile("w+") as own:
            result = run_bench(bench, True, own)
            own.seek(0)
            text = own.read()
        print(f"{bench.name}: {'CRASHED' if result['crashed'] else 'done'} in {result['wall_s']:.0f} s",
              file=sys.stderr)  # fmt: skip
        return result, text

    # The longest first, so that it runs beside all the others instead of alone at the end.
    longest_first = sorted(chosen, key=lambda bench: bench.name != "e2e_modbus")
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        by_name = dict(zip((b.name for b in longest_first), pool.map(one, longest_first), strict=True))
    done = [by_name[bench.name] for bench in chosen]
    for _result, text in done:
        log.write(text)
    return [result for result, _text in done]


def number(value: float | None, unit: str = "") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    magnitude = abs(value)
    text = f"{value:,.0f}" if magnitude >= 100 else f"{value:.1f}" if magnitude >= 10 else f"{value:.2f}"
    if 0 < magnitude < 0.01:
        text = f"{value:.4f}"
    return f"{text} {unit}".strip()


def table(results: list[dict[str, Any]]) -> str:
    """The figures of every bench: figure | value | floor or peer | ratio | goal | met."""
    rows = [("figure", "value", "floor or peer", "ratio", "goal", "met")]
    for result in results:
        if result.get("crashed"):
            rows.append((f"[{result['name']}] CRASHED (exit {result['exit_status']})", "", "", "", "", "CRASHED"))
        for f in result.get("figures", []):
            peer = f"{f['peer']} {number(f['peer_value'], f['unit'])}" if f["peer"] else ""
            ratio = f"{f['ratio']:.2f}" if f.get("ratio") is not None else ""
            met = {True: "yes", False: "MISSED", None: ""}[f["met"]]
            name = f"{f['name']} ({f['note']})" if f.get("note") else f["name"]
            rows.append((name, number(f["value"], f["unit"]), peer, ratio, f["goal"], met))
    widths = [max(len(row[i]) for row in rows) for i in range(6)]
    lines = [" | ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in rows]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="small sizes: checks the machinery, not the product")
    parser.add_argument("--only", default="", help="comma-separated bench names: " + ", ".join(b.name for b in BENCHES))
    parser.add_argument("--json", type=Path, default=HERE / "results.json", help="default %(default)s")
    parser.add_argument("--log", type=Path, default=None, help="the benches' own printout (default: beside --json)")
    parser.add_argument("--jobs", type=int, default=1,
                        help="benches at once (--quick only: benches side by side measure each other)")  # fmt: skip
    args = parser.parse_args(argv)
    if args.jobs < 1 or (args.jobs > 1 and not args.quick):
        parser.error("--jobs: a whole number >= 1, and above 1 only with --quick")
    chosen = [b for b in BENCHES if not args.only or b.name in args.only.split(",")]
    if args.only and len(chosen) != len(set(args.only.split(","))):
        parser.error(f"--only: unknown bench in {args.only!r}; known: {', '.join(b.name for b in BENCHES)}")
    log_path = args.log or args.json.with_suffix(".log")
    started_at = datetime.now(UTC)
    before = machine()
    results = []
    with log_path.open("w") as log:
        if args.jobs == 1:
            for bench in chosen:
                print(f"running {bench.name} ...", end=" ", file=sys.stderr, flush=True)
                result = run_bench(bench, args.quick, log)
                print(f"{'CRASHED' if result['crashed'] else 'done'} in {result['wall_s']:.0f} s", file=sys.stderr)
                results.append(result)
        else:
            results = run_side_by_side(chosen, args.jobs, log)
    after = machine()
    command = "benchmarks/run.py " + shlex.join(argv if argv is not None else sys.argv[1:])
    host = {key: value for key, value in before.items() if key != "load_average"}
    host |= {"load_average_before": before["load_average"], "load_average_after": after["load_average"]}
    report = {
        "date": started_at.isoformat(timespec="seconds"),
        "command": command.strip(),
        "quick": args.quick,
        "machine": host,
        "benches": results,
    }
    args.json.write_text(json.dumps(report, ensure_ascii=False, indent=1) + "\n")
    m = report["machine"]
    quick = "  (QUICK: small sizes, not the product figures)" if args.quick else ""
    print(f"{report['date']}  {command.strip()}{quick}")
    print(f"machine: {m['cores']} cores, {m['cpu']}, {m['ram_gb']} GB RAM, {m['system']}, Python {m['python']}; "
          f"load average {' '.join(map(str, m['load_average_before']))} before, "
          f"{' '.join(map(str, m['load_average_after']))} after")  # fmt: skip
    print(table(results))
    absent = missing(results) if not args.only else []
    report["missing"] = absent
    args.json.write_text(json.dumps(report, ensure_ascii=False, indent=1) + "\n")
    for name in absent:
        print(f"MISSING FIGURE: {name}")
    print(f"written: {args.json} (figures), {log_path} (each bench's own printout)")
    return 1 if any(r["crashed"] for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
