"""The outbox backs off for real against a failing central: however often it is woken (the daemon's ticker wakes
it at every new record), a failing central is asked only as often as the exponential backoff allows, and the first
batch central takes resets it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from drivers.health import Backoff
from edge.store.journal import Journal
from edge.store.sync import Outbox
from tests.edge.central_double import TOKEN, CentralDouble
from tests.edge.store.test_sync import traffic

FAILING = 1_000_000


@pytest.fixture
async def central() -> AsyncIterator[CentralDouble]:
    double = CentralDouble()
    await double.start()
    yield double
    await double.stop()


async def test_a_failing_central_is_retried_at_the_backoff_pace_however_often_the_outbox_is_woken(
    tmp_path: Path, central: CentralDouble
) -> None:
    journal = Journal(tmp_path / "j.sqlite3", "lakeview")
    traffic(journal, 3)
    central.fail_next = FAILING  # every request answers 503
    stop = asyncio.Event()
    async with httpx.AsyncClient(base_url=central.url, headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        outbox = Outbox(journal, client, central.edge_id, idle_interval_s=0.05,
                        backoff=Backoff(initial=0.1, maximum=0.8, jitter=0.25))  # fmt: skip
        task = asyncio.create_task(outbox.run(stop))
        for _ in range(300):  # 3 s of a ticker at 100 wakes a second, as the daemon's
            outbox.wake()
            await asyncio.sleep(0.01)
        asked = FAILING - central.fail_next
        # 0.1 + 0.2 + 0.4 + 0.8 + 0.8 ... (±25 %): about 6 attempts in 3 s; woken at every tick it was ~300.
        assert 3 <= asked <= 9, asked
        assert outbox.failures == asked
        central.fail_next = 0  # central is back
        for _ in range(150):
            if journal.backlog() == 0 and outbox.failures == 0:  # the round that settled them has finished
                break
            await asyncio.sleep(0.01)
        assert journal.backlog() == 0
        assert (outbox.failures, outbox.backoff.next_delay() < 0.2) == (0, True)  # reset by the success
        stop.set()
        await asyncio.wait_for(task, 2)
