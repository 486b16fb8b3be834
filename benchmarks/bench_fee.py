"""Tariff engine throughput: quotes per second on one core over a realistic mix of stays, and one 365-day stay.

Run with ``python benchmarks/bench_fee.py [--stays 20000] [--rounds 5] [--json FILE]`` (or ``make bench``); every
tariff in ``config/tariffs`` is measured. The mix: 55 % of stays under 3 hours, 25 % 3-12
hours, 12 % 12 hours to 3 days, 8 % 3 days to 3 weeks, entries spread over 2026 at any time of day, one vehicle in
ten large. Goals for the two shipped tariffs: >= 50,000 quotes/s and < 1 ms for a 365-day stay. Times are CPU time
of this process, so a busy machine does not skew them. city-berlin (DST, holidays, calendar days) is shown too.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from figures import Recorder, add_json_argument  # noqa: E402

from parking.tariff import Tariff, load_tariff, quote  # noqa: E402

TARIFFS = ("residential", "daynight")
STAYS = 20_000


def realistic_stays(
    zone: ZoneInfo, count: int, seed: int = 7, classes: tuple[str, str] = ("small", "large")
) -> list[tuple[datetime, datetime, str]]:
    """(entry, exit, vehicle class) for ``count`` stays drawn from the mix above."""
    rng = random.Random(seed)
    start = datetime(2026, 1, 1, tzinfo=zone)
    stays = []
    for _ in range(count):
        entry = start + timedelta(seconds=rng.randrange(365 * 86_400))
        roll = rng.random()
        if roll < 0.55:
            minutes = rng.uniform(1, 180)
        elif roll < 0.80:
            minutes = rng.uniform(180, 720)
        elif roll < 0.92:
            minutes = rng.uniform(720, 3 * 1440)
        else:
            minutes = rng.uniform(3 * 1440, 21 * 1440)
        vehicle_class = classes[1] if rng.random() < 0.1 else classes[0]
        stays.append((entry, entry + timedelta(minutes=minutes), vehicle_class))
    return stays


def quotes_per_second(
    tariff: Tariff, stays: list[tuple[datetime, datetime, str]], rounds: int = 5, *, as_json: bool = False
) -> float:
    """Best of ``rounds`` passes over ``stays`` (CPU time of this process, so other load on the machine does not
    count); with ``as_json`` each quote is also turned into its JSON-ready dict, as the edge does."""
    best = float("inf")
    for _ in range(rounds):
        began = time.process_time()
        if as_json:
            for entry, exit, vehicle_class in stays:
                quote(tariff, entry, exit, vehicle_class).to_json()
        else:
            for entry, exit, vehicle_class in stays:
                quote(tariff, entry, exit, vehicle_class)
        best = min(best, time.process_time() - began)
    return len(stays) / best


def year_stay_ms(tariff: Tariff, zone: ZoneInfo, repeats: int = 200) -> tuple[float, float]:
    """Median and worst time (ms) of one quote for a 365-day stay, entries at different times of the year."""
    times = []
    rng = random.Random(11)
    for _ in range(repeats):
        entry = datetime(2026, 1, 1, tzinfo=zone) + timedelta(seconds=rng.randrange(365 * 86_400))
        exit = entry + timedelta(days=365, minutes=rng.randrange(1440))
        began = time.process_time()
        quote(tariff, entry, exit)
        times.append((time.process_time() - began) * 1000)
    return statistics.median(times), max(times)


def main() -> int:
    """Print the figures for each shipped tariff and whether the goals are met."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--stays", type=int, default=STAYS, help="stays per tariff (default %(default)s)")
    parser.add_argument("--rounds", type=int, default=5, help="passes over the stays, the best counts")
    add_json_argument(parser)
    args = parser.parse_args()
    recorder = Recorder("fee")
    ok = True
    shipped = sorted(path.stem for path in (ROOT / "config" / "tariffs").glob("*.toml"))
    print(f"python {sys.version.split()[0]}, one process, CPU time, {args.stays} stays per tariff (minutes to three "
          "weeks)")  # fmt: skip
    print(f"{'tariff':12s} {'quotes/s':>10s} {'+to_json/s':>11s}   365-day stay (200 entries through the year)")
    for name in shipped:
        tariff = load_tariff(ROOT / "config" / "tariffs" / f"{name}.toml")
        zone = ZoneInfo(tariff.timezone)
        stays = realistic_stays(zone, args.stays, classes=("small", "large"))
        quote(tariff, *stays[0][:2])  # warm the zone's transition table
        rate = quotes_per_second(tariff, stays, rounds=args.rounds)
        with_json = quotes_per_second(tariff, stays, rounds=max(1, args.rounds // 2), as_json=True)
        median, worst = year_stay_ms(tariff, zone)
        goal = name in TARIFFS
        if goal:
            ok = ok and rate >= 50_000 and median < 1.0
        print(f"{name:12s} {rate:10,.0f} {with_json:11,.0f}   {median:.3f} ms median, {worst:.3f} ms worst")
        recorder.add(f"fee quotes, {name}", rate, "/s", goal=">= 50,000/s" if goal else "",
                     met=rate >= 50_000 if goal else None, note=f"{args.stays} stays, CPU time")  # fmt: skip
        recorder.add(f"fee quote of a 365-day stay, {name}", median, "ms", goal="< 1 ms" if goal else "",
                     met=median < 1.0 if goal else None, note="median of 200")  # fmt: skip
    print("goals met" if ok else "GOALS MISSED: >= 50,000 quotes/s and < 1 ms for a 365-day stay")
    recorder.save(args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
