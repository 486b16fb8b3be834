"""Central on PostgreSQL behind a real uvicorn: ingest throughput from 20 concurrent edges (batches of 500), the
full sync of 100,000 passes, and a delta sync of 100 changes. Beside the ingest rate, its peer: a raw PostgreSQL
``COPY`` of the same ``edge_records`` rows (read back after the ingest) into a table like it (same indexes and
constraints), from this client, in the same run. Goal: ingest >= 0.5 x COPY. A second peer, with no goal: a raw
``COPY`` of every row ingest wrote in every table it writes (``edge_records``, its projections and the rollups). A
third: the Python any ingest must run for each record (parse the batch, check the record's bounds, verify its hash),
alone, in as many processes as central has workers, with no database and no HTTP: the most an ingest that checks
what it stores can reach on this machine.

Creates its own database ``parkgate_bench_<random>`` on the server of ``PARKGATE_TEST_PG`` (default
``postgresql://postgres@127.0.0.1:5432/test``) and drops it afterwards. Run: ``.venv/bin/python
benchmarks/bench_central.py [--edges 20] [--batches 10] [--batch-size 500] [--passes 100000] [--workers 2]
[--json FILE]``.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import socket
import statistics
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit, urlunsplit

import httpx
import psycopg
from figures import Recorder, add_json_argument, proc_stat
from sqlalchemy import insert
from sqlalchemy.orm import Session

from central.core.db import make_engine
from central.core.migrate import upgrade
from central.core.security import hash_password, new_token, token_digest
from central.models import CarPark, Edge, PassPlan, User
from central.pass_import import PassImport, import_passes
from parking.ids import new_id
from parking.wire import GENESIS_HASH, IngestAck, IngestBatch, IngestEnvelope, RecordKind, SyncPage, seal, verify_record

ADMIN_URL = os.environ.get("PARKGATE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
PASSWORD = "benchmark-password"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def car_park_of(edge_id: str, car_parks: int) -> str:
    """The car park edge ``bench-edge-NN`` serves: the edges spread over ``car_parks`` car parks in turn."""
    return f"bench-{int(edge_id.rsplit('-', 1)[1]) % car_parks:02d}"


def seed(url: str, edges: int, car_parks: int, passes: int) -> dict[str, str]:
    """Schema, ``car_parks`` car parks served by ``edges`` edges (answers their tokens), an admin, and ``passes``
    passes."""
    engine = make_engine(url)
    upgrade(engine)
    tokens = {f"bench-edge-{n:02d}": new_token("pge") for n in range(edges)}
    with Session(engine) as session:
        session.add_all([CarPark(id=f"bench-{n:02d}", name=f"Bench car park {n}") for n in range(car_parks)])
        session.flush()
        session.execute(insert(Edge), [
            {"id": edge_id, "car_park_id": car_park_of(edge_id, car_parks), "name": edge_id,
             "token_hash": token_digest(token), "token_issued_at": datetime.now(UTC)}
            for edge_id, token in tokens.items()
        ])  # fmt: skip
        session.add(User(username="admin", full_name="Bench", role="admin", password_hash=hash_password(PASSWORD)))
        plan = PassPlan(name="resident", vehicle_class="small", price_minor=30000, currency="CNY", car_parks=[])
        session.add(plan)
        session.flush()
        start = datetime(2026, 11, 1, tzinfo=UTC)
        started = time.perf_counter()
        import_passes(session, plan, [
            PassImport(holder=f"holder {n}", phone=f"138{n:08d}", plates=[f"粤B{n:05d}"], valid_from=start,
                       valid_to=start + timedelta(days=30))
            for n in range(passes)
        ], None)  # fmt: skip
        session.commit()
        print(f"seeded {passes} passes in {time.perf_counter() - started:.1f} s")
    engine.dispose()
    return tokens


def build_batches(edge_id: str, car_park: str, batches: int, size: int) -> list[bytes]:
    prev, seq, out = GENESIS_HASH, 0, []
    at = datetime.now(UTC)
    for _ in range(batches):
        records = []
        for _ in range(size):
            seq += 1
            record = seal(
                id=new_id(), seq=seq, kind=RecordKind.TRANSACTION, car_park=car_park, lane="exit-1",
                at=at + timedelta(milliseconds=seq),
                payload={"session": new_id(), "plate": "粤B3R7K2", "amount": 500, "currency": "CNY", "method": "cash"},
                prev_hash=prev,
            )  # fmt: skip
            prev = record.hash
            records.append(record)
        out.append(IngestBatch(edge_id=edge_id, records=records).model_dump_json().encode())
    return out


async def run_edge(base: str, token: str, bodies: list[bytes]) -> int:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    stored = 0
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=120) as client:
        for body in bodies:
            answer = await client.post("/api/v1/ingest", content=body)
            answer.raise_for_status()
            ack = IngestAck.model_validate_json(answer.content)
            assert ack.chain == "ok", ack.chain_detail
            stored += len(ack.accepted)
    return stored


async def ingest(base: str, work: dict[str, tuple[str, list[bytes]]]) -> tuple[int, float]:
    started = time.perf_counter()
    counts = await asyncio.gather(*(run_edge(base, token, bodies) for token, bodies in work.values()))
    return sum(counts), time.perf_counter() - started


def full_sync(client: httpx.Client, token: str, limit: int) -> tuple[float, int, int, float]:
    """Pull every page from version 0 as an edge does; answers (seconds, passes held, version, seconds parsing)."""
    headers = {"Authorization": f"Bearer {token}"}
    started = time.perf_counter()
    since, held, parsing = 0, 0, 0.0
    while True:
        body = client.get(f"/api/v1/sync?since={since}&limit={limit}", headers=headers).content
        parse_started = time.perf_counter()
        page = SyncPage.model_validate_json(body)
        parsing += time.perf_counter() - parse_started
        held = len(page.passes) if page.full else held + len(page.passes)
        since = page.version
        if not page.more:
            return time.perf_counter() - started, held, since, parsing


def copy_peer(db_url: str) -> tuple[int, float]:
    """The rows ingest stored in ``edge_records``, COPYed again into a table like it; (rows, seconds of the COPY)."""
    with psycopg.connect(db_url) as conn, conn.cursor() as cursor:
        data = bytearray()
        with cursor.copy("COPY edge_records TO STDOUT") as out:
            for chunk in out:
                data += chunk
        rows = data.count(b"\n")
        cursor.execute("CREATE TABLE edge_records_peer (LIKE edge_records INCLUDING ALL)")
        conn.commit()
        started = time.perf_counter()
        with cursor.copy("COPY edge_records_peer FROM STDIN") as copy:
            for offset in range(0, len(data), 1 << 20):
                copy.write(bytes(data[offset : offset + (1 << 20)]))
        conn.commit()
        return rows, time.perf_counter() - started


def _check_bodies(bodies: list[bytes]) -> tuple[int, float]:
    """What any ingest must do in Python with each record, and nothing else: parse the batch, check each record
    against the wire bounds and verify its hash. Answers the records checked and the CPU seconds it took."""
    from central.quarantine import Quarantined, read_record

    cpu = time.process_time()
    checked = 0
    for body in bodies:
        for raw in IngestEnvelope.model_validate_json(body).records:
            record = read_record(raw)
            assert not isinstance(record, Quarantined)
            assert verify_record(record)
            checked += 1
    return checked, time.process_time() - cpu


def python_floor(work: dict[str, tuple[str, list[bytes]]], workers: int) -> tuple[int, float, float]:
    """:func:`_check_bodies` over every batch the edges send, in ``workers`` processes side by side (as many as
    central's workers) with no database and no HTTP; answers (records, seconds, CPU seconds of all of them)."""
    chunks: list[list[bytes]] = [[] for _ in range(workers)]
    for n, (_, bodies) in enumerate(work.values()):
        chunks[n % workers].extend(bodies)
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        pool.map(_check_bodies, [chunk[:1] for chunk in chunks])  # start and import before the clock
        started = time.perf_counter()
        done = pool.map(_check_bodies, chunks)
        return sum(n for n, _ in done), time.perf_counter() - started, sum(cpu for _, cpu in done)


# What ingest writes for each record, beside edge_records: its projections and the rollups it adds to.
WRITTEN = ("edge_records", "edge_transactions", "money_records", "report_daily", "report_hourly")


def cpu_by_side(server_pid: int) -> dict[str, float]:
    """CPU seconds so far of central (the server process and its workers) and of PostgreSQL (every process named
    postgres on this machine), from /proc; empty when /proc cannot be read."""
    try:
        pids = [int(entry) for entry in os.listdir("/proc") if entry.isdigit()]
    except OSError:
        return {}
    found = {"central": 0.0, "postgresql": 0.0}
    for pid in pids:
        if (stat := proc_stat(pid)) is None:
            continue
        name, parent, cpu = stat
        if server_pid in (pid, parent):
            found["central"] += cpu
        elif name.startswith("postgres"):
            found["postgresql"] += cpu
    return found


def copy_all_peer(db_url: str) -> tuple[dict[str, int], float, float | None]:
    """Every row ingest wrote, in every table it writes (:data:`WRITTEN`), COPYed again into tables like them (same
    indexes and constraints) in one transaction; answers (rows per table, seconds of the COPYs, the CPU seconds the
    PostgreSQL backend spent on them, None when it is not on this machine). The floor of an ingest that must write
    all of them, where :func:`copy_peer` writes one table."""
    with psycopg.connect(db_url) as conn, conn.cursor() as cursor:
        backend = conn.info.backend_pid
        data: dict[str, bytearray] = {}
        for table in WRITTEN:
            data[table] = bytearray()
            with cursor.copy(f"COPY {table} TO STDOUT") as out:
                for chunk in out:
                    data[table] += chunk
            cursor.execute(f"CREATE TABLE {table}_all_peer (LIKE {table} INCLUDING ALL)")
        conn.commit()
        before = proc_stat(backend)
        started = time.perf_counter()
        for table, rows in data.items():
            with cursor.copy(f"COPY {table}_all_peer FROM STDIN") as copy:
                for offset in range(0, len(rows), 1 << 20):
                    copy.write(bytes(rows[offset : offset + (1 << 20)]))
        conn.commit()
        seconds = time.perf_counter() - started
        after = proc_stat(backend)
        cpu = after[2] - before[2] if before is not None and after is not None else None
        return {table: rows.count(b"\n") for table, rows in data.items()}, seconds, cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edges", type=int, default=20)
    parser.add_argument("--car-parks", type=int, default=0,
                        help="car parks the edges serve in turn (default: one per edge; 1: all in one)")  # fmt: skip
    parser.add_argument("--batches", type=int, default=10, help="batches per edge")
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--passes", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=2, help="central worker processes (the machine has 2 cores)")
    parser.add_argument("--page", type=int, default=20_000, help="sync page size (limit)")
    add_json_argument(parser)
    args = parser.parse_args()
    args.car_parks = args.car_parks or args.edges
    recorder = Recorder("central")

    name = f"parkgate_bench_{uuid.uuid4().hex[:8]}"
    parts = urlsplit(ADMIN_URL)
    db_url = urlunsplit((parts.scheme, parts.netloc, f"/{name}", "", ""))
    sqlalchemy_url = db_url.replace("postgresql://", "postgresql+psycopg://", 1)
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    server: subprocess.Popen[bytes] | None = None
    try:
        tokens = seed(sqlalchemy_url, args.edges, args.car_parks, args.passes)
        port = free_port()
        env = {**os.environ, "PARKGATE_DATABASE_URL": sqlalchemy_url, "PARKGATE_DB_POOL_SIZE": "25"}
        server = subprocess.Popen(
            [sys.executable, "-m", "parking", "--log-level", "WARNING", "central", "run", "--no-migrate",
             "--port", str(port), "--workers", str(args.workers)],
            env=env,
        )  # fmt: skip
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base, timeout=120) as client:
            # A loaded machine (the bench beside `make test`) may take well over 10 s to start two workers.
            deadline = time.monotonic() + 90
            while True:
                if server.poll() is not None:
                    raise RuntimeError(f"central exited with {server.returncode} before answering /healthz")
                try:
                    if client.get("/healthz", timeout=5).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError("central did not answer /healthz within 90 s")
                time.sleep(0.1)
            first_token = next(iter(tokens.values()))
            full_sync(client, first_token, args.page)  # warm up connections and caches
            runs = [full_sync(client, first_token, args.page) for _ in range(3)]
            seconds, held, version, parsing = min(runs)
            assert held == args.passes, held
            runs_text = ", ".join(f"{r[0]:.2f}" for r in runs)
            print(f"full sync of {held} passes: {seconds:.2f} s (best of 3, of which parsing at the client "
                  f"{parsing:.2f} s; runs {runs_text}; pages of {args.page})")  # fmt: skip
            recorder.add(f"full sync of {held:,} passes", seconds, "s",
                         note=f"best of 3, pages of {args.page:,}, parsing {parsing:.2f} s")  # fmt: skip

            login = client.post("/api/v1/auth/login", json={"username": "admin", "password": PASSWORD}).json()
            admin_headers = {"Authorization": f"Bearer {login['token']}"}
            ids = [p["id"] for p in client.get("/api/v1/passes?limit=1000", headers=admin_headers).json()][::10]
            for pass_id in ids[:100]:
                client.post(
                    f"/api/v1/passes/{pass_id}/renew", headers=admin_headers, json={"months": 1}
                ).raise_for_status()
            edge_headers = {"Authorization": f"Bearer {first_token}"}
            timings = []
            for _ in range(10):
                started = time.perf_counter()
                delta = SyncPage.model_validate_json(
                    client.get(f"/api/v1/sync?since={version}", headers=edge_headers).content
                )
                timings.append(time.perf_counter() - started)
            assert len(delta.passes) == 100, len(delta.passes)
            print(f"delta sync of 100 changes: {statistics.median(timings) * 1000:.1f} ms (median of 10)")
            recorder.add("delta sync of 100 changes", statistics.median(timings) * 1000, "ms",
                         note=f"median of 10, {held:,} passes held")  # fmt: skip

        started = time.perf_counter()
        work = {
            edge: (token, build_batches(edge, car_park_of(edge, args.car_parks), args.batches, args.batch_size))
            for edge, token in tokens.items()
        }
        built = time.perf_counter() - started
        print(f"built {args.edges * args.batches * args.batch_size} sealed records in {built:.1f} s")
        cpu_before = cpu_by_side(server.pid)
        stored, elapsed = asyncio.run(ingest(base, work))
        cpu_after = cpu_by_side(server.pid)
        expected = args.edges * args.batches * args.batch_size
        assert stored == expected, (stored, expected)
        rate = stored / elapsed
        who = f"{args.edges} edges of {args.car_parks} car park{'s' if args.car_parks > 1 else ''}"
        print(f"ingest: {stored} records from {who}, concurrently, in {elapsed:.2f} s = {rate:,.0f} "
              f"records/s (batches of {args.batch_size}, {args.workers} worker(s))")  # fmt: skip
        if cpu_before and cpu_after:
            spent = {side: (cpu_after[side] - cpu_before[side]) / stored * 1e6 for side in cpu_before}
            print(f"ingest CPU per record: central {spent['central']:.0f} us, PostgreSQL {spent['postgresql']:.0f} us "
                  f"({(sum(spent.values()) * stored / 1e6) / elapsed:.2f} of {os.cpu_count()} cores busy)")  # fmt: skip
            recorder.add("central ingest CPU per record, central's workers", spent["central"], "us",
                         note=f"{args.workers} worker(s)")  # fmt: skip
            recorder.add("central ingest CPU per record, PostgreSQL", spent["postgresql"], "us")
        rows, copy_s = copy_peer(db_url)
        assert rows == stored, (rows, stored)
        copy_rate = rows / copy_s
        print(f"raw COPY of the same {rows} edge_records rows into a table like it: {copy_s:.2f} s = "
              f"{copy_rate:,.0f} rows/s; ingest / COPY = {rate / copy_rate:.2f} (goal >= 0.5)")  # fmt: skip
        recorder.add(f"central ingest from {who}", rate, "records/s", peer="raw COPY of the rows",
                     peer_value=copy_rate, goal=">= 0.5 x COPY", met=rate >= 0.5 * copy_rate,
                     note=f"{stored:,} records, batches of {args.batch_size}, {args.workers} worker(s)")  # fmt: skip
        written, all_s, all_cpu = copy_all_peer(db_url)
        all_rate = stored / all_s
        tables = ", ".join(f"{table} {count}" for table, count in written.items())
        print(f"raw COPY of every row ingest wrote ({tables}) into tables like them: {all_s:.2f} s = "
              f"{all_rate:,.0f} records/s; ingest / that COPY = {rate / all_rate:.2f}")  # fmt: skip
        recorder.add(f"central ingest from {who}, beside all it writes", rate, "records/s",
                     peer="raw COPY of every row ingest writes", peer_value=all_rate,
                     note=f"{sum(written.values()):,} rows in {len(written)} tables for {stored:,} records, "
                          f"{args.workers} worker(s)")  # fmt: skip
        checked, floor_s, floor_cpu = python_floor(work, args.workers)
        floor_rate = checked / floor_s
        print(f"the Python every ingest does alone (parse the batches, check each record's bounds and hash; no "
              f"database, no HTTP) in {args.workers} process(es): {floor_s:.2f} s = {floor_rate:,.0f} records/s = "
              f"{floor_rate / copy_rate:.2f} x COPY; ingest / it = {rate / floor_rate:.2f}")  # fmt: skip
        recorder.add(f"central ingest from {who}, beside its Python alone", rate, "records/s",
                     peer="parse + bounds + hash check alone", peer_value=floor_rate,
                     note=f"the check alone is {floor_rate / copy_rate:.2f} x COPY: the most any ingest that checks "
                          f"each record can reach, {args.workers} process(es)")  # fmt: skip
        if all_cpu is not None:
            # An ingest that checks every record and writes every row needs at least both CPU costs per record; on
            # this machine's cores, perfectly overlapped, that allows no more than this.
            cores = os.cpu_count() or 1
            per_record = floor_cpu / checked + all_cpu / stored
            ceiling = cores / per_record
            print(f"ceiling of a checking ingest that writes every row, on {cores} cores: {cores} / (Python check "
                  f"{floor_cpu / checked * 1e6:.1f} us + PostgreSQL COPY of its rows {all_cpu / stored * 1e6:.1f} us "
                  f"CPU per record) = {ceiling:,.0f} records/s = {ceiling / copy_rate:.2f} x COPY; ingest / it = "
                  f"{rate / ceiling:.2f}")  # fmt: skip
            recorder.add(f"central ingest from {who}, beside the ceiling of any checking ingest", rate,
                         "records/s", peer=f"{cores} cores / (check + COPY of every row) CPU per record",
                         peer_value=ceiling,
                         note=f"that ceiling is {ceiling / copy_rate:.2f} x the edge_records COPY: "
                              f"{floor_cpu / checked * 1e6:.1f} us Python + {all_cpu / stored * 1e6:.1f} us "
                              "PostgreSQL per record")  # fmt: skip
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    recorder.save(args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
