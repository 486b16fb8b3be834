"""Pass income in the revenue report (PostgreSQL): the money received for pass sales and renewals by the day it was
received, less the refunds paid out by the day paid, beside the temporary takings; the passes billed beside it; a
plan of several car parks counted at each; a payment from credit not counted twice; the CSV and XLSX exports."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from central.core.security import Role
from tests.central.conftest import Operators
from tests.central.office import sign_in
from tests.central.scenario import make_holder, make_plan, make_site, ok
from tests.central.test_reports import export_csv, export_xlsx, send_day, table_rows

pytestmark = pytest.mark.postgres
SHANGHAI = ZoneInfo("Asia/Shanghai")
BILLED_AT = datetime(2026, 11, 3, 9, 30, tzinfo=SHANGHAI)
PATH = "/office/reports/revenue"


def _sell(client: TestClient, as_role: Operators, holder: int, plan: int, plate: str) -> int:
    sale = {"holder_id": holder, "plan_id": plan, "plates": [plate], "months": 1}
    monthly = ok(client.post("/api/v1/passes", headers=as_role[Role.FRONT_DESK], json=sale), 201)
    invoices = ok(client.get(f"/api/v1/billing/invoices?pass_id={monthly['id']}", headers=as_role[Role.CASHIER]))
    return int(invoices[0]["id"])


def _pay(client: TestClient, as_role: Operators, invoice: int, method: str, amount: int) -> None:
    ok(client.post(f"/api/v1/billing/invoices/{invoice}/payments", headers=as_role[Role.CASHIER],
                   json={"method": method, "amount_minor": amount, "reference": f"REF-{invoice}"}), 201)  # fmt: skip


def _refund(client: TestClient, as_role: Operators, invoice: int, amount: int) -> None:
    refund = ok(client.post(f"/api/v1/billing/invoices/{invoice}/refunds", headers=as_role[Role.CASHIER],
                            json={"amount_minor": amount, "reason": "moving out"}), 201)  # fmt: skip
    ok(client.post(f"/api/v1/billing/refunds/{refund['id']}/approve", headers=as_role[Role.SUPERVISOR], json={}))
    ok(client.post(f"/api/v1/billing/refunds/{refund['id']}/pay", headers=as_role[Role.CASHIER],
                   json={"method": "bank_transfer", "reference": "OUT-1"}))  # fmt: skip


@pytest.fixture
def billed(client: TestClient, as_role: Operators, central_engine: Engine, tmp_path: Path) -> TestClient:
    """November 2026 at lakeview and hillside: the temporary day of :mod:`tests.central.report_journal` and four
    passes sold through the API on the 3rd, paid and refunded on known days (the times moved after the fact)."""
    send_day(client, as_role.admin, tmp_path)
    make_site(client, as_role.admin, "hillside")
    office = as_role[Role.OFFICE]
    first, second = make_holder(client, as_role[Role.FRONT_DESK]), make_holder(client, as_role[Role.FRONT_DESK], "李四")
    a = _sell(client, as_role, first, make_plan(client, office, ["lakeview"], price=31000), "粤B10001")
    _pay(client, as_role, a, "bank_card", 32000)  # 10.00 more than owed: kept as credit
    b = _sell(client, as_role, first, make_plan(client, office, ["lakeview"], price=20000), "粤B10002")  # credit 10.00
    _pay(client, as_role, b, "epay", 5000)
    c = _sell(client, as_role, second, make_plan(client, office, ["hillside"], price=15000), "粤B10003")
    _pay(client, as_role, c, "epay", 15000)
    d = _sell(client, as_role, second, make_plan(client, office, ["lakeview", "hillside"], price=12000), "粤B10004")
    _pay(client, as_role, d, "epay", 12000)
    _refund(client, as_role, a, 10000)
    received = {a: datetime(2026, 11, 5, 10, 0), b: datetime(2026, 11, 27, 16, 0), c: datetime(2026, 11, 5, 11, 0),
                d: datetime(2026, 12, 1, 0, 10)}  # fmt: skip  # d: 30 November 16:10 UTC, 1 December in Shanghai
    with central_engine.begin() as db:
        db.execute(text("UPDATE invoices SET issued_at = :at"), {"at": BILLED_AT})
        db.execute(text("UPDATE payments SET received_at = :at WHERE method = 'credit'"), {"at": BILLED_AT})
        for invoice, at in received.items():
            db.execute(text("UPDATE payments SET received_at = :at WHERE invoice_id = :id AND method <> 'credit'"),
                       {"at": at.replace(tzinfo=SHANGHAI), "id": invoice})  # fmt: skip
        db.execute(text("UPDATE refunds SET paid_at = :at"), {"at": datetime(2026, 11, 20, 16, 0, tzinfo=SHANGHAI)})
        assert db.execute(text("SELECT count(*) FROM payments WHERE method = 'credit'")).scalar() == 1
    sign_in(client, Role.CASHIER)
    client.cookies.set("parkgate_office_lang", "en", path="/office")
    return client


def test_pass_income_collected_beside_temporary_takings_and_billed_beside_it(billed: TestClient) -> None:
    november = billed.get(PATH, params={"car_park": "lakeview", "month": "2026-11"}).text
    # Received 320.00 + 50.00 (the 10.00 from credit was received with the 320.00), refunded 100.00.
    assert table_rows(november, "income") == [["Temporary parking", "20.00"], ["Pass income collected", "270.00"],
                                              ["Total", "290.00"]]  # fmt: skip
    assert table_rows(november, "pass_billing") == [
        ["2026-11-03", "630.00", "0.00", "0.00", "0.00"],  # 310.00 + 200.00 + 120.00 (the plan of both car parks)
        ["2026-11-05", "0.00", "320.00", "0.00", "320.00"],
        ["2026-11-20", "0.00", "0.00", "100.00", "-100.00"],
        ["2026-11-27", "0.00", "50.00", "0.00", "50.00"],
    ]
    december = billed.get(PATH, params={"car_park": "lakeview", "month": "2026-12"}).text
    assert table_rows(december, "income")[1] == ["Pass income collected", "120.00"]  # d, paid at 00:10 local time
    assert table_rows(december, "pass_billing") == [["2026-12-01", "0.00", "120.00", "0.00", "120.00"]]
    hillside = billed.get(PATH, params={"car_park": "hillside", "month": "2026-11"}).text
    assert table_rows(hillside, "income") == [["Temporary parking", "0.00"], ["Pass income collected", "150.00"],
                                              ["Total", "150.00"]]  # fmt: skip
    assert table_rows(hillside, "pass_billing")[0] == ["2026-11-03", "270.00", "0.00", "0.00", "0.00"]
    every = billed.get(PATH, params={"month": "2026-11"}).text  # the plan of both car parks counted once
    assert table_rows(every, "income") == [["Temporary parking", "20.00"], ["Pass income collected", "420.00"],
                                           ["Total", "440.00"]]  # fmt: skip
    assert table_rows(every, "pass_billing")[0] == ["2026-11-03", "780.00", "0.00", "0.00", "0.00"]
    day = billed.get(PATH, params={"car_park": "lakeview", "day": "2026-11-27"}).text
    assert table_rows(day, "income") == [["Temporary parking", "20.00"], ["Pass income collected", "50.00"],
                                         ["Total", "70.00"]]  # fmt: skip
    assert billed.get("/office/reports/traffic").status_code == 403  # the cashier reads the revenue reports only


def test_pass_income_exports_read_back(billed: TestClient) -> None:
    month: dict[str, Any] = {"car_park": "lakeview", "month": "2026-11"}
    assert export_csv(billed, PATH, "income", **month) == [
        ["Income", "Collected (CNY)"], ["Temporary parking", "20.00"], ["Pass income collected", "270.00"],
        ["Total", "290.00"],
    ]  # fmt: skip
    assert export_csv(billed, PATH, "pass_billing", **month)[1:3] == [
        ["2026-11-03", "630.00", "0.00", "0.00", "0.00"], ["2026-11-05", "0.00", "320.00", "0.00", "320.00"],
    ]  # fmt: skip
    sheet = export_xlsx(billed, PATH, "pass_billing", **month)
    assert sheet[0] == ("Day", "Billed (CNY)", "Received (CNY)", "Refunded (CNY)", "Collected (CNY)")
    assert sheet[1:] == [
        (datetime(2026, 11, 3), Decimal("630.00"), 0, 0, 0),
        (datetime(2026, 11, 5), 0, Decimal("320.00"), 0, Decimal("320.00")),
        (datetime(2026, 11, 20), 0, 0, Decimal("100.00"), Decimal("-100.00")),
        (datetime(2026, 11, 27), 0, Decimal("50.00"), 0, Decimal("50.00")),
    ]
    income = export_xlsx(billed, PATH, "income", **month)
    assert [row[1] for row in income[1:]] == [Decimal("20.00"), Decimal("270.00"), Decimal("290.00")]
