"""The cashier's invoice pages (TestClient, central on PostgreSQL, a pass sold through the API): the list and its
filters, a partial payment by transfer with its receipt page and PDF (reprints counted), the refusals beside their
fields, voiding with a reason, a refund asked by one and refused to its requester, decided by a supervisor; roles."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from central.core.security import Role
from tests.central.billing_scenario import sell_pass
from tests.central.conftest import Operators
from tests.central.office import error_beside, post, sign_in

pytestmark = pytest.mark.postgres


def _english(client: TestClient, role: Role) -> None:
    client.cookies.clear()
    sign_in(client, role)
    client.cookies.set("parkgate_office_lang", "en", path="/office")


def test_the_cashier_takes_a_partial_payment_and_prints_its_receipt(client: TestClient, as_role: Operators) -> None:
    sale = sell_pass(client, as_role, price=30000)
    invoice = f"/office/invoices/{sale.invoice['id']}"
    _english(client, Role.CASHIER)
    listed = client.get("/office/invoices", params={"holder": "王小明", "status": "open"}).text
    assert f'data-invoice="{sale.invoice["number"]}"' in listed
    assert "data-invoice" not in client.get("/office/invoices", params={"status": "void"}).text
    assert error_beside(client.get("/office/invoices", params={"month": "2026-13"}).text, "month") == (
        "Enter a month as YYYY-MM.")  # fmt: skip

    status, page = post(client, f"{invoice}/payments", {"method": "epay", "amount": "100.00"}, page=invoice)
    assert status == 422
    assert error_beside(page, "reference").startswith("This method needs its reference")
    status, page = post(client, f"{invoice}/payments", {"method": "cash", "amount": "100.00"}, page=invoice)
    assert error_beside(page, "method") == "Open your drawer before taking cash."
    status, page = post(client, f"{invoice}/payments", {"method": "bank_transfer", "amount": "abc"}, page=invoice)
    assert error_beside(page, "amount") == "Enter an amount like 12.50."
    transfer = {"method": "bank_transfer", "amount": "100.00", "reference": "TRF-1"}
    status, target = post(client, f"{invoice}/payments", transfer, page=invoice)
    assert status == 303
    assert re.fullmatch(r"/office/payments/\d+/receipt\?done=paid", target), target
    receipt = client.get(target).text
    assert "100.00 CNY" in receipt
    assert "TRF-1" in receipt
    assert "data-reprint" not in receipt
    page = client.get(invoice).text
    assert "200.00 CNY" in page.split("data-owed>")[1][:20]
    pdf_link = target.split("?")[0] + ".pdf?lang=en"
    first = client.get(pdf_link)
    assert first.status_code == 200
    assert first.content.startswith(b"%PDF")
    assert "data-reprint" in client.get(target).text  # printed once: the next print is a reprint
    assert 'data-action="receipt.print"' in client.get(invoice).text
    assert 'id="void_reason"' not in client.get(invoice).text  # money was taken: refunded, never voided
    assert post(client, f"{invoice}/void", {"void_reason": "wrong holder"}, page=invoice)[0] == 422


def test_a_refund_is_decided_by_a_supervisor_not_its_requester(client: TestClient, as_role: Operators) -> None:
    sale = sell_pass(client, as_role, price=30000)
    invoice = f"/office/invoices/{sale.invoice['id']}"
    _english(client, Role.ADMIN)
    assert post(client, f"{invoice}/payments", {"method": "bank_card", "amount": "300.00", "reference": "POS-9"},
                page=invoice)[0] == 303  # fmt: skip
    status, page = post(client, f"{invoice}/refunds", {"refund_amount": "400.00", "refund_reason": "moving"},
                        page=invoice)  # fmt: skip
    assert error_beside(page, "refund_amount") == "More than may still be refunded on this invoice."
    status, page = post(client, f"{invoice}/refunds", {"refund_amount": "50.00"}, page=invoice)
    assert error_beside(page, "refund_reason") == "Say why: the reason goes into the audit log."
    assert post(client, f"{invoice}/refunds", {"refund_amount": "50.00", "refund_reason": "moving out"},
                page=invoice) == (303, f"{invoice}?done=refund_requested")  # fmt: skip
    refund = re.search(r'data-refund="(\d+)"', client.get(invoice).text)
    assert refund is not None
    decide = f"/office/refunds/{refund[1]}/decide"
    status, page = post(client, decide, {"decision": "approve"}, page=invoice)
    assert status == 422
    assert error_beside(page, "note") == "You asked for this refund: another supervisor must decide it."

    _english(client, Role.SUPERVISOR)
    assert f'data-refund="{refund[1]}"' in client.get("/office/refunds").text
    status, page = post(client, decide, {"decision": "reject"}, page=invoice)
    assert error_beside(page, "note") == "Say why: the reason goes into the audit log."
    assert post(client, decide, {"decision": "approve", "note": "ok"}, page=invoice)[0] == 303
    assert post(client, f"{invoice}/payments", {"method": "cash", "amount": "1"}, page=invoice)[0] == 403

    _english(client, Role.CASHIER)
    pay = f"/office/refunds/{refund[1]}/pay"
    assert post(client, pay, {"payout_method": "bank_transfer", "payout_reference": "BACK-1"}, page=invoice) == (
        303, f"{invoice}?done=refund_paid")  # fmt: skip
    history = client.get(invoice).text
    assert all(f'data-action="{a}"' in history for a in ("refund.request", "refund.approved", "refund.pay"))


def test_each_role_sees_the_billing_pages_it_may_open(client: TestClient) -> None:
    expected = {Role.CASHIER: (200, 200), Role.AUDITOR: (200, 200), Role.SUPERVISOR: (200, 200),
                Role.OFFICE: (200, 403), Role.FRONT_DESK: (403, 403), Role.COLLECTOR: (403, 403)}  # fmt: skip
    for role, (books, refunds) in expected.items():
        client.cookies.clear()
        sign_in(client, role)
        assert client.get("/office/invoices").status_code == books, role
        assert client.get("/office/refunds").status_code == refunds, role
        landing = client.get("/office/home").text
        assert ('href="/office/invoices"' in landing) is (books == 200), role
        assert ('href="/office/refunds"' in landing) is (refunds == 200), role


def test_an_unpaid_invoice_is_voided_with_its_reason(client: TestClient, as_role: Operators) -> None:
    sale = sell_pass(client, as_role, price=30000)
    invoice = f"/office/invoices/{sale.invoice['id']}"
    _english(client, Role.CASHIER)
    status, page = post(client, f"{invoice}/void", {"void_reason": ""}, page=invoice)
    assert status == 422
    assert error_beside(page, "void_reason") == "Say why: the reason goes into the audit log."
    assert post(client, f"{invoice}/void", {"void_reason": "sold twice"}, page=invoice) == (
        303, f"{invoice}?done=voided")  # fmt: skip
    page = client.get(invoice).text
    assert 'data-state="void"' in page
    assert 'data-action="invoice.void"' in page
    assert "sold twice" in page
    assert 'id="amount"' not in page  # a voided invoice takes no payment
