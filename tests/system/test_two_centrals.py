"""Two central processes behind one PostgreSQL database receiving the same retries at once (issue 18): an edge behind
a load balancer whose requests time out retries each batch, and the retry may reach the other process while the
first is still storing it. Every record must be stored exactly once, every answer must account for every record of
its batch (stored by this request, or already held), each record stored by exactly one answer, and the chain must
hold. The journal is a real edge journal (entry and exit lanes, payments) made by the lane code."""

from __future__ import annotations

import asyncio
import os
import random
import secrets
import signal
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import httpx
import psycopg
import pytest

from edge.lanes.actions import Commit, LaneAction
from edge.lanes.entry import EntryLane
from edge.lanes.events import TakePayment
from edge.lanes.exit import ExitLane
from edge.lanes.lane import LaneSettings
from edge.store.journal import Journal
from parking.wire import INGEST_PATH, IngestAck, IngestBatch, JournalRecord
from simulators.demo_processes import Child, parkgate
from simulators.demo_site import CAR_PARK, EDGE_ID, admin_client, free_port, set_up_central
from tests import soak_summary
from tests.edge.kit import Clock, HourlyTariff, arrive, context, cross

pytestmark = [pytest.mark.postgres]


def a_journal(path: Path, vehicles: int, seed: int) -> list[JournalRecord]:
    """The records of ``vehicles`` entering and (most of them) leaving and paying, from the real lane code."""
    journal = Journal(path, CAR_PARK)
    ctx = context(capacity={"small": vehicles + 1})
    entry = EntryLane(LaneSettings(id="in-1", car_park=CAR_PARK), ctx)
    out = ExitLane(LaneSettings(id="out-1", car_park=CAR_PARK, tariff="residential"), ctx, HourlyTariff())
    clock, rng = Clock(), random.Random(seed)

    def run(actions: list[LaneAction]) -> None:
        for action in actions:
            if isinstance(action, Commit):
                journal.commit(action.drafts)

    try:
        for n in range(vehicles):
            for event in [*arrive(f"粤B{n:05d}"), *cross()]:
                run(entry.handle(event, clock.advance(0.2)))
            if ctx.park.sessions and rng.random() < 0.7:
                plate = rng.choice(list(ctx.park.sessions.values())).plate
                clock.advance(timedelta(minutes=rng.randint(31, 200)).total_seconds())
                for event in arrive(plate):
                    run(out.handle(event, clock.advance(0.2)))
                if out.due is not None:
                    run(out.handle(TakePayment(operator="c01", reason="cash", amount=out.due.quote.total),
                                   clock.advance(1)))  # fmt: skip
                for event in cross():
                    run(out.handle(event, clock.advance(0.2)))
        return journal.records(0, 1_000_000)
    finally:
        journal.close()


class Centrals:
    """Two ``parkgate central run`` on one database (the first migrates it, the second only serves, with two worker
    processes on one port: three processes in all)."""

    def __init__(self, workdir: Path, database_url: str) -> None:
        self.password = secrets.token_urlsafe(12)
        self.env = {
            "PARKGATE_DATABASE_URL": database_url.replace("postgresql://", "postgresql+psycopg://", 1),
            "PARKGATE_BOOTSTRAP_ADMIN_PASSWORD": self.password, "PARKGATE_ENVIRONMENT": "development",
        }  # fmt: skip
        self.ports = (free_port(), free_port())
        self.children = [
            Child(f"central-{i}", parkgate("central", "run", "--host", "127.0.0.1", "--port", str(port),
                                           *(["--no-migrate", "--workers", "2"] if i else [])),
                  workdir / f"central-{i}.log", self.env)
            for i, port in enumerate(self.ports)
        ]  # fmt: skip
        self.urls = [f"http://127.0.0.1:{port}" for port in self.ports]

    async def start(self) -> None:
        base = {k: v for k, v in os.environ.items() if not k.startswith("PARKGATE_")}
        for child, url in zip(self.children, self.urls, strict=True):
            child.env = base | self.env
            await child.start()
            await until_up(child, url)

    async def stop(self) -> None:
        for child in self.children:
            code = await child.stop(within=20)  # uvicorn raises the SIGTERM again once it has shut down
            assert code in (0, -signal.SIGTERM), f"{child.name} did not stop cleanly ({code}):\n{child.tail()}"


async def until_up(child: Child, url: str, within: float = 90) -> None:
    deadline = time.monotonic() + within
    async with httpx.AsyncClient(timeout=2) as client:
        while True:
            assert child.exited is None, f"{child.name} exited ({child.exited}):\n{child.tail()}"
            try:
                if (await client.get(f"{url}/healthz")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, f"{child.name} did not answer within {within:.0f} s"
            await asyncio.sleep(0.2)


async def post(client: httpx.AsyncClient, url: str, token: str, records: list[JournalRecord]) -> IngestAck:
    batch = IngestBatch(edge_id=EDGE_ID, records=records)
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
    answer = await client.post(f"{url}{INGEST_PATH}", content=batch.model_dump_json(), headers=headers)
    assert answer.status_code == 200, f"{url}: {answer.status_code} {answer.text[:300]}"
    return IngestAck.model_validate_json(answer.content)


async def same_retries_to_both(tmp_path: Path, database_url: str, vehicles: int, rounds: int, seed: int) -> None:
    started = time.monotonic()
    records = a_journal(tmp_path / "journal.sqlite3", vehicles, seed)
    centrals = Centrals(tmp_path, database_url)
    await centrals.start()
    try:
        admin = await admin_client(centrals.urls[0], centrals.password)
        try:
            token = await set_up_central(admin)
        finally:
            await admin.aclose()
        rng = random.Random(seed)
        accepted: Counter[str] = Counter()
        answers = batches = 0
        async with httpx.AsyncClient(timeout=60) as client:
            # In the edge's order, each batch sent to both processes at once, twice each (the retries); batches
            # overlap (an edge resends what it has not seen acknowledged with what came after).
            at, size = 0, 40
            while at < len(records):
                batch = records[max(0, at - rng.randint(0, size // 2)) : at + size]
                acks = await asyncio.gather(*(post(client, url, token, batch) for url in centrals.urls * 2))
                answers, batches = answers + len(acks), batches + 1
                for ack in acks:
                    assert ack.rejected == [], ack
                    assert ack.quarantined == [], ack
                    assert set(ack.accepted) | set(ack.duplicates) == {r.id for r in batch}, "an id unaccounted for"
                    assert not set(ack.accepted) & set(ack.duplicates)
                    assert ack.chain.value == "ok", ack.chain_detail
                    assert ack.last_seq >= batch[-1].seq
                    accepted.update(ack.accepted)
                at += size
            # Then late retries of old batches, in any order, to both at once.
            for _ in range(rounds):
                start = rng.randrange(len(records))
                batch = records[start : start + rng.randint(1, 3 * size)]
                acks = await asyncio.gather(*(post(client, url, token, batch) for url in centrals.urls * 2))
                answers, batches = answers + len(acks), batches + 1
                for ack in acks:
                    assert ack.accepted == [], "a record stored twice"
                    assert set(ack.duplicates) == {r.id for r in batch}
                    assert ack.last_seq == len(records)
    finally:
        await centrals.stop()
    with psycopg.connect(database_url) as db:
        stored, ids, seqs, bad = db.execute(
            "SELECT count(*), count(DISTINCT id), count(DISTINCT seq), count(*) FILTER (WHERE NOT hash_ok) "
            "FROM edge_records WHERE edge_id = %s", (EDGE_ID,)).fetchone() or (0, 0, 0, 0)  # fmt: skip
        breaks = db.execute("SELECT count(*) FROM chain_breaks WHERE edge_id = %s", (EDGE_ID,)).fetchone()
        head = db.execute("SELECT chain_seq FROM edges WHERE id = %s", (EDGE_ID,)).fetchone()
        payments = db.execute("SELECT count(*) FROM edge_transactions WHERE edge_id = %s", (EDGE_ID,)).fetchone()
    journaled_payments = sum(1 for r in records if r.kind.value == "transaction")
    soak_summary.record(soak_summary.Row(
        target="two centrals, one PostgreSQL, the same retries at once", faults=answers - batches,
        transactions=len(records), lost=len(records) - ids, duplicated=(stored - seqs) + sum(n - 1 for n in
                                                                                            accepted.values()),
        detail=f"{answers} answers from 2 processes, each record stored by exactly one; {journaled_payments} "
               f"transactions; {time.monotonic() - started:.0f} s",
    ))  # fmt: skip
    assert stored == ids == seqs == len(records)
    assert set(accepted) == {r.id for r in records}
    assert all(n == 1 for n in accepted.values()), "a record was reported stored by two answers"
    assert bad == 0
    assert breaks == (0,)
    assert head == (len(records),)
    assert payments == (journaled_payments,)


@pytest.mark.slow
@pytest.mark.timeout(600)
async def test_two_centrals_receive_the_same_retries_at_once(tmp_path: Path, postgres_url: str) -> None:
    await same_retries_to_both(tmp_path, postgres_url, vehicles=60, rounds=10, seed=3)


@pytest.mark.soak
@pytest.mark.timeout(3600)
async def test_two_centrals_receive_the_same_retries_for_long(tmp_path: Path, postgres_url: str) -> None:
    await same_retries_to_both(tmp_path, postgres_url, vehicles=3000, rounds=300, seed=33)
