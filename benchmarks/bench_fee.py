"""Tariff engine throughput: quotes per second on one core over a realistic mix of stays, and one 365-day stay.

Run with ``python benchmarks/bench_fee.py``. The mix: 55 % of stays under 3 hours, 25 % 3-12 hours, 12 % 12 hours
to 3 days, 8 % 3 days to 3 weeks, with entries spread over a year at any time of day. Goals: >= 50,000 quotes/s
and < 1 ms for the 365-day stay.
"""

from __future__ import annotations

import random
import statistics
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from parking.tariff import Tariff, load_tariff, quote  # noqa: E402

TARIFFS = ("residential", "daynight")
STAYS = 20_000


def realistic_stays(zone: ZoneInfo, count: int, seed: int = 7) -> list[tuple[datetime, datetime, str]]:
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
        vehicle_class = "large" if rng.random() < 0.1 else "small"
        stays.append((entry, entry + timedelta(minutes=minutes), vehicle_class))
    return stays


def quotes_per_second(tariff: Tariff, stays: list[tuple[datetime, datetime, str]], rounds: int = 5) -> float:
    """Best of ``rounds`` passes over ``stays``."""
    best = float("inf")
    for _ in range(rounds):
        began = time.process_time()
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
    """Print the figures for each shipped tariff; exit 1 when a goal is missed."""
    ok = True
    print(f"python {sys.version.split()[0]}, one process, {STAYS} stays per tariff (minutes to three weeks)")
    for name in TARIFFS:
        tariff = load_tariff(ROOT / "config" / "tariffs" / f"{name}.toml")
        zone = ZoneInfo(tariff.timezone)
        stays = realistic_stays(zone, STAYS)
        quote(tariff, *stays[0][:2])  # warm the zone's transition table
        rate = quotes_per_second(tariff, stays)
        median, worst = year_stay_ms(tariff, zone)
        ok = ok and rate >= 50_000 and median < 1.0
        print(f"{name:12s} {rate:10,.0f} quotes/s   365-day stay: {median:.3f} ms median, {worst:.3f} ms worst")
    berlin = load_tariff(ROOT / "config" / "tariffs" / "city-berlin.toml")
    zone = ZoneInfo(berlin.timezone)
    rate = quotes_per_second(berlin, realistic_stays(zone, STAYS))
    median, worst = year_stay_ms(berlin, zone)
    print(f"{'city-berlin':12s} {rate:10,.0f} quotes/s   365-day stay: {median:.3f} ms median, {worst:.3f} ms worst")
    print("goals met" if ok else "GOALS MISSED: >= 50,000 quotes/s and < 1 ms for a 365-day stay")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
