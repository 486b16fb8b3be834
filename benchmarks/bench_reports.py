"""Reports at operator scale on PostgreSQL: a month of transactions copied into ``edge_records`` (COPY), the
rollups built from them (``parkgate central rebuild-rollups``'s SQL), the monthly reports' time, and the overhead
the rollups add to ingest (real :func:`central.ingest.ingest_batch`, batches of 500, with and without them, the
batches of the two in turn over repeated runs; median and spread printed, with the machine's load averages).

Creates its own database ``parkgate_bench_<random>`` on the server of ``PARKGATE_TEST_PG`` (default
``postgresql://postgres@127.0.0.1:5432/test``) and drops it afterwards. Run: ``.venv/bin/python
benchmarks/bench_reports.py [--transactions 10000000] [--ingest 20000] [--rounds 9]
[--json FILE]``. The copied records are not
chained (the chain is ingest's business, measured in bench_central); the ingested ones are sealed and chained like
an edge's.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import time
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit, urlunsplit
from zoneinfo import ZoneInfo

import psycopg
from figures import Recorder, add_json_argument
from sqlalchemy import insert
from sqlalchemy.orm import Session

import central.ingest
from central.core.db import make_engine, make_session_factory
from central.core.migrate import upgrade
from central.models import CarPark, Edge
from central.reports import rollups
from central.reports.exceptions import exceptions
from central.reports.revenue import revenue
from central.reports.tables import Period
from central.reports.traffic import traffic
from parking.ids import new_id
from parking.wire import GENESIS_HASH, IngestEnvelope, JournalRecord, RecordKind, seal

ADMIN_URL = os.environ.get("PARKGATE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
ZONE = ZoneInfo("Asia/Shanghai")
MONTH_START = datetime(2026, 11, 1, tzinfo=ZONE).astimezone(UTC)
MONTH_SECONDS = 30 * 86400
LANES = [f"out-{n}" for n in range(1, 9)]
METHODS = ("cash", "epay", "epay", "epay", "bank_card")
KINDS = ("payment",) * 17 + ("pass", "waiver", "reversal")
BATCH = 500  # records per ingest batch, as the edge's outbox sends them


def copy_transactions(conninfo: str, count: int) -> float:
    """COPY ``count`` transaction records spread over November 2026 into ``edge_records``; answers the seconds."""
    started = time.perf_counter()
    received = datetime.now(UTC).isoformat()
    step = MONTH_SECONDS / count
    with psycopg.connect(conninfo) as conn, conn.cursor() as cursor:
        columns = "id, edge_id, seq, kind, car_park, lane, at, payload, prev_hash, hash, hash_ok, received_at"
        with cursor.copy(f"COPY edge_records ({columns}) FROM STDIN") as copy:
            chunk = io.StringIO()
            for n in range(count):
                at = MONTH_START + timedelta(seconds=n * step)
                lane = n % 8
                hour = int(n * step // 3600) % 24
                kind = KINDS[n % 20]
                amount = 0 if kind in ("pass", "waiver") else 500 * (1 + n % 7)
                payload = {"transaction_kind": kind, "amount": amount, "currency": "CNY", "method": METHODS[n % 5],
                           "operator": f"c{lane * 3 + hour // 8:02d}", "vehicle_class": ("small", "large")[n % 9 == 0],
                           "plate": f"粤B{n % 100000:05d}", "session": f"s-{n}"}  # fmt: skip
                if kind == "waiver":
                    payload |= {"category": ("police", "ambulance", "staff")[n % 3], "due": 1500}
                chunk.write(f"bench-{n:012d}\tbench-edge\t{n + 1}\ttransaction\tbench-00\t{LANES[lane]}\t"
                            f"{at.isoformat()}\t{json.dumps(payload, ensure_ascii=False)}\t{'0' * 64}\t{'1' * 64}\t"
                            f"t\t{received}\n")  # fmt: skip
                if n % 50_000 == 49_999:
                    copy.write(chunk.getvalue())
                    chunk = io.StringIO()
            copy.write(chunk.getvalue())
        conn.commit()
    return time.perf_counter() - started


def month_rollups(
    total: int, car_parks: int
) -> tuple[dict[tuple[Any, ...], list[int]], dict[tuple[Any, ...], list[int]]]:
    """The rollup rows of ``total`` transactions spread evenly over November 2026 at ``car_parks`` car parks of 8
    lanes each (the mix :func:`copy_transactions` writes), counted as ingest counts them. Every car park lives the
    same month, so one is counted and its rows repeated for the others."""
    daily: dict[tuple[Any, ...], list[int]] = {}
    hourly: dict[tuple[Any, ...], list[int]] = {}
    per_park = total // car_parks
    step = MONTH_SECONDS / per_park
    local_start = MONTH_START.astimezone(ZONE).replace(tzinfo=None)
    days = [(local_start + timedelta(days=d)).date() for d in range(31)]
    for k in range(per_park):
        seconds = k * step
        day, hour = days[int(seconds // 86400)], int(seconds % 86400 // 3600)
        lane = k % 8
        kind = KINDS[k % 20]
        amount = 0 if kind in ("pass", "waiver") else 500 * (1 + k % 7)
        amount = -amount if kind == "reversal" else amount
        category = ("police", "ambulance", "staff")[k % 3] if kind == "waiver" else ""
        vehicle_class = "large" if k % 9 == 0 else "small"
        key = (day, "transaction", kind, LANES[lane], METHODS[k % 5], f"c{lane * 3 + hour // 8:02d}", vehicle_class,
               category, "CNY")  # fmt: skip
        sums = daily.get(key)
        if sums is None:
            sums = daily[key] = [0, 0, 0]
        sums[0] += 1
        sums[1] += amount
        sums[2] += 1500 if kind == "waiver" else 0
        hour_key = (day, hour, "transaction", vehicle_class, "CNY")
        counts = hourly.get(hour_key)
        if counts is None:
            counts = hourly[hour_key] = [0, 0]
        counts[0] += 1
        counts[1] += amount
    parks = [f"bench-{p:02d}" for p in range(car_parks)]
    return ({(park, *key): sums for park in parks for key, sums in daily.items()},
            {(park, *key): sums for park in parks for key, sums in hourly.items()})  # fmt: skip


def copy_rollups(
    conninfo: str, daily: dict[tuple[Any, ...], list[int]], hourly: dict[tuple[Any, ...], list[int]]
) -> float:
    """Replace the rollups with these rows (COPY); answers the seconds."""
    started = time.perf_counter()
    with psycopg.connect(conninfo) as conn, conn.cursor() as cursor:
        cursor.execute("TRUNCATE report_daily, report_hourly")
        with cursor.copy("COPY report_daily (car_park, day, kind, outcome, lane, method, operator, vehicle_class, "
                         "category, currency, count, amount_minor, due_minor) FROM STDIN") as copy:  # fmt: skip
            for key, sums in daily.items():
                copy.write_row([*key, *sums])
        with cursor.copy("COPY report_hourly (car_park, day, hour, kind, vehicle_class, currency, count, amount_minor) "
                         "FROM STDIN") as copy:  # fmt: skip
            for key, sums in hourly.items():
                copy.write_row([*key, *sums])
        conn.commit()
        conn.execute("ANALYZE report_daily")
        conn.execute("ANALYZE report_hourly")
    return time.perf_counter() - started


def rebuild_rollups(sessions: Callable[[], Session]) -> tuple[float, int]:
    started = time.perf_counter()
    with sessions() as session:
        counted = rollups.rebuild(session)
        session.commit()
    return time.perf_counter() - started, counted


def time_reports(sessions: Callable[[], Session]) -> dict[str, float]:
    month = Period(date(2026, 11, 1), date(2026, 11, 30), "month")
    day = Period(date(2026, 11, 15), date(2026, 11, 15), "day")
    timings: dict[str, list[float]] = {}
    for _ in range(3):
        for name, builder, period, car_park in (
            ("revenue, month, every car park", revenue, month, ""),
            ("revenue, month, one car park", revenue, month, "bench-00"),
            ("revenue, day, every car park", revenue, day, ""),
            ("traffic, month, one car park", traffic, month, "bench-00"),
            ("exceptions, month, every car park", exceptions, month, ""),
        ):
            with sessions() as session:
                started = time.perf_counter()
                report = builder(session, car_park, period, "CNY", ZONE)
                timings.setdefault(name, []).append(time.perf_counter() - started)
                if name.startswith("revenue, month, every"):
                    taken = report.tables[0].total("taken")
                    timings.setdefault("_taken", [float(taken)])
    return {name: min(values) for name, values in timings.items()}


def journal(edge: str, count: int) -> list[JournalRecord]:
    """A lane's journal of ``count`` records: per vehicle an entry, an exit's payment and closing, four barrier
    commands (the mix a real journal has)."""
    records: list[JournalRecord] = []
    prev = GENESIS_HASH
    at = datetime(2026, 11, 20, 1, 0, tzinfo=UTC)
    vehicle = 0
    while len(records) < count:
        session = new_id()
        vehicle += 1
        payloads: list[tuple[RecordKind, dict[str, Any]]] = [
            (RecordKind.SESSION, {"event": "opened", "session": session, "session_kind": "temporary",
                                  "vehicle_class": "small", "plate": f"粤B{vehicle:05d}"}),
            (RecordKind.BARRIER_COMMAND, {"command": "open", "for_record": session}),
            (RecordKind.BARRIER_COMMAND, {"command": "close", "reason": "vehicle passed"}),
            (RecordKind.TRANSACTION, {"transaction_kind": "payment", "amount": 1500, "currency": "CNY",
                                      "method": "epay", "operator": "c01", "session": session}),
            (RecordKind.SESSION, {"event": "closed", "session": session}),
            (RecordKind.BARRIER_COMMAND, {"command": "open", "for_record": session}),
            (RecordKind.BARRIER_COMMAND, {"command": "close", "reason": "vehicle passed"}),
        ]  # fmt: skip
        for kind, payload in payloads:
            at += timedelta(seconds=5)
            record_id = session if payload.get("event") == "opened" else new_id()
            record = seal(id=record_id, seq=len(records) + 1, kind=kind, car_park="bench-00", lane="out-1", at=at,
                          payload=payload, prev_hash=prev)  # fmt: skip
            records.append(record)
            prev = record.hash
    return records[:count]


def ingest_batch(sessions: Callable[[], Session], edge: str, records: list[JournalRecord]) -> float:
    """Ingest one batch as the sync API does (its own session and commit); answers the seconds."""
    started = time.perf_counter()
    with sessions() as session:
        central.ingest.ingest_batch(
            session, edge, IngestEnvelope(edge_id=edge, records=[r.model_dump(mode="json") for r in records])
        )
        session.commit()
    return time.perf_counter() - started


def ingest(sessions: Callable[[], Session], edge: str, records: list[JournalRecord]) -> float:
    return sum(ingest_batch(sessions, edge, records[o : o + BATCH]) for o in range(0, len(records), BATCH))


def spread(values: list[float], scale: float = 1.0, unit: str = "") -> str:
    """``median (min–max, IQR q1–q3)`` of ``values`` times ``scale``."""
    scaled = sorted(v * scale for v in values)
    q1, _, q3 = statistics.quantiles(scaled, n=4, method="inclusive") if len(scaled) > 1 else (scaled[0],) * 3
    return (f"median {statistics.median(scaled):.2f}{unit} (min {scaled[0]:.2f}, max {scaled[-1]:.2f}, "
            f"IQR {q1:.2f}–{q3:.2f}, n={len(scaled)})")  # fmt: skip


def ingest_overhead(
    sessions: Callable[[], Session], edges: list[str], warm_up: str, size: int, rounds: int
) -> tuple[float, float]:
    """``rounds`` runs, each ingesting ``size`` records of two fresh edges, one counted into the rollups and one
    not, batch by batch in turn (with, without; then without, with; ...), so both meet the same load of the shared
    machine within a fraction of a second. Prints the median and spread over the runs of each one's time, of their
    ratio, and of the rollup statement's own time against the rest of its run (timed around the statement); answers
    the medians of the last two (fractions)."""
    plain = rollups.add_incoming
    spent = [0.0]

    def timed(cursor: Any, ids: Any) -> None:
        started = time.perf_counter()
        plain(cursor, ids)
        spent[0] += time.perf_counter() - started

    def skipped(cursor: Any, ids: Any) -> None:
        return None

    ingest(sessions, warm_up, journal(warm_up, 5000))  # connections, plans and caches warm
    with_rollups: list[float] = []
    without: list[float] = []
    inside: list[float] = []
    for round_ in range(rounds):
        pair = {True: edges[2 * round_], False: edges[2 * round_ + 1]}
        records = {counting: journal(edge, size) for counting, edge in pair.items()}
        took = {True: 0.0, False: 0.0}
        spent[0] = 0.0
        try:
            for n, offset in enumerate(range(0, size, BATCH)):
                for counting in (True, False) if n % 2 == 0 else (False, True):
                    rollups.add_incoming = timed if counting else skipped
                    batch = records[counting][offset : offset + BATCH]
                    took[counting] += ingest_batch(sessions, pair[counting], batch)
        finally:
            rollups.add_incoming = plain
        with_rollups.append(took[True])
        without.append(took[False])
        inside.append(spent[0] / (took[True] - spent[0]))
    ratios = [a / b - 1 for a, b in zip(with_rollups, without, strict=True)]
    print(f"ingest of {size:,} records per edge (a lane's mix, batches of {BATCH}), {rounds} runs, the batches of "
          "the edge counted into the rollups and of the one not counted in turn:")  # fmt: skip
    print(f"  with the rollups:    {spread(with_rollups, unit=' s')}; {size / statistics.median(with_rollups):,.0f}/s")
    print(f"  without the rollups: {spread(without, unit=' s')}; {size / statistics.median(without):,.0f}/s")
    print(f"  end to end, each run's with / without - 1: {spread(ratios, 100, ' %')} (goal < 20 %)")
    print(f"  the rollup statement's own time / the rest of its run: {spread(inside, 100, ' %')} (goal < 20 %)")
    return statistics.median(ratios), statistics.median(inside)


def machine_load() -> str:
    """The load averages (1, 5, 15 min) as ``uptime`` prints them."""
    one, five, fifteen = os.getloadavg()
    return f"load average: {one:.2f}, {five:.2f}, {fifteen:.2f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transactions", type=int, default=10_000_000, help="the month's transactions (rollups)")
    parser.add_argument("--car-parks", type=int, default=40, help="car parks of 8 lanes they are spread over")
    parser.add_argument("--records", type=int, default=500_000,
                        help="transaction records copied into edge_records and counted by a rebuild")  # fmt: skip
    parser.add_argument("--ingest", type=int, default=20_000, help="records per ingest run, with or without rollups")
    parser.add_argument("--rounds", type=int, default=9, help="pairs of ingest runs, with and without (interleaved)")
    add_json_argument(parser)
    args = parser.parse_args()
    recorder = Recorder("reports")
    print(f"machine at the start: {machine_load()} ({os.cpu_count()} CPUs)")

    name = f"parkgate_bench_{uuid.uuid4().hex[:8]}"
    parts = urlsplit(ADMIN_URL)
    conninfo = urlunsplit((parts.scheme, parts.netloc, f"/{name}", "", ""))
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    engine = make_engine(conninfo.replace("postgresql://", "postgresql+psycopg://", 1), pool_size=2)
    try:
        upgrade(engine)
        sessions = make_session_factory(engine)
        edges = [f"bench-ingest-{n}" for n in range(2 * args.rounds)]
        warm_up = "bench-warm-up"
        with sessions() as session:
            for park in range(args.car_parks):
                session.add(CarPark(id=f"bench-{park:02d}", name=f"Bench {park}", timezone="Asia/Shanghai"))
            session.flush()
            every = ["bench-edge", warm_up, *edges]
            session.execute(insert(Edge), [{"id": e, "car_park_id": "bench-00", "name": e} for e in every])
            session.commit()

        copied = copy_transactions(conninfo, args.records)
        print(f"COPY of {args.records:,} transaction records into edge_records: {copied:.1f} s "
              f"({args.records / copied:,.0f} records/s)")  # fmt: skip
        seconds, counted = rebuild_rollups(sessions)
        print(f"rollups rebuilt from them (rebuild-rollups): {seconds:.1f} s ({counted / seconds:,.0f} records/s)")
        args.transactions -= args.transactions % args.car_parks
        started = time.perf_counter()
        daily, hourly = month_rollups(args.transactions, args.car_parks)
        counted_at = time.perf_counter() - started
        copied = copy_rollups(conninfo, daily, hourly)
        print(f"rollups of {args.transactions:,} transactions over {args.car_parks} car parks: {len(daily):,} "
              f"report_daily and {len(hourly):,} report_hourly rows (counted in {counted_at:.1f} s, COPY "
              f"{copied:.1f} s)")  # fmt: skip
        timings = time_reports(sessions)
        taken = timings.pop("_taken")
        size = f"{args.transactions:,} transactions (rollups COPYed), {args.car_parks} car parks, best of 3"
        for report, elapsed in timings.items():
            print(f"{report}: {elapsed * 1000:.0f} ms (best of 3)")
            month = "month" in report
            recorder.add(f"report: {report}", elapsed, "s", goal="< 5 s" if month else "",
                         met=elapsed < 5 if month else None, note=size)  # fmt: skip
        print(f"  (the month's takings: {taken / 100:,.2f} CNY over {args.transactions:,} transactions; goal < 5 s)")
        recorder.add("rollups rebuilt from edge_records", counted / seconds, "records/s", note=f"{counted:,} records")

        end_to_end, inside = ingest_overhead(sessions, edges, warm_up, args.ingest, args.rounds)
        note = f"{args.rounds} interleaved runs of {args.ingest:,} records, median"
        recorder.add("ingest overhead of the rollups", end_to_end * 100, "%", goal="< 20 %", met=end_to_end < 0.2,
                     note=note)  # fmt: skip
        recorder.add("rollup statement / rest of its ingest", inside * 100, "%", goal="< 20 %", met=inside < 0.2,
                     note=note)  # fmt: skip
        print(f"machine at the end: {machine_load()}")
    finally:
        engine.dispose()
        with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    recorder.save(args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
