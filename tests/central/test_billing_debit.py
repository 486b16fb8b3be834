"""Bank direct debit: mandates checked, a monthly run written as the GBK CSV profile and as pain.008 (checked
against the XSD sepaxml ships), the bank's result imported (paid, failed for insufficient funds, unknown lines
listed), the ledger and arrears right, re-import changing nothing, and bad result files refused as a whole with
file, line and column named."""

from __future__ import annotations

import csv
import io
import threading
import time
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import sepaxml
import xmlschema
from fastapi.testclient import TestClient
from sqlalchemy import text

from central.billing.debit_profiles import load_profile
from central.billing.debit_results import import_results
from central.billing.errors import BillingError
from central.core.db import utcnow
from central.core.security import Role
from central.renewal import OPERATOR_ZONE
from tests.central.billing_scenario import Sale, sell_pass
from tests.central.conftest import Operators
from tests.central.scenario import ok

pytestmark = pytest.mark.postgres

RULE = {"activate_on": "payment", "due_days": 0, "suspend_after_days": 5}
MONTH = utcnow().astimezone(OPERATOR_ZONE).strftime("%Y-%m")


def mandate(
    client: TestClient, as_role: Operators, holder: int, scheme: str, account: str, ref: str, name: str = "王小明"
) -> Any:
    return client.post(
        "/api/v1/billing/mandates",
        headers=as_role[Role.CASHIER],
        json={
            "holder_id": holder,
            "scheme": scheme,
            "bank": "中国工商银行" if scheme == "cn" else "Bank",
            "account_number": account,
            "account_name": name,
            "reference": ref,
            "bic": "" if scheme == "cn" else "COBADEFFXXX",
        },
    )


def cn_sales(client: TestClient, as_role: Operators) -> list[Sale]:
    sales = []
    for index, (name, plate) in enumerate([("王小明", "粤B3R7K2"), ("李华", "粤B5K8M1"), ("张伟", "粤BD12345")]):
        sale = sell_pass(client, as_role, rule=RULE, price=30000 + index * 100, name=name, plate=plate)
        ok(mandate(client, as_role, sale.holder, "cn", f"6222 0202 0000 123{index}", f"ICBC-M-{index}", name), 201)
        sales.append(sale)
    return sales


def run(client: TestClient, as_role: Operators, profile: str) -> dict[str, Any]:
    batch: dict[str, Any] = ok(
        client.post(
            "/api/v1/billing/debit-runs",
            headers=as_role[Role.CASHIER],
            json={"profile": profile, "month": MONTH, "collection_date": str(date.today())},
        ),
        201,
    )
    return batch


def result_file(
    rows: list[list[str]],
    encoding: str = "gbk",
    header: tuple[str, ...] = ("流水号", "付款账号", "金额", "处理结果", "失败原因"),
) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode(encoding)


def send(client: TestClient, as_role: Operators, content: bytes, name: str, profile: str = "cn-icbc-gbk") -> Any:
    return client.post(
        f"/api/v1/billing/debit-results?profile={profile}&file_name={name}",
        content=content,
        headers={**as_role[Role.CASHIER], "Content-Type": "application/octet-stream"},
    )


def test_mandates_check_the_account_number(client: TestClient, as_role: Operators) -> None:
    sale = sell_pass(client, as_role, rule=RULE)
    assert (
        mandate(client, as_role, sale.holder, "sepa", "DE89 3704 0044 0532 0130 01", "M-1").json()["code"]
        == "mandate.bad_iban"
    )
    assert mandate(client, as_role, sale.holder, "cn", "6222-0202", "M-2").json()["code"] == "mandate.bad_account"
    assert (
        ok(mandate(client, as_role, sale.holder, "sepa", "de89 3704 0044 0532 0130 00", "M-3"), 201)["account_number"]
        == "DE89370400440532013000"
    )


def test_gbk_run_then_results_paid_failed_unknown_and_reimport(client: TestClient, as_role: Operators) -> None:
    sales = cn_sales(client, as_role)
    cashier = as_role[Role.CASHIER]
    batch = run(client, as_role, "cn-icbc-gbk")
    assert (batch["line_count"], batch["total_minor"]) == (3, 90300)
    content = client.get(f"/api/v1/billing/debit-batches/{batch['id']}/file", headers=cashier).content
    rows = list(csv.reader(io.StringIO(content.decode("gbk"))))
    assert rows[0] == ["流水号", "付款账号", "户名", "金额", "协议号", "用途"]
    assert [row[1:4] for row in rows[1:]] == [
        ["6222020200001230", "王小明", "300.00"],
        ["6222020200001231", "李华", "301.00"],
        ["6222020200001232", "张伟", "302.00"],
    ]
    assert rows[1][5] == sales[0].invoice["number"]
    again = client.post(
        "/api/v1/billing/debit-runs",
        headers=cashier,
        json={"profile": "cn-icbc-gbk", "month": MONTH, "collection_date": str(date.today())},
    )
    assert again.json()["code"] == "debit.nothing_due"  # pending lines are not debited twice
    desk = client.post(
        f"/api/v1/billing/invoices/{sales[0].invoice['id']}/payments",
        headers=cashier,
        json={"method": "bank_card", "amount_minor": 100, "reference": "POS"},
    )
    assert desk.json()["code"] == "invoice.in_debit_run"

    refs = [row[0] for row in rows[1:]]
    result = result_file(
        [
            [refs[0], rows[1][1], "300.00", "0000", ""],
            [refs[1], rows[2][1], "301.00", "3008", "余额不足"],
            ["DD20999999999999", "6222000000000000", "5.00", "0000", ""],
        ]
    )
    imported = ok(send(client, as_role, result, "icbc-result-1.csv"))
    assert (imported["new"], imported["paid_count"], imported["failed_count"]) == (True, 1, 1)
    assert imported["unmatched"] == [
        {"line": 4, "reference": "DD20999999999999", "amount_minor": 500, "code": "0000", "reason": ""}
    ]
    summary = ok(client.get(f"/api/v1/billing/debit-batches/{batch['id']}", headers=cashier))
    assert (summary["paid_count"], summary["paid_minor"], summary["failed_count"], summary["failed_minor"]) == (
        1,
        30000,
        1,
        30100,
    )
    first = ok(client.get(f"/api/v1/billing/invoices/{sales[0].invoice['id']}", headers=cashier))
    assert (first["status"], first["payments"][0]["method"]) == ("paid", "direct_debit")
    assert first["payments"][0]["receipt_number"].startswith("RCT-LAKEVIEW-")
    assert ok(client.get(f"/api/v1/passes/{sales[0].monthly['id']}", headers=cashier))["status"] == "active"
    assert ok(client.get(f"/api/v1/billing/invoices/{sales[1].invoice['id']}", headers=cashier))["status"] == "open"

    ledger = ok(client.get("/api/v1/billing/arrears", headers=as_role[Role.AUDITOR]))
    assert {(row["holder"], row["owed_minor"], row["aged"]["0-30"]) for row in ledger} == {
        ("李华", 30100, 30100),
        ("张伟", 30200, 30200),
    }
    lines = client.get(f"/api/v1/billing/debit-batches/{batch['id']}/lines?format=csv", headers=cashier).text
    assert "余额不足" in lines
    assert "3008" in lines

    # Audited: the run and the import, by the cashier, with what they made.
    [run_audit] = ok(client.get(f"/api/v1/audit?entity=debit_batch&entity_id={batch['number']}", headers=as_role.admin))
    assert (run_audit["action"], run_audit["username"], run_audit["after"]["line_count"]) == ("debit.run", "cashier", 3)
    trail = f"/api/v1/audit?entity=debit_result_import&entity_id={imported['id']}"
    [import_audit] = ok(client.get(trail, headers=as_role.admin))
    assert (import_audit["action"], import_audit["after"]["paid_count"]) == ("debit.import", 1)
    everything = ok(client.get("/api/v1/audit?limit=500", headers=as_role.admin))

    repeat = ok(send(client, as_role, result, "icbc-result-1-again.csv"))
    assert (repeat["new"], repeat["id"]) == (False, imported["id"])
    assert ok(client.get(f"/api/v1/billing/debit-batches/{batch['id']}", headers=cashier)) == summary
    assert ok(client.get("/api/v1/audit?limit=500", headers=as_role.admin)) == everything  # not even an audit entry
    assert ok(client.get(f"/api/v1/billing/invoices/{sales[0].invoice['id']}", headers=cashier))["paid_minor"] == 30000
    # The same lines in another file with the same outcome change nothing either.
    same = ok(send(client, as_role, result_file([[refs[0], rows[1][1], "300.00", "0000", ""]]), "partial.csv"))
    assert (same["new"], same["paid_count"], same["unchanged_count"]) == (True, 0, 1)
    assert len(ok(client.get(f"/api/v1/billing/invoices/{sales[0].invoice['id']}", headers=cashier))["payments"]) == 1
    # The failed line's invoice goes into the next run; the line the bank has not answered yet stays pending.
    rerun = run(client, as_role, "cn-icbc-gbk")
    assert (rerun["line_count"], rerun["total_minor"]) == (1, 30100)


@pytest.mark.parametrize(
    ("make", "where"),
    [
        (lambda r: result_file(r, encoding="utf-8"), "line 1, column 1"),
        (
            lambda r: result_file(
                [row[:2] + row[3:] for row in r], header=("流水号", "付款账号", "处理结果", "失败原因")
            ),
            "line 1, column 金额",
        ),
        (lambda r: result_file([r[0], [r[1][0], r[1][1], "301.01", "3008", "余额不足"]]), "line 3, column 金额"),
        (lambda r: result_file([r[0], r[1], r[0]]), "line 4, column 流水号"),
        (lambda r: result_file([r[0], r[1][:2]]), "line 3, column 金额"),
        (lambda r: result_file([r[0], [r[1][0], r[1][1], "301.001", "3008", "余额不足"]]), "line 3, column 金额"),
    ],
    ids=["wrong-encoding", "missing-column", "amount-mismatch", "duplicated-line", "short-line", "bad-amount"],
)
def test_bad_result_files_are_refused_whole(client: TestClient, as_role: Operators, make: Any, where: str) -> None:
    cn_sales(client, as_role)
    batch = run(client, as_role, "cn-icbc-gbk")
    cashier = as_role[Role.CASHIER]
    content = client.get(f"/api/v1/billing/debit-batches/{batch['id']}/file", headers=cashier).content
    rows = list(csv.reader(io.StringIO(content.decode("gbk"))))[1:]
    good = [[rows[0][0], rows[0][1], "300.00", "0000", ""], [rows[1][0], rows[1][1], "301.00", "3008", "余额不足"]]
    answer = send(client, as_role, make(good), "bad.csv")
    assert answer.status_code == 422, answer.text
    body = answer.json()
    assert body["code"] == "debit.bad_file", body
    assert body["message"].startswith("bad.csv, " + where), body
    assert ok(client.get("/api/v1/billing/debit-results", headers=cashier)) == []
    after = ok(client.get(f"/api/v1/billing/debit-batches/{batch['id']}", headers=cashier))
    assert (after["paid_count"], after["failed_count"]) == (0, 0)
    lines = client.get(f"/api/v1/billing/debit-batches/{batch['id']}/lines", headers=cashier).text
    assert lines.count("pending") == 3


PAIN002 = """<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.002.001.03">
  <CstmrPmtStsRpt>
    <GrpHdr><MsgId>STATUS-1</MsgId><CreDtTm>2026-12-03T10:00:00</CreDtTm></GrpHdr>
    <OrgnlGrpInfAndSts><OrgnlMsgId>{msg}</OrgnlMsgId><OrgnlMsgNmId>pain.008.001.02</OrgnlMsgNmId></OrgnlGrpInfAndSts>
    <OrgnlPmtInfAndSts>
      <OrgnlPmtInfId>{pmt}</OrgnlPmtInfId>
{txs}
    </OrgnlPmtInfAndSts>
  </CstmrPmtStsRpt>
</Document>
"""
TX = """      <TxInfAndSts>
        <OrgnlEndToEndId>{ref}</OrgnlEndToEndId>
        <TxSts>{status}</TxSts>{reason}
        <OrgnlTxRef><Amt><InstdAmt Ccy="EUR">{amount}</InstdAmt></Amt></OrgnlTxRef>
      </TxInfAndSts>"""


def test_sepa_run_writes_valid_pain008_and_imports_pain002(client: TestClient, as_role: Operators) -> None:
    ok(
        client.post(
            "/api/v1/car-parks", headers=as_role.admin, json={"id": "hafen", "name": "Hafen", "currency": "EUR"}
        ),
        201,
    )
    plan_holders = []
    for index, (name, iban) in enumerate(
        [("Anna Schmidt", "DE89370400440532013000"), ("Luc Martin", "FR1420041010050500013M02606")]
    ):
        sale = sell_pass(
            client, as_role, rule=RULE, price=4500 + index, name=name, plate=f"HH{index}123", car_park="hafen"
        )
        ok(mandate(client, as_role, sale.holder, "sepa", iban, f"MANDATE-{index}", name), 201)
        plan_holders.append(sale)
    cashier = as_role[Role.CASHIER]
    euro_plan = plan_holders[0].plan
    assert euro_plan  # plans are made in CNY by the scenario: the SEPA profile debits EUR invoices only
    answer = client.post(
        "/api/v1/billing/debit-runs",
        headers=cashier,
        json={"profile": "sepa-core", "month": MONTH, "collection_date": str(date.today())},
    )
    assert answer.json()["code"] == "debit.nothing_due"
    # Re-price the two invoices' currency as a euro operator would have them (plans here are CNY by default).
    from sqlalchemy import update

    from central.models import Invoice

    with client.app.state.sessions() as session:  # type: ignore[attr-defined]
        session.execute(update(Invoice).where(Invoice.car_park == "hafen").values(currency="EUR"))
        session.commit()
    batch = run(client, as_role, "sepa-core")
    xml = client.get(f"/api/v1/billing/debit-batches/{batch['id']}/file", headers=cashier).content
    schema = xmlschema.XMLSchema(str(Path(sepaxml.__file__).parent / "schemas" / "pain.008.001.02.xsd"))
    schema.validate(xml.decode())
    document: Any = schema.to_dict(xml.decode())
    txs = document["CstmrDrctDbtInitn"]["PmtInf"][0]["DrctDbtTxInf"]
    refs = [tx["PmtId"]["EndToEndId"] for tx in txs]
    assert [str(tx["InstdAmt"]["$"]) for tx in txs] == ["45.00", "45.01"]
    assert [tx["DbtrAcct"]["Id"]["IBAN"] for tx in txs] == ["DE89370400440532013000", "FR1420041010050500013M02606"]
    status = PAIN002.format(
        msg=document["CstmrDrctDbtInitn"]["GrpHdr"]["MsgId"],
        pmt="P1",
        txs="\n".join(
            [
                TX.format(ref=refs[0], status="ACSC", reason="", amount="45.00"),
                TX.format(
                    ref=refs[1],
                    status="RJCT",
                    amount="45.01",
                    reason="<StsRsnInf><Rsn><Cd>AM04</Cd></Rsn><AddtlInf>insufficient funds</AddtlInf></StsRsnInf>",
                ),
                TX.format(ref="NOTOURS-1", status="ACSC", reason="", amount="1.00"),
            ]
        ),
    )
    imported = ok(send(client, as_role, status.encode(), "pain002.xml", profile="sepa-core"))
    assert (imported["paid_count"], imported["failed_count"], [u["reference"] for u in imported["unmatched"]]) == (
        1,
        1,
        ["NOTOURS-1"],
    )
    lines = client.get(f"/api/v1/billing/debit-batches/{batch['id']}/lines", headers=cashier).text
    assert "AM04 insufficient funds" in lines
    broken = send(client, as_role, status.replace("</TxSts>", "", 1).encode(), "broken.xml", profile="sepa-core")
    assert broken.status_code == 422
    assert broken.json()["message"].startswith("broken.xml, line ")


def test_two_imports_of_the_same_line_at_once_pay_it_once(client: TestClient, as_role: Operators) -> None:
    """Two different files answering the same line, imported at the same moment: the second waits for the first's
    row lock, then finds the line no longer pending and is refused as a whole, so the line is paid once."""
    sales = cn_sales(client, as_role)
    batch = run(client, as_role, "cn-icbc-gbk")
    cashier = as_role[Role.CASHIER]
    lines = list(csv.reader(io.StringIO(client.get(f"/api/v1/billing/debit-batches/{batch['id']}/file",
                                                   headers=cashier).content.decode("gbk"))))[1:]  # fmt: skip
    paid = [lines[0][0], lines[0][1], "300.00", "0000", ""]
    both = result_file([paid, [lines[1][0], lines[1][1], "301.00", "0000", ""]])
    profile = load_profile("cn-icbc-gbk")
    app: Any = client.app
    refused: list[str] = []
    with app.state.sessions() as first, app.state.sessions() as second:
        import_results(first, None, profile, "a.csv", result_file([paid]))  # not committed: holds the line's lock
        waiting = second.connection().connection.driver_connection.info.backend_pid

        def other() -> None:
            try:
                import_results(second, None, profile, "b.csv", both)
                second.commit()
            except BillingError as err:
                refused.append(err.code)
                second.rollback()

        thread = threading.Thread(target=other)
        thread.start()
        with app.state.engine.connect() as probe:
            deadline = time.monotonic() + 10
            query = text("SELECT wait_event_type FROM pg_stat_activity WHERE pid = :pid")
            while probe.execute(query, {"pid": waiting}).scalar() != "Lock":
                assert time.monotonic() < deadline, "the second import never waited for the first"
                time.sleep(0.02)
        first.commit()
        thread.join(timeout=10)
    assert refused == ["debit.concurrent_import"]
    invoice = ok(client.get(f"/api/v1/billing/invoices/{sales[0].invoice['id']}", headers=cashier))
    assert (invoice["status"], len(invoice["payments"])) == ("paid", 1)
    assert ok(client.get(f"/api/v1/billing/invoices/{sales[1].invoice['id']}", headers=cashier))["status"] == "open"
