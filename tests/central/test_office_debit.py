"""The cashier's direct-debit pages (TestClient, central on PostgreSQL, passes sold through the API): mandates
recorded with the account number checked (refusals beside their fields) and revoked with a reason; the month's run
over the due invoices with a bank profile, its file downloaded; the bank's result uploaded (debited, failed with the
bank's reason, a line that matches nothing), the batch's summary of what was credited; a bad file named with its
line and column beside the upload field; the same file again changing nothing; roles and the payment note."""

from __future__ import annotations

import csv
import io
import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from central.core.security import Role
from central.models import AuditEntry, DebitLine, Invoice
from tests.central.billing_scenario import sell_pass
from tests.central.conftest import Operators
from tests.central.office import csrf_of, error_beside, post, sign_in
from tests.central.test_billing_debit import MONTH, RULE, cn_sales, result_file

pytestmark = pytest.mark.postgres


def english(client: TestClient, role: Role) -> None:
    client.cookies.clear()
    sign_in(client, role)
    client.cookies.set("parkgate_office_lang", "en", path="/office")


def upload(client: TestClient, content: bytes, name: str, profile: str = "cn-icbc-gbk") -> tuple[int, str]:
    token = csrf_of(client, "/office/debit-runs")
    answer = client.post("/office/debit-results", data={"csrf_token": token, "result_profile": profile},
                         files={"result_file": (name, content, "text/csv")}, follow_redirects=False)  # fmt: skip
    return answer.status_code, str(answer.headers.get("location", answer.text))


def test_a_mandate_is_recorded_with_its_account_checked_and_revoked_with_a_reason(
    client: TestClient, as_role: Operators, central_engine: Engine
) -> None:
    sale = sell_pass(client, as_role, rule=RULE)
    holder = f"/office/mandates/holders/{sale.holder}"
    english(client, Role.CASHIER)
    found = client.get("/office/mandates", params={"q": "王小明"}).text
    assert f'href="{holder}"' in found
    fields = {"scheme": "cn", "bank": "中国工商银行", "account_number": "6222-0202", "account_name": "王小明",
              "reference": "ICBC-M-1"}  # fmt: skip
    status, page = post(client, holder, fields)
    assert status == 422
    assert error_beside(page, "account_number") == "A Chinese bank account number is 12 to 25 digits."
    status, page = post(client, holder, {**fields, "scheme": "sepa", "account_number": "DE89 3704 0044 0532 0130 01"})
    assert error_beside(page, "account_number") == "Not an IBAN, or its check digits do not match."
    status, page = post(client, holder, {**fields, "reference": "", "account_number": "6222 0202 0000 1230"})
    assert error_beside(page, "reference") == "This field is required."
    assert post(client, holder, {**fields, "account_number": "6222 0202 0000 1230"}) == (303, f"{holder}?done=created")
    status, page = post(client, holder, {**fields, "account_number": "6222 0202 0000 1231"})
    assert error_beside(page, "reference") == "This mandate reference is in use already."
    page = client.get(holder).text
    assert 'data-mandate="ICBC-M-1"' in page
    assert "6222020200001230" in page  # kept without the spaces
    mandate_id = re.search(r'action="/office/mandates/(\d+)/revoke"', page)
    assert mandate_id is not None
    revoke = f"/office/mandates/{mandate_id[1]}/revoke"
    status, page = post(client, revoke, {"revoke_reason": ""}, page=holder)
    assert status == 422
    assert error_beside(page, f"m{mandate_id[1]}-revoke_reason") == "Say why: the reason goes into the audit log."
    assert post(client, revoke, {"revoke_reason": "account closed"}, page=holder) == (303, f"{holder}?done=revoked")
    assert 'data-state="revoked"' in client.get(holder).text
    with Session(central_engine) as session:
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "mandate.revoke")).one()
        assert (entry.username, (entry.after or {})["operator_reason"]) == ("cashier", "account closed")

    english(client, Role.AUDITOR)  # reads, acts not
    page = client.get(holder).text
    assert 'data-mandate="ICBC-M-1"' in page
    assert "Record a mandate" not in page
    assert client.post(holder, data={"csrf_token": csrf_of(client, holder), **fields}).status_code == 403


def test_the_cashier_runs_a_batch_downloads_it_and_imports_the_banks_result(
    client: TestClient, as_role: Operators, central_engine: Engine
) -> None:
    sales = cn_sales(client, as_role)
    english(client, Role.CASHIER)
    status, page = post(client, "/office/debit-runs", {"profile": "cn-icbc-gbk", "month": "2026-13",
                                                       "collection_date": "2026-12-04"})  # fmt: skip
    assert status == 422
    assert error_beside(page, "month") == "Enter a month as YYYY-MM."
    run = {"profile": "cn-icbc-gbk", "month": MONTH, "collection_date": "2026-12-04", "submission": "run-1"}
    status, target = post(client, "/office/debit-runs", run)
    assert status == 303
    batch = re.fullmatch(r"/office/debit-runs/(\d+)\?done=run", target)
    assert batch is not None, target
    assert post(client, "/office/debit-runs", run)[1] == target  # a double submit: one batch
    status, page = post(client, "/office/debit-runs", {**run, "submission": "run-2"})
    assert error_beside(page, "month") == (
        "No open invoice due by the end of this month has a mandate of this bank.")  # fmt: skip
    listed = client.get("/office/debit-runs").text
    assert "3 lines await the bank" in listed
    file = client.get(f"/office/debit-runs/{batch[1]}/file")
    assert file.headers["content-disposition"].startswith('attachment; filename="DD-')
    rows = list(csv.reader(io.StringIO(file.content.decode("gbk"))))
    assert [row[3] for row in rows[1:]] == ["300.00", "301.00", "302.00"]
    refs = [row[0] for row in rows[1:]]

    bad = result_file([[refs[0], rows[1][1], "300.01", "0000", ""]])
    status, page = upload(client, bad, "icbc-bad.csv")
    assert status == 422
    assert error_beside(page, "result_file") == (
        "icbc-bad.csv, line 2, column 金额: amount 30001 does not match batch line "
        f"{refs[0]} (30000)")  # fmt: skip
    assert upload(client, b"", "empty.csv")[0] == 422
    result = result_file([[refs[0], rows[1][1], "300.00", "0000", ""],
                          [refs[1], rows[2][1], "301.00", "3008", "余额不足"],
                          ["DD20999999999999", "6222000000000000", "5.00", "0000", ""]])  # fmt: skip
    status, target = upload(client, result, "icbc-result-1.csv")
    assert status == 303
    assert re.fullmatch(r"/office/debit-results/\d+\?done=imported", target), target
    outcome = client.get(target).text
    assert f'data-line="{refs[0]}" data-outcome="paid"' in outcome
    assert f'data-line="{refs[1]}" data-outcome="failed"' in outcome
    assert "3008 · 余额不足" in outcome
    assert 'data-unmatched="DD20999999999999"' in outcome
    again = upload(client, result, "icbc-result-1-again.csv")
    assert again == (303, target.replace("done=imported", "done=again"))
    assert "This file was imported before: nothing changed." in client.get(again[1]).text
    summary = client.get(f"/office/debit-runs/{batch[1]}").text
    assert re.search(r"data-credited>1 · 300.00 CNY<", summary), summary
    assert re.search(r"data-failed>1 · 301.00 CNY<", summary)
    assert re.search(r"data-pending>1 · 302.00 CNY<", summary)
    with Session(central_engine) as session:
        assert session.get_one(Invoice, sales[0].invoice["id"]).status == "paid"
        assert sorted(session.scalars(select(DebitLine.status))) == ["failed", "paid", "pending"]
        assert session.scalars(select(AuditEntry).where(AuditEntry.action == "debit.import")).all()[0].username == (
            "cashier")  # fmt: skip

    english(client, Role.SUPERVISOR)  # reads the runs, may not download the accounts' file nor act
    page = client.get(f"/office/debit-runs/{batch[1]}").text
    assert "data-download" not in page
    assert client.get(f"/office/debit-runs/{batch[1]}/file").status_code == 403
    assert "Make the batch" not in client.get("/office/debit-runs").text


def test_each_role_sees_the_debit_pages_it_may_open(client: TestClient) -> None:
    for role, allowed in ((Role.CASHIER, True), (Role.SUPERVISOR, True), (Role.AUDITOR, True),
                          (Role.FRONT_DESK, False), (Role.OFFICE, False), (Role.COLLECTOR, False)):  # fmt: skip
        client.cookies.clear()
        sign_in(client, role)
        for path in ("/office/debit-runs", "/office/mandates"):
            assert client.get(path).status_code == (200 if allowed else 403), (role, path)
            assert (f'href="{path}"' in client.get("/office/home").text) is allowed, (role, path)
    client.cookies.clear()
    sign_in(client, Role.CASHIER)
    refused = client.post("/office/debit-runs", data={"profile": "cn-icbc-gbk", "month": MONTH})
    assert refused.status_code == 403  # no CSRF token


def test_a_payment_taken_by_hand_keeps_its_note_in_the_audit_log(
    client: TestClient, as_role: Operators, central_engine: Engine
) -> None:
    sale = sell_pass(client, as_role, price=30000)
    invoice = f"/office/invoices/{sale.invoice['id']}"
    english(client, Role.CASHIER)
    paid = {"method": "bank_transfer", "amount": "50.00", "reference": "TRF-7", "note": "paid by the tenant's son"}
    assert post(client, f"{invoice}/payments", paid, page=invoice)[0] == 303
    assert "paid by the tenant&#39;s son" in client.get(invoice).text
    api = client.post(
        f"/api/v1/billing/invoices/{sale.invoice['id']}/payments",
        headers=as_role[Role.CASHIER],
        json={"method": "epay", "amount_minor": 100, "reference": "WX-1", "note": "late fee waived"},
    )
    assert api.status_code == 201, api.text
    with Session(central_engine) as session:
        notes = [
            (e.after or {}).get("operator_reason")
            for e in session.scalars(
                select(AuditEntry).where(AuditEntry.action == "payment.take").order_by(AuditEntry.id)
            )
        ]
    assert notes == ["paid by the tenant's son", "late fee waived"]
