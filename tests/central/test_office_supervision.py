"""The supervisor's and the back office's pages (TestClient, central on PostgreSQL; and the whole console once on
central's embedded SQLite): shift reports with their filters in the car park's zone, the audit log, chain breaks,
the cashier's invoice lines."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, Engine, insert

from central.core.config import Settings
from central.core.db import make_engine
from central.core.migrate import upgrade
from central.core.security import Role
from central.main import create_app
from central.models import AuditEntry, CarPark, ChainBreak, EdgeRecord, EdgeShiftReport, User
from tests.central.conftest import Operators, password_hash
from tests.central.office import post, sign_in
from tests.central.scenario import make_holder, make_plan


def _shift(conn: Connection, record: str, car_park: str, at: datetime, difference: int, valid: bool = True) -> None:
    conn.execute(insert(EdgeRecord).values(id=record, edge_id=f"{car_park}-edge", seq=1, kind="shift_report",
                                           car_park=car_park, lane=None, at=at, payload={}, prev_hash="0" * 64,
                                           hash="1" * 64))  # fmt: skip
    conn.execute(insert(EdgeShiftReport).values(
        record_id=record, edge_id=f"{car_park}-edge", car_park=car_park, at=at, shift=f"shift-{record}",
        booth="booth-1", revision=1, operator="c01", currency="CNY", takings=123456, cash_expected=60000,
        cash_counted=60000 + difference, cash_difference=difference, cards_difference=0, unexplained_cycles=0,
        valid=valid, problem="" if valid else "the cash count does not add up"))  # fmt: skip


@pytest.mark.postgres
def test_shift_reports_audit_log_and_chain_breaks_with_filters(client: TestClient, central_engine: Engine) -> None:
    with central_engine.begin() as conn:
        conn.execute(insert(CarPark).values(id="lakeview", name="Lakeview", timezone="Asia/Shanghai", currency="CNY"))
        conn.execute(insert(CarPark).values(id="harbour", name="Harbour", timezone="Europe/London", currency="CNY"))
        # 23:30 UTC on 1 March is 07:30 on 2 March in Shanghai: the day filters and the times are local.
        _shift(conn, "r1", "lakeview", datetime(2026, 3, 1, 23, 30, tzinfo=UTC), -1000)
        _shift(conn, "r2", "harbour", datetime(2026, 3, 1, 23, 30, tzinfo=UTC), 0)
        _shift(conn, "r3", "lakeview", datetime(2026, 3, 5, 10, 0, tzinfo=UTC), 0, valid=False)
        conn.execute(insert(ChainBreak).values(edge_id="lakeview-edge", seq=7, record_id="rec-7",
                                               reason="hash_mismatch", detail="seq 7: hash_mismatch"))  # fmt: skip
        lost = {"status": "lost", "operator_reason": "lost in the lift"}
        conn.execute(insert(AuditEntry).values(username="front_desk", action="card.lost", entity="card",
                                               entity_id="c-1", before={"status": "active"}, after=lost))  # fmt: skip
        conn.execute(insert(AuditEntry).values(username="admin", action="plan.create", entity="plan", entity_id="1",
                                               before=None, after={"name": "monthly"}))  # fmt: skip
    assert sign_in(client, Role.SUPERVISOR) == "/office/supervisor"
    client.cookies.set("parkgate_office_lang", "en", path="/office")
    everything = client.get("/office/supervisor").text
    assert everything.count("<td>booth-1</td>") == 3
    assert "2026-03-02 07:30" in everything
    assert "2026-03-01 23:30" in everything
    assert "1,234.56" in everything
    assert "-10.00" in everything
    assert "refused: the cash count does not add up" in everything
    march_2 = client.get("/office/supervisor", params={"car_park": "lakeview", "since": "2026-03-02",
                                                       "until": "2026-03-02"}).text  # fmt: skip
    assert "shift-r1" in march_2
    assert "shift-r2" not in march_2
    assert "shift-r3" not in march_2
    invalid = client.get("/office/supervisor", params={"validity": "invalid"}).text
    assert "shift-r3" in invalid
    assert "shift-r1" not in invalid
    bad_day = client.get("/office/supervisor", params={"since": "2026-02-30"}).text
    assert "Enter a date as YYYY-MM-DD." in bad_day

    cards = client.get("/office/audit", params={"action": "card."}).text
    assert "lost in the lift" in cards
    assert "plan.create" not in cards
    assert "plan.create" in client.get("/office/audit", params={"username": "admin"}).text
    assert "hash_mismatch" in client.get("/office/chain-breaks", params={"edge_id": "lakeview-edge"}).text
    assert "No chain break" in client.get("/office/chain-breaks", params={"edge_id": "other"}).text


@pytest.mark.postgres
def test_the_cashier_sees_the_open_invoices_and_the_slots(client: TestClient, as_role: Operators) -> None:
    holder, plan = make_holder(client, as_role.admin), make_plan(client, as_role.admin, price=30000)
    sold = client.post("/api/v1/passes", headers=as_role.admin,
                       json={"holder_id": holder, "plan_id": plan, "plates": ["粤B3R7K2"], "months": 2})  # fmt: skip
    assert sold.status_code == 201
    sign_in(client, Role.CASHIER)
    page = client.get("/office/cashier", headers={"Accept-Language": "en"}).text
    assert "600.00 CNY" in page
    assert "王小明" in page
    assert "data-slot=" not in page  # every cashier's page is a link now: no slot waits for billing
    assert 'href="/office/invoices"' in page
    assert 'href="/office/debit-runs"' in page


def test_the_console_on_the_embedded_sqlite_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'central.sqlite3'}"
    engine = make_engine(url)
    upgrade(engine)
    with engine.begin() as conn:
        for role in (Role.FRONT_DESK, Role.SUPERVISOR):
            conn.execute(insert(User).values(username=role.value, full_name="", role=role.value,
                                             password_hash=password_hash(), active=True))  # fmt: skip
    engine.dispose()
    app = create_app(Settings(database_url=url))
    try:
        with TestClient(app) as client:
            sign_in(client, Role.FRONT_DESK)
            post(client, "/office/units", {"building": "1", "room": "101"})
            status, where = post(client, "/office/holders/new", {"name": "张三", "unit_id": "1"})
            assert status == 303
            assert "张三" in client.get(where).text
            assert post(client, "/office/vehicles", {"list_kind": "special", "plate": "粤B99999", "category": "hearse",
                                                     "reason": "funeral service"})[0] == 303  # fmt: skip
            assert 'href="/office/holders/1"' in client.get("/office/desk", params={"q": "1-101"}).text
            client.cookies.clear()
            sign_in(client, Role.SUPERVISOR)
            assert "funeral service" in client.get("/office/audit").text
            assert client.get("/office/supervisor").status_code == 200
    finally:
        app.state.engine.dispose()
