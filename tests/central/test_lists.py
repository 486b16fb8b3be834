"""Vehicle lists and holders: categories checked, plates normalised, holder changes reach the edges."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from central.core.security import Role
from parking.wire import SyncPage
from tests.central.conftest import Operators
from tests.central.scenario import make_holder, make_plan, make_site, ok

pytestmark = pytest.mark.postgres


def test_free_vehicles_need_a_known_category(client: TestClient, as_role: Operators) -> None:
    keeper = as_role[Role.SUPERVISOR]
    refused = client.post("/api/v1/vehicles", headers=keeper,
                          json={"list_kind": "free", "plate": "粤B12345", "category": "friend"})  # fmt: skip
    assert refused.json()["code"] == "request.invalid"
    entry = ok(client.post("/api/v1/vehicles", headers=keeper,
                           json={"list_kind": "free", "plate": "粤b 12345", "category": "police",
                                 "reason": "patrol car", "car_parks": ["lakeview"]}), 201)  # fmt: skip
    assert entry["plate"] == "粤B12345"
    listed = ok(client.get("/api/v1/vehicles?list_kind=free&plate=粤B12345", headers=as_role[Role.COLLECTOR]))
    assert [v["id"] for v in listed] == [entry["id"]]
    changed = ok(client.put(f"/api/v1/vehicles/{entry['id']}", headers=keeper,
                            json={"list_kind": "special", "plate": "粤B12345", "category": "hearse"}))  # fmt: skip
    assert (changed["list_kind"], changed["category"]) == ("special", "hearse")


def test_renaming_a_holder_republishes_their_pass(client: TestClient, as_role: Operators) -> None:
    site = make_site(client, as_role.admin)
    holder = make_holder(client, as_role[Role.FRONT_DESK], name="张三")
    plan = make_plan(client, as_role.admin)
    ok(client.post("/api/v1/passes", headers=as_role[Role.FRONT_DESK],
                   json={"holder_id": holder, "plan_id": plan, "plates": ["粤B00001"]}), 201)  # fmt: skip
    start = SyncPage.model_validate_json(client.get("/api/v1/sync", headers=site.edge_headers).content)
    ok(client.patch(f"/api/v1/holders/{holder}", headers=as_role[Role.FRONT_DESK], json={"name": "张三丰"}))
    delta = SyncPage.model_validate_json(
        client.get(f"/api/v1/sync?since={start.version}", headers=site.edge_headers).content
    )
    assert [p.holder for p in delta.passes] == ["张三丰"]
    found = ok(client.get("/api/v1/holders?name=三丰", headers=as_role[Role.COLLECTOR]))
    assert [h["id"] for h in found] == [holder]


def test_changing_an_access_group_reaches_its_cards(client: TestClient, as_role: Operators) -> None:
    site = make_site(client, as_role.admin)
    holder = make_holder(client, as_role[Role.FRONT_DESK])
    group = ok(
        client.post("/api/v1/access-groups", headers=as_role.admin, json={"name": "garage", "lanes": ["in-1"]}), 201
    )
    ok(client.post("/api/v1/cards", headers=as_role[Role.FRONT_DESK],
                   json={"raw": "3735928559", "holder_id": holder, "groups": [group["id"]]}), 201)  # fmt: skip
    start = SyncPage.model_validate_json(client.get("/api/v1/sync", headers=site.edge_headers).content)
    assert [c.lanes for c in start.cards] == [["in-1"]]
    ok(client.put(f"/api/v1/access-groups/{group['id']}", headers=as_role.admin,
                  json={"name": "garage", "lanes": ["in-1", "in-2"]}))  # fmt: skip
    delta = SyncPage.model_validate_json(
        client.get(f"/api/v1/sync?since={start.version}", headers=site.edge_headers).content
    )
    assert [c.lanes for c in delta.cards] == [["in-1", "in-2"]]
    missing = client.post("/api/v1/cards", headers=as_role[Role.FRONT_DESK],
                          json={"raw": "42", "holder_id": holder, "groups": [999]})  # fmt: skip
    assert (missing.status_code, missing.json()["code"]) == (404, "access_group.not_found")


def test_reminder_export_never_writes_a_spreadsheet_formula(client: TestClient, as_role: Operators) -> None:
    holder = make_holder(client, as_role.admin, name='=HYPERLINK("http://evil")')
    plan = make_plan(client, as_role.admin)
    ok(client.post("/api/v1/passes", headers=as_role.admin,
                   json={"holder_id": holder, "plan_id": plan, "plates": ["粤B00001"]}), 201)  # fmt: skip
    text = client.get("/api/v1/passes/reminders.csv?days=40", headers=as_role.admin).content.decode("utf-8-sig")
    assert "'=HYPERLINK" in text
    assert ",=HYPERLINK" not in text


def test_a_plate_wider_than_its_column_once_normalised_or_with_control_characters_is_refused_by_name(
    client: TestClient, as_role: Operators
) -> None:
    """Found by the stateful fuzz run: "½" and "¹" grow under NFKC, so 16 typed characters became 18 and the database
    refused the row without naming the field."""
    keeper = as_role[Role.SUPERVISOR]
    for plate in ("粤B½½½½½½½½½½½½½½", "粤B1\x0b2345", "粤B1\u200b2345"):
        refused = client.post("/api/v1/vehicles", headers=keeper,
                              json={"list_kind": "special", "plate": plate, "category": "hearse"})  # fmt: skip
        assert refused.status_code == 422, (plate, refused.text)
        body = refused.json()
        assert body["code"] == "request.invalid"
        assert "plate" in str(body["detail"]), body
