"""The arrears ledger, the dunning list and the collection statistics pages (TestClient, PostgreSQL): an unpaid
invoice past due shows in its ageing bucket and on the dunning list, a partial payment in the month's figures, the
exports answer CSV and XLSX; only the roles reading the books see them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from central.core.db import utcnow
from central.core.security import Role
from central.models import Invoice
from tests.central.billing_scenario import sell_pass
from tests.central.conftest import Operators
from tests.central.office import error_beside, post, sign_in

pytestmark = pytest.mark.postgres


def test_the_ledger_ages_an_overdue_invoice_and_the_month_counts_a_payment(
    client: TestClient, as_role: Operators, central_engine: Engine
) -> None:
    sale = sell_pass(client, as_role, price=30000)
    invoice = f"/office/invoices/{sale.invoice['id']}"
    sign_in(client, Role.CASHIER)
    client.cookies.set("parkgate_office_lang", "en", path="/office")
    paid = {"method": "bank_transfer", "amount": "120.00", "reference": "TRF-2"}
    assert post(client, f"{invoice}/payments", paid, page=invoice)[0] == 303
    with Session(central_engine) as session:
        row = session.get_one(Invoice, sale.invoice["id"])
        row.due_at = utcnow() - timedelta(days=45)
        session.commit()
    page = client.get("/office/arrears", params={"min_days": "40"}).text
    assert "180.00 CNY" in page.split('data-bucket="31-60"')[1][:40]
    assert f'data-dunning="{sale.holder}"' in page
    assert f'data-dunning="{sale.holder}"' not in client.get("/office/arrears", params={"min_days": "60"}).text
    assert error_beside(client.get("/office/arrears", params={"min_days": "x"}).text, "min_days") == (
        "Enter a whole number.")  # fmt: skip
    exported = client.get("/office/arrears/export?format=csv")
    assert exported.headers["content-type"].startswith("text/csv")
    assert "180" in exported.text
    assert client.get("/office/arrears/export?format=xlsx").content.startswith(b"PK")
    month = utcnow().strftime("%Y-%m")
    stats = client.get("/office/statistics", params={"month": month}).text
    assert "300.00 CNY" in stats and "120.00 CNY" in stats  # noqa: PT018 (billed and collected on one row)
    assert client.get("/office/statistics/export", params={"month": month, "format": "xlsx"}).status_code == 200


def test_only_the_book_readers_see_the_arrears_and_the_statistics(client: TestClient) -> None:
    for role, status in ((Role.CASHIER, 200), (Role.AUDITOR, 200), (Role.FRONT_DESK, 403), (Role.COLLECTOR, 403)):
        client.cookies.clear()
        sign_in(client, role)
        for path in ("/office/arrears", "/office/statistics"):
            assert client.get(path).status_code == status, (role, path)
            assert (f'href="{path}"' in client.get("/office/home").text) is (status == 200), (role, path)


def test_the_cashier_opens_and_closes_the_drawer(client: TestClient) -> None:
    sign_in(client, Role.CASHIER)
    client.cookies.set("parkgate_office_lang", "en", path="/office")
    status, page = post(client, "/office/drawer/open", {"d10000": "x"}, page="/office/drawer")
    assert error_beside(page, "d10000") == "Enter a whole number."
    assert post(client, "/office/drawer/open", {"d10000": "2"}, page="/office/drawer") == (
        303,
        "/office/drawer?done=opened",
    )
    assert "200.00 CNY" in client.get("/office/drawer").text.split("data-expected>")[1][:20]
    status, page = post(client, "/office/drawer/close", {"d10000": "2", "keep_float": "500"}, page="/office/drawer")
    assert status == 422
    assert error_beside(page, "keep_float").startswith("Refused:")
    assert post(client, "/office/drawer/close", {"d10000": "2"}, page="/office/drawer")[0] == 303
    assert 'data-bag="BAG-' in client.get("/office/drawer").text
