"""The edge against the real central service (uvicorn, PostgreSQL): a pass sold at the office reaches the lane
through list sync, the lane's journal reaches central through the outbox, and central finds the chain intact."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.dialects.postgresql import insert

from central.core.config import Settings
from central.core.db import make_engine
from central.core.migrate import upgrade
from central.core.security import Role, hash_password
from central.main import create_app
from central.models import User
from edge.lanes.actions import Commit, Draft
from edge.lanes.directory import Directory
from edge.store.journal import Journal
from edge.store.lists import ListStore
from edge.store.sync import ListSync, Outbox
from parking.ids import new_id
from parking.wire import INGEST_PATH, ChainStatus, IngestAck, IngestBatch, RecordKind
from tests.central.scenario import make_holder, make_plan, make_site, ok
from tests.edge.kit import Clock, arrive, context, cross, entry_lane, feed
from tests.services import serving

pytestmark = pytest.mark.postgres
PASSWORD = "correct horse battery"


@pytest.fixture
def central(postgres_sqlalchemy_url: str) -> Iterator[tuple[str, TestClient, dict[str, str]]]:
    engine = make_engine(postgres_sqlalchemy_url, pool_size=2)
    upgrade(engine)
    with engine.begin() as conn:
        conn.execute(insert(User).values(username="admin", full_name="Admin", role=Role.ADMIN.value,
                                         password_hash=hash_password(PASSWORD), active=True)
                     .on_conflict_do_nothing(index_elements=["username"]))  # fmt: skip
    app = create_app(Settings(database_url=postgres_sqlalchemy_url, db_pool_size=4, bootstrap_admin_password=None))
    with serving(app) as url, TestClient(app) as office:
        token = ok(office.post("/api/v1/auth/login", json={"username": "admin", "password": PASSWORD}))["token"]
        yield url, office, {"Authorization": f"Bearer {token}"}
    engine.dispose()


async def test_pass_sold_at_the_office_opens_the_lane_and_the_journal_reaches_central(
    tmp_path: Path, central: tuple[str, TestClient, dict[str, str]]
) -> None:
    url, office, admin = central
    site = make_site(office, admin)
    holder = make_holder(office, admin)
    plan = make_plan(office, admin, [site.car_park])
    sale = {"holder_id": holder, "plan_id": plan, "plates": ["粤B3R7K2"]}
    ok(office.post("/api/v1/passes", headers=admin, json=sale), 201)

    store = ListStore(tmp_path / "lists.sqlite3")
    journal = Journal(tmp_path / "journal.sqlite3", site.car_park)
    directories: list[Directory] = []
    headers = {"Authorization": f"Bearer {site.edge_token}"}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=10) as client:
        await ListSync(store, client, site.car_park, directories.append).pull_once()
        assert len(directories[-1].passes_by_plate.exact("粤B3R7K2")) == 1

        ctx = context()
        ctx.lists.directory = directories[-1]
        lane, clock = entry_lane(ctx), Clock(datetime.now(UTC))  # the pass was sold today
        actions = feed(lane, clock, *arrive("粤83R7K2"), *cross())  # a look-alike read of the pass's plate
        sessions = [d for a in actions if isinstance(a, Commit) for d in a.drafts if d.payload.get("event")]
        assert sessions[0].payload["session_kind"] == "pass"
        for action in actions:
            if isinstance(action, Commit):
                journal.commit(action.drafts)

        outbox = Outbox(journal, client, site.edge)
        assert await outbox.send_once() == journal.last_seq
        assert journal.backlog() == 0
        # Sent again (an acknowledgement lost on the way back): central says duplicate, stores nothing twice.
        batch = IngestBatch(edge_id=site.edge, records=journal.records()).model_dump_json()
        answer = await client.post(INGEST_PATH, content=batch, headers={"Content-Type": "application/json"})
        ack = IngestAck.model_validate_json(answer.content)
        assert ack.accepted == []
        assert len(ack.duplicates) == journal.last_seq
        assert ack.chain is ChainStatus.OK
        assert ack.last_seq == journal.last_seq


async def test_a_record_central_cannot_store_never_stops_the_outbox(
    tmp_path: Path, central: tuple[str, TestClient, dict[str, str]]
) -> None:
    """A manual-open reason journaled with U+0000 (before the console refused it) and a record stamped by a clock
    reset to 1970: central keeps both as received in quarantine, and everything after them is delivered."""
    url, office, admin = central
    site = make_site(office, admin, "harbour")
    journal = Journal(tmp_path / "journal.sqlite3", site.car_park)
    now = datetime.now(UTC)

    def manual_open(reason: str, at: datetime = now) -> Draft:
        return Draft(id=new_id(), kind=RecordKind.MANUAL_ACTION, lane="out-1", at=at,
                     payload={"action": "manual_open", "operator": "c01", "reason": reason})  # fmt: skip

    journal.commit([manual_open("before")])
    journal.commit([manual_open("gate\u0000stuck")])
    journal.commit([manual_open("clock reset", datetime(1970, 1, 1, tzinfo=UTC))])
    journal.commit([manual_open("after")])
    headers = {"Authorization": f"Bearer {site.edge_token}"}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=10) as client:
        outbox = Outbox(journal, client, site.edge)
        assert await outbox.send_once() == 4
        assert journal.backlog() == 0
        journal.commit([manual_open("later")])
        assert await outbox.send_once() == 1
    held = ok(office.get(f"/api/v1/quarantine?edge_id={site.edge}", headers=admin))
    assert sorted((q["seq"], q["reason"], q["field"], q["hash_ok"]) for q in held) == [
        (2, "text_not_storable", "payload.reason", True), (3, "out_of_range", "at", True),
    ]  # fmt: skip
    records = ok(office.get(f"/api/v1/records?edge_id={site.edge}", headers=admin))
    assert [(r["seq"], r["payload"]["reason"]) for r in records] == [(1, "before"), (4, "after"), (5, "later")]
    edges = ok(office.get("/api/v1/edges", headers=admin))
    assert [e["chain_seq"] for e in edges if e["id"] == site.edge] == [5]  # the chain verified past both
    assert ok(office.get(f"/api/v1/chain-breaks?edge_id={site.edge}", headers=admin)) == []
