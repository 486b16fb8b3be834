"""Edge decision latency: from the last input a decision needs (the plate read) to the barrier command leaving
the edge for the driver layer, for 1, 8, 32 and 64 lanes in one process, each lane cycling a vehicle every 2 s;
beside it, the journal's own commit time on the same disk: the records the decisions commit (an entry's session and
barrier command; an exit's fee transaction, session and barrier command), one commit at a time with the pause
between decisions of the 64-lane run, in a journal of its own in the same folder opened as the daemon's (checkpoints
in a background thread every 2 s): the decision's floor. Commits back to back are printed too, not as the floor: a
disk answers a commit that follows another at once faster than one after a pause, and no lane's decision follows
another's at once.

The whole edge runs as in production (lane runners, identification, fee quotes with the tariff engine, the SQLite
journal with group commit and fsync, the metrics); only the devices are replaced by a port that timestamps the
command (wire time excluded, as the goal states). The load is clock-driven: lane ``i`` of ``n`` starts its vehicle
at ``i * 2 / n`` s into each 2 s cycle; the first cycle is a warm-up and not counted. Half the lanes are entries,
half exits (the exits let out the vehicles the entries let in a cycle earlier, so they find the session and quote
the fee).

    .venv/bin/python benchmarks/bench_edge.py [--seconds 24] [--lanes 1,8,32,64] [--commits 2000]
        [--synchronous FULL|NORMAL] [--[no-]inline] [--json FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import sys
import tempfile
import threading
import time
import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

from figures import Recorder, add_json_argument, percentile

from edge.daemon import EdgeDaemon, Submit
from edge.lanes.actions import Commit, Draft
from edge.lanes.directory import Directory
from edge.lanes.entry import EntryLane
from edge.lanes.events import BarrierPosition, BarrierReport, LaneEvent, Loop, LoopChanged, PlateSeen
from edge.lanes.exit import ExitLane
from edge.lanes.fees import TariffFees
from edge.lanes.lane import DirectoryHolder, LaneContext, LaneSettings
from edge.lanes.park import ParkState
from edge.runner import LanePort
from edge.site import SiteConfig
from edge.store.journal import Journal

REPO = Path(__file__).resolve().parents[1]
CYCLE_S = 2.0


class TimestampPort:
    """Stands in for the devices: records when each barrier command is handed over."""

    def __init__(self) -> None:
        self.opens = 0

    async def open_barrier(self) -> None:
        self.opens += 1

    async def close_barrier(self) -> None:
        pass

    async def show(self, lines: tuple[str, ...]) -> None:
        pass

    async def say(self, text: str) -> None:
        pass

    async def dispense_card(self) -> None:
        pass


def write_site(folder: Path, lanes: int) -> Path:
    shutil.copy(REPO / "config" / "tariffs" / "residential.toml", folder / "residential.toml")
    text = """
[car_park]
id = "bench"
name = "Benchmark"
timezone = "Asia/Shanghai"
currency = "CNY"
capacity = { small = 100000 }

[journal]
path = "journal.sqlite3"

[tariffs.residential]
file = "residential.toml"
"""
    for i in range(lanes):
        direction = "entry" if i % 2 == 0 or lanes == 1 else "exit"
        tariff = 'tariff = "residential"\n' if direction == "exit" else ""
        text += (
            f'\n[[lanes]]\nid = "lane-{i}"\ndirection = "{direction}"\nmode = "unattended"\n{tariff}devices = {{}}\n'
        )
    path = folder / "site.toml"
    path.write_text(text)
    return path


async def run(lanes: int, seconds: float, synchronous: str, inline: bool | None = None) -> list[float]:
    folder = Path(tempfile.mkdtemp(prefix="bench-edge-"))
    try:
        site_file = write_site(folder, lanes)
        # The model only: the lanes have no devices (the port below stands in for them).
        site = SiteConfig.model_validate(tomllib.loads(site_file.read_text()))
        submits: dict[int, Submit] = {}

        def port_factory(site: SiteConfig, index: int, submit: Submit) -> LanePort:
            submits[index] = submit
            return TimestampPort()

        daemon = EdgeDaemon(
            site, site_file, port_factory=port_factory, synchronous=synchronous, drain_timeout_s=5,
            inline_commits=inline,
        )  # fmt: skip
        latencies: list[float] = []
        warm_until = float("inf")

        class Recorder:
            def decided(self, *args: str) -> None:
                pass

            def barrier_command(self, lane: str, command: str, latency_s: float | None) -> None:
                # The first cycle warms caches, files and imports: not counted.
                if latency_s is not None and time.monotonic() >= warm_until:
                    latencies.append(latency_s)

            def alert(self, *args: object) -> None:
                pass

        await daemon.start()
        for runner in daemon.runners.values():
            runner.observer = Recorder()
        loop = asyncio.get_running_loop()
        start = loop.time() + 0.2
        warm_until = time.monotonic() + 0.2 + CYCLE_S
        cycles = int(seconds / CYCLE_S)

        async def vehicle(index: int, cycle: int) -> None:
            submit = submits[index]
            entry = lanes == 1 or index % 2 == 0
            # exit lane 2k+1 lets out the vehicle entry lane 2k let in one cycle earlier
            plate = f"粤B{(index if entry else index - 1):02d}{(cycle if entry else cycle - 1) % 1000:03d}"
            now = time.perf_counter
            submit(LoopChanged(Loop.ARMING, True), now())
            await asyncio.sleep(0.05)
            submit(PlateSeen(plate, 0.95), now())  # the last input the decision needs
            await asyncio.sleep(0.3)
            submit(BarrierReport(BarrierPosition.OPEN), now())
            submit(LoopChanged(Loop.SAFETY, True), now())
            await asyncio.sleep(0.3)
            submit(LoopChanged(Loop.ARMING, False), now())
            await asyncio.sleep(0.3)
            submit(LoopChanged(Loop.SAFETY, False), now())
            await asyncio.sleep(0.3)
            submit(BarrierReport(BarrierPosition.CLOSED), now())

        tasks: list[asyncio.Task[None]] = []
        for cycle in range(cycles):
            for index in range(lanes):
                if lanes > 1 and index % 2 == 1 and cycle == 0:
                    continue  # exits start once their entry has let a vehicle in
                at = start + cycle * CYCLE_S + index * CYCLE_S / lanes
                delay = max(0.0, at - loop.time())
                tasks.append(asyncio.ensure_future(_later(delay, vehicle(index, cycle))))
        await asyncio.gather(*tasks)
        await asyncio.sleep(0.5)
        await daemon.stop()
        return latencies
    finally:
        shutil.rmtree(folder, ignore_errors=True)


async def _later(delay: float, work: object) -> None:
    await asyncio.sleep(delay)
    await work  # type: ignore[misc]


def decision_drafts(count: int, exits: bool = True) -> list[tuple[Draft, ...]]:
    """What ``count`` decisions commit before their barrier opens, made by real lanes fed one vehicle after another:
    an entry's (the session opened, the barrier command) and, alternately with ``exits``, an exit's (the fee's
    transaction quoted by the tariff engine, the session closed, the barrier command), as the daemon's half-entry,
    half-exit lanes commit them."""
    context = LaneContext(ParkState({"small": 10**9}), DirectoryHolder(Directory("bench")))
    entry = EntryLane(LaneSettings(id="lane-0", car_park="bench", attended=False), context)
    fees = TariffFees({"residential": REPO / "config" / "tariffs" / "residential.toml"})
    exit_lane = ExitLane(LaneSettings(id="lane-1", car_park="bench", attended=False, tariff="residential"), context,
                         fees)  # fmt: skip
    now = datetime(2026, 11, 27, 1, 0, tzinfo=UTC)
    out: list[tuple[Draft, ...]] = []

    def drive(lane: EntryLane | ExitLane, plate: str) -> None:
        nonlocal now
        events: list[LaneEvent] = [LoopChanged(Loop.ARMING, True), PlateSeen(plate, 0.95),
                  BarrierReport(BarrierPosition.OPEN), LoopChanged(Loop.SAFETY, True), LoopChanged(Loop.ARMING, False),
                  LoopChanged(Loop.SAFETY, False), BarrierReport(BarrierPosition.CLOSED)]  # fmt: skip
        for event in events:
            now += timedelta(seconds=1)
            for action in lane.handle(event, now):
                if isinstance(action, Commit) and action.urgent:
                    out.append(action.drafts)

    n = 0
    while len(out) < count:
        plate = f"粤B{n % 100000:05d}"
        drive(entry, plate)
        if exits:
            drive(exit_lane, plate)  # lets out the vehicle just let in, with a fee to pay
        n += 1
    return out[:count]


def commit_times(count: int, synchronous: Literal["FULL", "NORMAL"], gap_s: float) -> list[float]:
    """Seconds of each of ``count`` :meth:`Journal.commit` calls alone, on a fresh journal in the temporary folder
    the daemon's journal uses (the same disk), opened as the daemon opens it (checkpoints left to a background
    thread, every 2 s as the daemon's): the records decisions commit (entries' and exits'), one commit every
    ``gap_s`` as decisions come (0: back to back, which a disk answers faster than a commit after a pause)."""
    groups = decision_drafts(count + 20)
    folder = Path(tempfile.mkdtemp(prefix="bench-edge-"))
    try:
        journal = Journal(folder / "journal.sqlite3", "bench", synchronous=synchronous, background_checkpoint=True)
        stop = threading.Event()

        def checkpoints() -> None:
            while not stop.wait(2.0):
                journal.checkpoint()

        checkpointer = threading.Thread(target=checkpoints, daemon=True)
        checkpointer.start()
        times = []
        for n, drafts in enumerate(groups):
            if gap_s:
                time.sleep(gap_s)
            started = time.perf_counter()
            journal.commit(drafts)
            if n >= 20:  # the first ones warm the file
                times.append(time.perf_counter() - started)
        stop.set()
        checkpointer.join()
        journal.close()
        return times
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def report(label: str, latencies: list[float]) -> tuple[float, float, float] | None:
    if not latencies:
        print(f"{label}: no decisions")
        return None
    ms = sorted(x * 1000 for x in latencies)
    p50 = statistics.median(ms)
    p99 = percentile(ms, 0.99)
    print(f"{label}: n={len(ms)} p50={p50:.2f} ms p99={p99:.2f} ms max={ms[-1]:.2f} ms")
    return p50, p99, ms[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=24.0, help="per scenario, >= 4 (default %(default)s)")
    parser.add_argument("--lanes", default="1,8,32,64", help="lane counts, comma-separated (default %(default)s)")
    parser.add_argument("--commits", type=int, default=600, help="journal commits timed alone (the floor)")
    parser.add_argument(
        "--commit-gap-ms",
        type=float,
        default=CYCLE_S * 1000 / 64,
        help="pause before each floor commit, as decisions come at 64 lanes (default %(default).1f)",
    )
    parser.add_argument(
        "--synchronous",
        choices=("FULL", "NORMAL"),
        default="FULL",
        help="journal durability: FULL survives power loss, NORMAL a process crash",
    )
    parser.add_argument(
        "--inline",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="commit on the event loop when the writer is idle (default: with NORMAL only)",
    )
    add_json_argument(parser)
    args = parser.parse_args()
    recorder = Recorder("edge decisions")
    sys.setswitchinterval(0.001)  # as `parkgate edge run` does
    inline = args.synchronous == "NORMAL" if args.inline is None else args.inline
    print(
        f"edge decision latency, journal synchronous={args.synchronous}, inline commits {'on' if inline else 'off'},"
        f" a vehicle per lane every {CYCLE_S:.0f} s"
    )
    back_to_back = [c * 1000 for c in commit_times(args.commits, args.synchronous, 0.0)]
    print(f"journal commit alone, back to back (decisions' records, synchronous={args.synchronous}): "
          f"n={len(back_to_back)} p50={statistics.median(back_to_back):.2f} ms "
          f"p99={percentile(back_to_back, 0.99):.2f} ms max={max(back_to_back):.2f} ms")  # fmt: skip
    recorder.add("journal commit back to back p50", statistics.median(back_to_back), "ms",
                 note=f"n={len(back_to_back)}, not the floor: a disk answers commits in a row faster")  # fmt: skip
    commits = [c * 1000 for c in commit_times(args.commits, args.synchronous, args.commit_gap_ms / 1000)]
    commit_p50, commit_p99 = statistics.median(commits), percentile(commits, 0.99)
    print(f"journal commit alone, one every {args.commit_gap_ms:.0f} ms (the floor: the records entries and exits "
          f"commit, synchronous={args.synchronous}): n={len(commits)} p50={commit_p50:.2f} ms "
          f"p99={commit_p99:.2f} ms max={max(commits):.2f} ms")  # fmt: skip
    note = f"n={len(commits)}, one every {args.commit_gap_ms:.0f} ms, synchronous={args.synchronous}"
    recorder.add("journal commit alone p50", commit_p50, "ms", note=note)
    recorder.add("journal commit alone p99", commit_p99, "ms", note=note + ", same disk as the daemon's")
    counts = [int(n) for n in args.lanes.split(",")]
    for lanes in counts:
        figures = report(f"{lanes:2d} lane{'s' if lanes > 1 else ' '}", asyncio.run(
            run(lanes, args.seconds, args.synchronous, args.inline)))  # fmt: skip
        if figures is None:  # a run shorter than two cycles counts none (the first warms up)
            for stat in ("p50", "p99", "max"):
                recorder.add(f"decision {stat}, {lanes} lanes", float("nan"), "ms", goal="some decisions", met=False,
                             note="no decisions")  # fmt: skip
            continue
        p50, p99, worst = figures
        note = f"{args.seconds:.0f} s, a vehicle per lane every {CYCLE_S:.0f} s"
        recorder.add(f"decision p50, {lanes} lanes", p50, "ms", note=note)
        at_goal = lanes == max(counts)
        recorder.add(
            f"decision p99, {lanes} lanes", p99, "ms", peer="journal commit p99", peer_value=commit_p99,
            goal="<= commit p99 + 1 ms" if at_goal else "", met=(p99 <= commit_p99 + 1.0) if at_goal else None,
            note=note,
        )  # fmt: skip
        recorder.add(f"decision max, {lanes} lanes", worst, "ms", peer="journal commit max", peer_value=max(commits))
    recorder.save(args.json)


if __name__ == "__main__":
    main()
