"""Monthly passes: selling makes an invoice line, renewal extends by calendar months, status changes are guarded,
transfers swap a plate; reminders list and export the passes about to expire; every change is audited."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from central.core.security import Role
from central.renewal import expire_lapsed_passes
from tests.central.conftest import Operators
from tests.central.scenario import make_holder, make_plan, ok

pytestmark = pytest.mark.postgres


def sell(client: TestClient, headers: dict[str, str], **extra: object) -> dict[str, Any]:
    holder = make_holder(client, headers)
    plan = make_plan(client, headers, price=30000)
    body = {"holder_id": holder, "plan_id": plan, "plates": ["粤B·3R7K2"], "months": 1,
            "valid_from": "2026-01-31T00:00:00+08:00", **extra}  # fmt: skip
    result: dict[str, Any] = ok(client.post("/api/v1/passes", headers=headers, json=body), 201)
    return result


def test_selling_a_pass_makes_an_invoice_line_and_normalises_plates(client: TestClient, as_role: Operators) -> None:
    monthly = sell(client, as_role.admin)
    assert monthly["plates"] == ["粤B3R7K2"]
    # 31 January + 1 month in the operator's zone is the last day of February, not 3 March.
    assert monthly["valid_to"].startswith("2026-02-27T16:00:00")
    lines = ok(client.get("/api/v1/invoice-lines", headers=as_role[Role.OFFICE]))
    assert [(line["amount_minor"], line["currency"], line["months"]) for line in lines] == [(30000, "CNY", 1)]
    assert lines[0]["pass_id"] == monthly["id"]


def test_renewal_extends_and_bills_by_months(client: TestClient, as_role: Operators) -> None:
    monthly = sell(client, as_role.admin, valid_from=datetime.now(UTC).isoformat())
    renewed = ok(client.post(f"/api/v1/passes/{monthly['id']}/renew", headers=as_role[Role.FRONT_DESK],
                             json={"months": 3}))  # fmt: skip
    assert datetime.fromisoformat(renewed["valid_to"]) > datetime.fromisoformat(str(monthly["valid_to"])) + timedelta(
        days=85
    )
    lines = ok(client.get(f"/api/v1/invoice-lines?pass_id={monthly['id']}", headers=as_role.admin))
    assert [line["amount_minor"] for line in lines] == [30000, 90000]
    assert lines[1]["period_from"] == lines[0]["period_to"]


def test_status_changes_follow_the_rules(client: TestClient, as_role: Operators) -> None:
    pass_id = sell(client, as_role.admin)["id"]
    base = f"/api/v1/passes/{pass_id}"
    assert ok(client.post(f"{base}/suspend", headers=as_role.admin))["status"] == "suspended"
    refused = client.post(f"{base}/suspend", headers=as_role.admin)
    assert refused.status_code == 409
    assert refused.json()["code"] == "pass.bad_status"
    assert ok(client.post(f"{base}/resume", headers=as_role.admin))["status"] == "active"
    assert ok(client.post(f"{base}/cancel", headers=as_role.admin))["status"] == "cancelled"
    renewal = client.post(f"{base}/renew", headers=as_role.admin, json={"months": 1})
    assert renewal.status_code == 409
    assert renewal.json()["code"] == "pass.cancelled"


def test_transfer_to_a_new_plate(client: TestClient, as_role: Operators) -> None:
    pass_id = sell(client, as_role.admin, plates=["粤B3R7K2", "粤BD12345"])["id"]
    moved = ok(client.post(f"/api/v1/passes/{pass_id}/transfer", headers=as_role.admin,
                           json={"old_plate": "粤B3R7K2", "new_plate": "粤A 88888"}))  # fmt: skip
    assert moved["plates"] == ["粤A88888", "粤BD12345"]
    missing = client.post(f"/api/v1/passes/{pass_id}/transfer", headers=as_role.admin,
                          json={"old_plate": "粤B3R7K2", "new_plate": "粤A00001"})  # fmt: skip
    assert missing.json()["code"] == "pass.plate_not_on_pass"
    found = ok(client.get("/api/v1/passes?plate=粤A88888", headers=as_role[Role.COLLECTOR]))
    assert [p["id"] for p in found] == [pass_id]
    trail = ok(client.get(f"/api/v1/audit?entity=pass&entity_id={pass_id}", headers=as_role[Role.SUPERVISOR]))
    assert [entry["action"] for entry in trail] == ["pass.transfer", "pass.create"]
    assert trail[0]["before"]["plates"] == ["粤B3R7K2", "粤BD12345"]
    assert trail[0]["after"]["plates"] == ["粤A88888", "粤BD12345"]
    assert trail[0]["username"] == "admin"


def test_reminders_list_and_csv(client: TestClient, as_role: Operators) -> None:
    now = datetime.now(UTC)
    soon = sell(client, as_role.admin, valid_from=(now - timedelta(days=25)).isoformat())  # ends in ~5 days
    sell(client, as_role.admin, valid_from=now.isoformat())  # ends in ~30 days
    due = ok(client.get("/api/v1/passes/reminders?days=10", headers=as_role[Role.COLLECTOR]))
    assert [r["pass_id"] for r in due] == [soon["id"]]
    assert due[0]["phone"] == "13800000000"
    assert due[0]["unit"] == "3-1201"
    assert 3 <= due[0]["days_left"] <= 6
    export = client.get("/api/v1/passes/reminders.csv?days=10", headers=as_role[Role.FRONT_DESK])
    assert export.status_code == 200
    assert export.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(export.content.decode("utf-8-sig"))))
    assert rows[0][0] == "pass"
    assert [row[0] for row in rows[1:]] == [soon["id"]]
    assert rows[1][4] == "王小明"
    assert len(ok(client.get("/api/v1/passes/reminders?days=40", headers=as_role.admin))) == 2


def test_validation_errors_have_a_stable_code(client: TestClient, as_role: Operators) -> None:
    answer = client.post("/api/v1/passes", headers=as_role.admin, json={"holder_id": 1, "plates": []})
    assert answer.status_code == 422
    body = answer.json()
    assert body["code"] == "request.invalid"
    assert {tuple(p["loc"]) for p in body["detail"]} >= {("body", "plan_id"), ("body", "plates")}
    unknown = client.get("/api/v1/passes/nope", headers=as_role.admin)
    assert (unknown.status_code, unknown.json()["code"]) == (404, "pass.not_found")


def test_lapsed_passes_expire_and_renewal_revives_them(
    client: TestClient, as_role: Operators, central_engine: Engine
) -> None:
    lapsed = sell(client, as_role.admin, valid_from=(datetime.now(UTC) - timedelta(days=40)).isoformat())
    current = sell(client, as_role.admin, valid_from=datetime.now(UTC).isoformat())
    with Session(central_engine) as session:
        assert expire_lapsed_passes(session, datetime.now(UTC)) == 1
        session.commit()
    assert ok(client.get(f"/api/v1/passes/{lapsed['id']}", headers=as_role.admin))["status"] == "expired"
    assert ok(client.get(f"/api/v1/passes/{current['id']}", headers=as_role.admin))["status"] == "active"
    renewed = ok(client.post(f"/api/v1/passes/{lapsed['id']}/renew", headers=as_role.admin, json={"months": 1}))
    assert renewed["status"] == "active"
    assert datetime.fromisoformat(renewed["valid_to"]) > datetime.now(UTC) + timedelta(days=27)
    trail = ok(client.get(f"/api/v1/audit?entity=pass&entity_id={lapsed['id']}", headers=as_role.admin))
    assert [(e["action"], e["username"]) for e in trail][:2] == [("pass.renew", "admin"), ("pass.expire", "system")]
