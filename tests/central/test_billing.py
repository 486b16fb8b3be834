"""Billing at the office: a pass sold makes a numbered invoice and stays suspended until paid; partial payments
with receipts read back from the PDF; overpayment kept as credit and applied to the next invoice; refunds approved
by someone else and never above what was paid; the cashier's drawer closed into a numbered bag; idempotent calls."""

from __future__ import annotations

import io
import re

import pytest
from fastapi.testclient import TestClient
from pypdf import PdfReader

from central.core.security import Role
from tests.central.billing_scenario import open_drawer, sell_pass
from tests.central.conftest import Operators
from tests.central.scenario import ok

pytestmark = pytest.mark.postgres


def pdf_text(content: bytes) -> str:
    """The text without spaces (the CJK font's extraction interleaves NULs)."""
    return re.sub(r"[\s\x00]+", "", "".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages))


def test_sale_invoice_partial_payments_receipts_then_paid_and_active(client: TestClient, as_role: Operators) -> None:
    sale = sell_pass(client, as_role, price=30000)
    assert sale.monthly["status"] == "suspended"  # active once paid
    invoice = sale.invoice
    assert invoice["number"] == "INV-LAKEVIEW-" + invoice["issued_at"][:4] + "-000001"
    assert (invoice["kind"], invoice["status"], invoice["total_minor"]) == ("pass_sale", "open", 30000)
    cashier = as_role[Role.CASHIER]
    url = f"/api/v1/billing/invoices/{invoice['id']}/payments"
    open_drawer(client, as_role)
    first = ok(
        client.post(
            url, headers={**cashier, "Client-Request-Id": "desk-1-0001"}, json={"method": "cash", "amount_minor": 10000}
        ),
        201,
    )
    again = ok(
        client.post(
            url, headers={**cashier, "Client-Request-Id": "desk-1-0001"}, json={"method": "cash", "amount_minor": 10000}
        ),
        201,
    )
    assert again["id"] == first["id"]  # a retried call takes no second payment
    detail = ok(client.get(f"/api/v1/billing/invoices/{invoice['id']}", headers=cashier))
    assert (detail["status"], detail["paid_minor"], len(detail["payments"])) == ("open", 10000, 1)
    assert ok(client.get(f"/api/v1/passes/{sale.monthly['id']}", headers=cashier))["status"] == "suspended"

    receipt = client.get(f"/api/v1/billing/payments/{first['id']}/receipt.pdf", headers=cashier)
    assert receipt.headers["content-type"] == "application/pdf"
    text = pdf_text(receipt.content)
    assert "收据" in text
    assert first["receipt_number"] in text
    assert "王小明" in text
    assert "壹佰元整" in text
    assert "100.00CNY" in text
    assert "现金" in text
    assert "尚欠200.00CNY" in text  # still owed
    english = pdf_text(
        client.get(f"/api/v1/billing/payments/{first['id']}/receipt.pdf?lang=en", headers=cashier).content
    )
    assert "Receipt" in english
    assert "REPRINT1" in english
    assert first["receipt_number"] in english

    refused = client.post(url, headers=cashier, json={"method": "epay", "amount_minor": 20000})
    assert (refused.status_code, refused.json()["code"]) == (422, "payment.reference_required")
    second = ok(
        client.post(url, headers=cashier, json={"method": "epay", "amount_minor": 20000, "reference": "WX4200001234"}),
        201,
    )
    assert second["receipt_number"] != first["receipt_number"]
    paid = ok(client.get(f"/api/v1/billing/invoices/{invoice['id']}", headers=cashier))
    assert (paid["status"], paid["paid_minor"]) == ("paid", 30000)
    assert ok(client.get(f"/api/v1/passes/{sale.monthly['id']}", headers=cashier))["status"] == "active"
    trail = ok(client.get(f"/api/v1/audit?entity=pass&entity_id={sale.monthly['id']}", headers=as_role.admin))
    assert "pass.billing_release" in [entry["action"] for entry in trail]


def test_overpayment_becomes_credit_for_the_next_invoice(client: TestClient, as_role: Operators) -> None:
    sale = sell_pass(client, as_role, price=30000, rule={"activate_on": "invoice"})
    assert sale.monthly["status"] == "active"  # trusted: active on invoice
    cashier = as_role[Role.CASHIER]
    ok(
        client.post(
            f"/api/v1/billing/invoices/{sale.invoice['id']}/payments",
            headers=cashier,
            json={"method": "bank_transfer", "amount_minor": 35000, "reference": "TRF-77"},
        ),
        201,
    )
    account = ok(client.get(f"/api/v1/billing/accounts?holder_id={sale.holder}", headers=cashier))[0]
    assert account["credit_minor"] == 5000
    ok(
        client.put(
            "/api/v1/billing/fee-items/card_deposit",
            headers=as_role[Role.OFFICE],
            json={"name": "门禁卡押金 card deposit", "amount_minor": 2000},
        )
    )
    fees = ok(
        client.post(
            "/api/v1/billing/invoices",
            headers=as_role[Role.FRONT_DESK],
            json={"holder_id": sale.holder, "car_park": "lakeview", "items": [{"code": "card_deposit", "quantity": 1}]},
        ),
        201,
    )
    assert fees["number"].endswith("-000002")  # the same car park's series, no gap
    assert (fees["status"], fees["paid_minor"], fees["payments"][0]["method"]) == ("paid", 2000, "credit")
    account = ok(client.get(f"/api/v1/billing/accounts?holder_id={sale.holder}", headers=cashier))[0]
    assert account["credit_minor"] == 3000


def test_void_keeps_the_number_and_the_reason(client: TestClient, as_role: Operators) -> None:
    sale = sell_pass(client, as_role)
    cashier = as_role[Role.CASHIER]
    refused = client.post(f"/api/v1/billing/invoices/{sale.invoice['id']}/void", headers=cashier, json={"reason": " "})
    assert refused.status_code == 422
    voided = ok(
        client.post(
            f"/api/v1/billing/invoices/{sale.invoice['id']}/void",
            headers=cashier,
            json={"reason": "sold to the wrong holder"},
        )
    )
    assert (voided["number"], voided["status"], voided["void_reason"]) == (
        sale.invoice["number"],
        "void",
        "sold to the wrong holder",
    )
    again = client.post(
        f"/api/v1/billing/invoices/{sale.invoice['id']}/payments",
        headers=cashier,
        json={"method": "bank_card", "amount_minor": 100, "reference": "POS-1"},
    )
    assert (again.status_code, again.json()["code"]) == (409, "invoice.not_open")


def test_refund_needs_another_approver_and_never_exceeds_paid(client: TestClient, as_role: Operators) -> None:
    sale = sell_pass(client, as_role, price=31000, rule={"activate_on": "payment", "refund_mode": "pro_rata"})
    cashier, supervisor = as_role[Role.CASHIER], as_role[Role.SUPERVISOR]
    invoice_id = sale.invoice["id"]
    ok(
        client.post(
            f"/api/v1/billing/invoices/{invoice_id}/payments",
            headers=cashier,
            json={"method": "bank_card", "amount_minor": 31000, "reference": "POS-9"},
        ),
        201,
    )
    too_much = client.post(
        f"/api/v1/billing/invoices/{invoice_id}/refunds",
        headers=cashier,
        json={"amount_minor": 31001, "reason": "moving out"},
    )
    assert (too_much.status_code, too_much.json()["code"]) == (409, "refund.above_paid")
    refund = ok(
        client.post(
            f"/api/v1/billing/invoices/{invoice_id}/refunds",
            headers=cashier,
            json={"amount_minor": 10000, "reason": "moving out on the 20th"},
        ),
        201,
    )
    second = client.post(
        f"/api/v1/billing/invoices/{invoice_id}/refunds",
        headers=cashier,
        json={"amount_minor": 21001, "reason": "again"},
    )
    assert second.json()["code"] == "refund.above_paid"  # the pending one counts
    assert client.post(f"/api/v1/billing/refunds/{refund['id']}/approve", headers=cashier, json={}).status_code == 403
    # An admin who requests a refund is still refused as its approver.
    own = ok(
        client.post(
            f"/api/v1/billing/invoices/{invoice_id}/refunds",
            headers=as_role.admin,
            json={"amount_minor": 1000, "reason": "goodwill"},
        ),
        201,
    )
    refused = client.post(f"/api/v1/billing/refunds/{own['id']}/approve", headers=as_role.admin, json={})
    assert (refused.status_code, refused.json()["code"]) == (403, "refund.own_request")
    ok(client.post(f"/api/v1/billing/refunds/{own['id']}/reject", headers=supervisor, json={"note": "no"}))
    unpaid = client.post(f"/api/v1/billing/refunds/{refund['id']}/pay", headers=cashier, json={"method": "cash"})
    assert unpaid.json()["code"] == "refund.not_approved"
    ok(client.post(f"/api/v1/billing/refunds/{refund['id']}/approve", headers=supervisor, json={"note": "ok"}))
    before = ok(client.get(f"/api/v1/passes/{sale.monthly['id']}", headers=cashier))
    paid = ok(
        client.post(
            f"/api/v1/billing/refunds/{refund['id']}/pay",
            headers=cashier,
            json={"method": "bank_transfer", "reference": "OUT-1"},
        )
    )
    assert paid["status"] == "paid"
    assert paid["pass_effect"].startswith("pass shortened by")
    after = ok(client.get(f"/api/v1/passes/{sale.monthly['id']}", headers=cashier))
    assert after["valid_to"] < before["valid_to"]
    assert after["status"] == "active"
    rest = client.post(
        f"/api/v1/billing/invoices/{invoice_id}/refunds",
        headers=cashier,
        json={"amount_minor": 21001, "reason": "the rest"},
    )
    assert rest.json()["detail"] == {"refundable_minor": 21000}


def test_drawer_counts_cash_and_seals_a_numbered_bag(client: TestClient, as_role: Operators) -> None:
    sale = sell_pass(client, as_role, price=12345)
    cashier = as_role[Role.CASHIER]
    url = f"/api/v1/billing/invoices/{sale.invoice['id']}/payments"
    closed = client.post(url, headers=cashier, json={"method": "cash", "amount_minor": 12345})
    assert closed.json()["code"] == "drawer.not_open"
    open_drawer(client, as_role, float_minor=10000)
    ok(client.post(url, headers=cashier, json={"method": "cash", "amount_minor": 12345}), 201)
    bad = client.post(
        "/api/v1/billing/drawer/close",
        headers=cashier,
        json={"count": {"currency": "CNY", "lines": [{"denomination": 300, "count": 1}]}},
    )
    assert bad.json()["code"] == "drawer.bad_denomination"
    count = {
        "currency": "CNY",
        "lines": [
            {"denomination": 10000, "count": 2},
            {"denomination": 2000, "count": 1},
            {"denomination": 100, "count": 3},
            {"denomination": 10, "count": 4},
        ],
    }
    bag = ok(client.post("/api/v1/billing/drawer/close", headers=cashier, json={"count": count}))
    assert bag["number"].startswith("BAG-")
    assert bag["amount_minor"] == 22340
    drawer = ok(client.get("/api/v1/billing/drawers", headers=as_role[Role.AUDITOR]))[0]
    assert (drawer["expected_minor"], drawer["counted_minor"], drawer["difference_minor"]) == (22345, 22340, -5)


def test_roles_are_checked_per_action(client: TestClient, as_role: Operators) -> None:
    sale = sell_pass(client, as_role)
    url = f"/api/v1/billing/invoices/{sale.invoice['id']}/payments"
    body = {"method": "bank_card", "amount_minor": 100, "reference": "POS-2"}
    for role in (Role.FRONT_DESK, Role.AUDITOR, Role.SUPERVISOR, Role.COLLECTOR):
        assert client.post(url, headers=as_role[role], json=body).json()["code"] == "auth.forbidden", role
    assert client.get("/api/v1/billing/invoices", headers=as_role[Role.AUDITOR]).status_code == 200
    assert client.get("/api/v1/billing/invoices", headers=as_role[Role.COLLECTOR]).status_code == 403
