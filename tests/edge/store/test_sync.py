"""Outbox and list sync against a real HTTP server speaking the wire contract: batches, outages, lost answers,
restarts, snapshots and deltas."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from drivers.health import Backoff
from edge.lanes.actions import Commit, Display, LaneAction
from edge.lanes.directory import Directory
from edge.store.journal import Journal
from edge.store.lists import ListStore, lists_path
from edge.store.sync import CentralError, ListSync, Outbox
from parking.wire import ChainStatus, ListKind, PassStatus, SyncPage, VehicleList
from tests.edge.central_double import TOKEN, CentralDouble
from tests.edge.kit import T0, Clock, a_pass, a_vehicle, arrive, context, cross, entry_lane, feed


@pytest.fixture
async def central() -> AsyncIterator[CentralDouble]:
    double = CentralDouble()
    await double.start()
    yield double
    await double.stop()


def client_for(central: CentralDouble, token: str = TOKEN) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=central.url, headers={"Authorization": f"Bearer {token}"}, timeout=5)


def traffic(journal: Journal, vehicles: int, start: int = 0) -> None:
    ctx, clock = context(capacity={"small": 10_000}), Clock(T0 + timedelta(hours=start))
    lane = entry_lane(ctx)
    for n in range(start, start + vehicles):
        actions: list[LaneAction] = feed(lane, clock, *arrive(f"粤B{n:05d}"), *cross())
        for action in actions:
            if isinstance(action, Commit):
                journal.commit(action.drafts)


def fast_backoff() -> Backoff:
    return Backoff(initial=0.02, maximum=0.1)


async def test_outbox_delivers_in_batches_and_central_sees_an_intact_chain(
    tmp_path: Path, central: CentralDouble
) -> None:
    journal = Journal(tmp_path / "j.sqlite3", "lakeview")
    traffic(journal, 40)  # 3 records per vehicle
    async with client_for(central) as client:
        outbox = Outbox(journal, client, central.edge_id, batch_size=50)
        sent = [await outbox.send_once() for _ in range(4)]
    assert sent == [50, 50, 20, 0]
    assert journal.backlog() == 0
    assert len(central.records) == 120
    assert central.chain() is ChainStatus.OK
    assert central.last_seq() == 120


async def test_central_outage_then_later_delivery(tmp_path: Path, central: CentralDouble) -> None:
    journal = Journal(tmp_path / "j.sqlite3", "lakeview")
    traffic(journal, 5)
    await central.stop()  # central goes down before anything was sent
    backlog: list[int] = []
    stop = asyncio.Event()
    async with client_for(central) as client:
        outbox = Outbox(
            journal, client, central.edge_id, batch_size=10, idle_interval_s=0.05, backoff=fast_backoff(),
            on_backlog=backlog.append,
        )  # fmt: skip
        task = asyncio.create_task(outbox.run(stop))
        await asyncio.sleep(0.3)
        assert outbox.failures > 0
        assert "ConnectError" in (outbox.last_error or "")
        traffic(journal, 5, start=5)  # the lanes keep working during the outage
        assert journal.backlog() == 30
        for _ in range(100):  # the outbox's next retry reports the whole backlog (a loaded machine may be slow)
            if 30 in backlog:
                break
            await asyncio.sleep(0.05)
        assert 30 in backlog
        await central.start()  # back, on the same address
        for _ in range(100):
            if journal.backlog() == 0:
                break
            await asyncio.sleep(0.05)
        stop.set()
        await task
    assert journal.backlog() == 0
    assert len(central.records) == 30
    assert central.chain() is ChainStatus.OK
    assert max(backlog) == 30
    assert backlog[-1] == 0


async def test_lost_answers_and_503s_are_retried_without_double_counting(
    tmp_path: Path, central: CentralDouble
) -> None:
    journal = Journal(tmp_path / "j.sqlite3", "lakeview")
    traffic(journal, 10)
    central.lose_answers = 1
    central.fail_next = 2
    stop = asyncio.Event()
    async with client_for(central) as client:
        outbox = Outbox(journal, client, central.edge_id, batch_size=100, idle_interval_s=0.05,
                        backoff=fast_backoff())  # fmt: skip
        task = asyncio.create_task(outbox.run(stop))
        for _ in range(100):
            if journal.backlog() == 0:
                break
            await asyncio.sleep(0.05)
        stop.set()
        await task
    assert journal.backlog() == 0
    assert len(central.records) == 30
    assert central.batches == 2  # the first stored but unanswered, the second all duplicates


async def test_outbox_resumes_after_an_edge_restart(tmp_path: Path, central: CentralDouble) -> None:
    path = tmp_path / "j.sqlite3"
    journal = Journal(path, "lakeview")
    traffic(journal, 10)
    async with client_for(central) as client:
        assert await Outbox(journal, client, central.edge_id, batch_size=12).send_once() == 12
    journal.close()
    journal = Journal(path, "lakeview")
    traffic(journal, 2, start=10)
    async with client_for(central) as client:
        outbox = Outbox(journal, client, central.edge_id, batch_size=100)
        assert await outbox.send_once() == 24
    assert central.last_seq() == 36
    assert central.chain() is ChainStatus.OK


async def test_a_refused_token_marks_nothing(tmp_path: Path, central: CentralDouble) -> None:
    journal = Journal(tmp_path / "j.sqlite3", "lakeview")
    traffic(journal, 1)
    async with client_for(central, token="wrong") as client:
        with pytest.raises(CentralError, match="HTTP 401"):
            await Outbox(journal, client, central.edge_id).send_once()
    assert journal.backlog() == 3


async def test_lists_snapshot_in_pages_then_deltas_reach_the_lanes(tmp_path: Path, central: CentralDouble) -> None:
    for n in range(25):
        central.publish(a_pass(f"粤B{n:05d}"))
    central.publish(a_vehicle("粤B66666", VehicleList.BLACKLIST, "arrears"))
    store = ListStore(lists_path(tmp_path / "j.sqlite3"))
    received: list[Directory] = []
    async with client_for(central) as client:
        sync = ListSync(store, client, "lakeview", received.append, page_limit=10)
        assert await sync.pull_once() == 3
        assert store.version == central.version
        assert len(store.passes()) == 25
        assert len(received[-1].passes_by_plate) == 25

        central.delete(ListKind.PASSES, "pass-粤B00003")
        central.publish(a_pass("粤B77777"))
        central.delete(ListKind.VEHICLES, "blacklist-粤B66666")
        assert await sync.pull_once() == 1
        assert await sync.pull_once() == 1  # nothing new: one empty page, lanes not disturbed
    assert len(received) == 2
    directory = received[-1]
    assert directory.passes_by_plate.exact("粤B00003") == []
    assert len(directory.passes_by_plate.exact("粤B77777")) == 1
    assert len(directory.vehicles) == 0
    # The new pass is usable by a lane at once.
    ctx = context()
    ctx.lists.directory = directory
    actions = feed(entry_lane(ctx), Clock(), *arrive("粤B77777"))
    assert any(isinstance(a, Commit) and a.drafts[0].payload.get("session_kind") == "pass" for a in actions)


async def test_a_snapshot_replaces_stale_lists(tmp_path: Path, central: CentralDouble) -> None:
    store = ListStore(tmp_path / "l.sqlite3")
    central.publish(a_pass("粤B00001"))
    async with client_for(central) as client:
        sync = ListSync(store, client, "lakeview", lambda d: None)
        await sync.pull_once()
        central.delete(ListKind.PASSES, "pass-粤B00001")
        central.publish(a_pass("粤B00002"))
        central.purged_through = central.version  # central forgot the deletion: the edge must get a snapshot
        await sync.pull_once()
    assert [p.id for p in store.passes()] == ["pass-粤B00002"]


def test_a_suspension_reason_is_kept_by_the_store_and_an_older_centrals_page_without_one_still_reads(
    tmp_path: Path,
) -> None:
    """Central says why billing holds a pass; an older central's records have no such field: both are refused at
    the lane, with the reason where there is one and the generic one otherwise."""
    held = a_pass("粤B3R7K2", status=PassStatus.SUSPENDED, status_reason="arrears").model_dump(mode="json")
    older = a_pass("粤B11111", status=PassStatus.SUSPENDED).model_dump(mode="json", exclude={"status_reason"})
    assert "status_reason" not in older
    page = {"since": 0, "version": 2, "full": True, "more": False, "passes": [held, older]}
    store = ListStore(lists_path(tmp_path / "j.sqlite3"))
    store.apply(SyncPage.model_validate_json(json.dumps(page)), replace=True)
    ctx = context()
    ctx.lists.directory = store.directory("lakeview")
    store.close()
    lane, clock = entry_lane(ctx), Clock()
    shown: list[tuple[str, tuple[str, ...]]] = []
    for plate in ("粤B3R7K2", "粤B11111"):
        actions = feed(lane, clock, *arrive(plate))
        session = next(d for a in actions if isinstance(a, Commit) for d in a.drafts if d.payload.get("event"))
        display = next(a for a in actions if isinstance(a, Display))
        shown.append((str(session.payload["decision"]), display.lines[1:2]))
        feed(lane, clock, *cross())
    assert shown == [("pass suspended: arrears", ("月租卡已暂停：欠费",)), ("pass suspended", ("月租卡已暂停",))]
