"""Plate lookup among 1,000,000 passes: the edge's plate index (``Directory.passes_by_plate``, a
:class:`parking.plates.PlateIndex`) holding a million distinct plates, asked for plates read exactly and for plates
read with one look-alike character (``8`` for ``B``, ``0`` for ``D``...), as a lane asks it (``lookup``, every
candidate scored). Goal: a look-alike lookup under 1 ms (p99). The index holds pass ids (the lookup does not
look into the values); its build time and the process's RSS are printed beside.

Run: ``.venv/bin/python benchmarks/bench_plates.py [--passes 1000000] [--lookups 20000] [--json FILE]``.
"""

from __future__ import annotations

import argparse
import random
import resource
import statistics
import time

from figures import Recorder, add_json_argument, percentile

from parking.plates import LOOKALIKE, PlateIndex

PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"  # no I or O on Chinese plates
SERIAL = "0123456789" + LETTERS
BACK = {v: k for k, v in LOOKALIKE.items() if k in LETTERS}  # digit -> the letter it looks like


def plates(count: int, seed: int = 3) -> list[str]:
    rng = random.Random(seed)
    seen: set[str] = set()
    while len(seen) < count:
        seen.add(rng.choice(PROVINCES) + rng.choice(LETTERS) + "".join(rng.choice(SERIAL) for _ in range(5)))
    return sorted(seen)


def misread(plate: str, rng: random.Random) -> str | None:
    """``plate`` with one serial character replaced by its look-alike (None when it has none)."""
    spots = [i for i in range(2, len(plate)) if plate[i] in LOOKALIKE or plate[i] in BACK]
    if not spots:
        return None
    i = rng.choice(spots)
    other = LOOKALIKE.get(plate[i]) or BACK[plate[i]]
    return plate[:i] + other + plate[i + 1 :]


def timed(index: PlateIndex[str], reads: list[tuple[str, str]]) -> list[float]:
    """Milliseconds of each lookup; checks the pass of the plate read is among the answers."""
    times = []
    for read, stored in reads:
        started = time.perf_counter()
        found = index.lookup(read)
        times.append((time.perf_counter() - started) * 1000)
        assert any(m.plate == stored for m in found), (read, stored)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--passes", type=int, default=1_000_000)
    parser.add_argument("--lookups", type=int, default=20_000)
    add_json_argument(parser)
    args = parser.parse_args()
    recorder = Recorder("plates")
    stored = plates(args.passes)
    started = time.perf_counter()
    index: PlateIndex[str] = PlateIndex()
    for n, plate in enumerate(stored):
        index.add(plate, f"pass-{n}")
    built = time.perf_counter() - started
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"index of {len(index):,} plates built in {built:.1f} s (peak RSS {rss_mb:,.0f} MB)")
    rng = random.Random(5)
    exact = [(p, p) for p in rng.sample(stored, min(args.lookups, len(stored)))]
    alike: list[tuple[str, str]] = []
    while len(alike) < len(exact):
        plate = rng.choice(stored)
        read = misread(plate, rng)
        if read is not None:
            alike.append((read, plate))
    timed(index, exact[:200])  # warm
    size = f"{len(index):,} plates, n={len(exact):,}"
    for label, reads in (("exact", exact), ("look-alike", alike)):
        times = timed(index, reads)
        p50, p99 = statistics.median(times), percentile(times, 0.99)
        print(f"{label:10s} lookup: p50 {p50:.4f} ms  p99 {p99:.4f} ms  max {max(times):.4f} ms  ({size})")
        goal = label == "look-alike"
        recorder.add(f"plate lookup {label} p50", p50, "ms", note=size)
        recorder.add(f"plate lookup {label} p99", p99, "ms", goal="< 1 ms" if goal else "",
                     met=p99 < 1.0 if goal else None, note=size)  # fmt: skip
    recorder.add("plate index build", built, "s", note=f"{len(index):,} plates, peak RSS {rss_mb:,.0f} MB")
    recorder.save(args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
