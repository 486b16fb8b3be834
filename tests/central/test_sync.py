"""List sync over the wire contract: snapshots and deltas, scoped to the edge's car park, paged, with deletions,
and only for a valid edge token."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, update
from sqlalchemy.orm import Session

from central.core.security import Role
from central.models import SyncItem
from central.publication import purge_tombstones
from parking.wire import SyncPage
from tests.central.conftest import Operators
from tests.central.scenario import Site, make_holder, make_plan, make_site, ok

pytestmark = pytest.mark.postgres


def pull(client: TestClient, site: Site, since: int = 0, limit: int | None = None) -> SyncPage:
    query = f"?since={since}" + (f"&limit={limit}" if limit else "")
    answer = client.get(f"/api/v1/sync{query}", headers=site.edge_headers)
    assert answer.status_code == 200, answer.text
    return SyncPage.model_validate_json(answer.content)


def sell(client: TestClient, headers: dict[str, str], plan: int, plate: str) -> str:
    holder = make_holder(client, headers, name=f"holder {plate}")
    body = {"holder_id": holder, "plan_id": plan, "plates": [plate], "months": 1}
    return str(ok(client.post("/api/v1/passes", headers=headers, json=body), 201)["id"])


def test_snapshot_is_scoped_to_the_edges_car_park(client: TestClient, as_role: Operators) -> None:
    admin = as_role.admin
    lakeview = make_site(client, admin, "lakeview")
    harbour = make_site(client, admin, "harbour")
    underscore = make_site(client, admin, "lake_view")  # its "_" must not match the "-" of "lake-view"
    everywhere = sell(client, admin, make_plan(client, admin), "粤B00001")
    lakeview_only = sell(client, admin, make_plan(client, admin, ["lakeview"]), "粤B00002")
    harbour_only = sell(client, admin, make_plan(client, admin, ["harbour"]), "粤B00003")
    sell(client, admin, make_plan(client, admin, ["lake-view"]), "粤B00004")
    page = pull(client, lakeview)
    assert page.full
    assert not page.more
    assert {p.id for p in page.passes} == {everywhere, lakeview_only}
    assert {p.id for p in pull(client, harbour).passes} == {everywhere, harbour_only}
    assert {p.id for p in pull(client, underscore).passes} == {everywhere}
    record = next(p for p in page.passes if p.id == lakeview_only)
    assert record.holder == "holder 粤B00002"
    assert record.unit == "3-1201"
    assert record.car_parks == ["lakeview"]


def test_deltas_carry_changes_and_deletions(client: TestClient, as_role: Operators) -> None:
    admin = as_role.admin
    site = make_site(client, admin)
    pass_id = sell(client, admin, make_plan(client, admin), "粤B00001")
    start = pull(client, site)
    assert start.version > 0
    assert pull(client, site, since=start.version).passes == []

    ok(client.post(f"/api/v1/passes/{pass_id}/suspend", headers=admin))
    blacklisted = ok(client.post("/api/v1/vehicles", headers=as_role[Role.SUPERVISOR],
                                 json={"list_kind": "blacklist", "plate": "粤B66666", "category": "fraud",
                                       "reason": "drove through the barrier"}), 201)  # fmt: skip
    delta = pull(client, site, since=start.version)
    assert not delta.full
    assert [(p.id, p.status) for p in delta.passes] == [(pass_id, "suspended")]
    assert [(v.plate, v.list_kind) for v in delta.vehicles] == [("粤B66666", "blacklist")]

    ok(client.delete(f"/api/v1/vehicles/{blacklisted['id']}", headers=admin), 204)
    after = pull(client, site, since=delta.version)
    assert [(d.kind, d.id) for d in after.deleted] == [("vehicles", blacklisted["id"])]
    assert after.vehicles == []
    # A fresh snapshot no longer has it at all.
    assert pull(client, site).vehicles == []


def test_a_record_leaving_the_car_park_is_deleted_at_that_edge(client: TestClient, as_role: Operators) -> None:
    admin = as_role.admin
    site = make_site(client, admin)
    make_site(client, admin, "harbour")
    plan = make_plan(client, admin, ["lakeview"])
    pass_id = sell(client, admin, plan, "粤B00001")
    start = pull(client, site)
    assert [p.id for p in start.passes] == [pass_id]
    ok(client.patch(f"/api/v1/plans/{plan}", headers=as_role[Role.OFFICE], json={"car_parks": ["harbour"]}))
    delta = pull(client, site, since=start.version)
    assert delta.passes == []
    assert [(d.kind, d.id) for d in delta.deleted] == [("passes", pass_id)]


def test_pages_chain_from_a_snapshot_into_deltas(client: TestClient, as_role: Operators) -> None:
    admin = as_role.admin
    site = make_site(client, admin)
    plan = make_plan(client, admin)
    ids = {sell(client, admin, plan, f"粤B1000{n}") for n in range(5)}
    first = pull(client, site, limit=2)
    assert (first.full, first.more, len(first.passes)) == (True, True, 2)
    seen = {p.id for p in first.passes}
    page = first
    while page.more:
        page = pull(client, site, since=page.version, limit=2)
        assert not page.full
        seen |= {p.id for p in page.passes}
    assert seen == ids
    assert page.version == pull(client, site).version


def test_cards_stop_at_the_next_sync(client: TestClient, as_role: Operators) -> None:
    admin, desk = as_role.admin, as_role[Role.FRONT_DESK]
    site = make_site(client, admin)
    holder = make_holder(client, desk)
    group = ok(client.post("/api/v1/access-groups", headers=admin,
                           json={"name": "tower 3", "lanes": ["in-1", "door-3"]}), 201)  # fmt: skip
    issue = {"facility": 12, "card": 34567, "holder_id": holder, "groups": [group["id"]], "deposit_minor": 5000}
    card = ok(client.post("/api/v1/cards", headers=desk, json=issue), 201)
    assert card["number"] == "12:34567"
    taken = client.post("/api/v1/cards", headers=desk, json={"facility": 12, "card": 34567, "holder_id": holder})
    assert taken.json()["code"] == "card.number_in_use"
    start = pull(client, site)
    assert [(c.number, c.lanes, c.status) for c in start.cards] == [("12:34567", ["door-3", "in-1"], "active")]
    new = ok(client.post(f"/api/v1/cards/{card['id']}/replace", headers=desk, json={"raw": "0xA1B2C3"}), 201)
    assert new["deposit_minor"] == 5000
    delta = pull(client, site, since=start.version)
    assert {(c.number, c.status) for c in delta.cards} == {("12:34567", "replaced"), ("0xA1B2C3", "active")}
    lost = ok(client.post(f"/api/v1/cards/{new['id']}/lost", headers=desk))
    assert lost["status"] == "lost"
    again = client.post(f"/api/v1/cards/{new['id']}/revoke", headers=desk)
    assert again.json()["code"] == "card.not_active"


def test_tariffs_are_published(client: TestClient, as_role: Operators) -> None:
    site = make_site(client, as_role.admin)
    office = as_role[Role.OFFICE]
    bad = client.put("/api/v1/tariffs/residential", headers=office, json={"content": "currency = 'CNY'\n"})
    assert (bad.status_code, bad.json()["code"]) == (422, "tariff.invalid")
    assert {"path": "id", "message": "required key is missing"} in bad.json()["detail"]
    text = (Path(__file__).resolve().parents[2] / "config" / "tariffs" / "residential.toml").read_text()
    wrong = client.put("/api/v1/tariffs/standard", headers=office, json={"content": text})
    assert [p["path"] for p in wrong.json()["detail"]] == ["id"]
    past = client.put("/api/v1/tariffs/residential", headers=office,
                      json={"content": text, "effective_from": "2020-01-01T00:00:00Z"})  # fmt: skip
    assert [p["path"] for p in past.json()["detail"]] == ["effective_from"]
    ok(client.put("/api/v1/tariffs/residential", headers=office, json={"content": text}))
    later = "2099-01-01T00:00:00Z"
    dearer = text.replace('price = "5.00"', 'price = "6.00"')
    listed = ok(client.put("/api/v1/tariffs/residential", headers=office,
                           json={"content": dearer, "effective_from": later}))  # fmt: skip
    assert [(v["id"], v["number"]) for v in listed["versions"]] == [("residential@1", 1), ("residential@2", 2)]
    page = pull(client, site)  # every version stays published: a stay is quoted by the one in effect at its entry
    assert [(t.id, t.tariff_id, t.content) for t in page.tariffs] == [
        ("residential@1", "residential", text), ("residential@2", "residential", dearer)
    ]  # fmt: skip
    assert page.tariffs[1].effective_from == datetime(2099, 1, 1, tzinfo=UTC)
    ok(client.delete("/api/v1/tariffs/residential", headers=office), 204)
    gone = pull(client, site, since=page.version).deleted
    assert sorted(d.id for d in gone) == ["residential@1", "residential@2"]


def test_an_edge_too_far_behind_or_ahead_gets_a_snapshot(
    client: TestClient, as_role: Operators, central_engine: Engine
) -> None:
    admin = as_role.admin
    site = make_site(client, admin)
    entry = ok(client.post("/api/v1/vehicles", headers=admin,
                           json={"list_kind": "free", "plate": "粤B00110", "category": "ambulance"}), 201)  # fmt: skip
    start = pull(client, site)
    ok(client.delete(f"/api/v1/vehicles/{entry['id']}", headers=admin), 204)
    kept = ok(client.post("/api/v1/vehicles", headers=admin,
                          json={"list_kind": "free", "plate": "粤B00120", "category": "fire"}), 201)  # fmt: skip
    with Session(central_engine) as session:
        session.execute(update(SyncItem).values(changed_at=datetime.now(UTC) - timedelta(days=400)))
        assert purge_tombstones(session, timedelta(days=90)) == 1
        session.commit()
    page = pull(client, site, since=start.version)
    assert page.full
    assert [v.id for v in page.vehicles] == [kept["id"]]
    assert pull(client, site, since=page.version + 1000).full


def test_only_edge_tokens_sync(client: TestClient, as_role: Operators) -> None:
    site = make_site(client, as_role.admin)
    assert client.get("/api/v1/sync").json()["code"] == "auth.missing_token"
    assert client.get("/api/v1/sync", headers=as_role.admin).json()["code"] == "auth.invalid_edge_token"
    assert client.get("/api/v1/passes", headers=site.edge_headers).json()["code"] == "auth.invalid_token"
    ok(client.post(f"/api/v1/edges/{site.edge}/revoke", headers=as_role.admin))
    revoked = client.get("/api/v1/sync", headers=site.edge_headers)
    assert (revoked.status_code, revoked.json()["code"]) == (401, "auth.invalid_edge_token")
    fresh = ok(client.post(f"/api/v1/edges/{site.edge}/token", headers=as_role.admin))["token"]
    assert client.get("/api/v1/sync", headers={"Authorization": f"Bearer {fresh}"}).status_code == 200
