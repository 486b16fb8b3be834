"""Arrears and what follows from them: the ledger aged in buckets, the dunning list, an overdue pass suspended
after its grace (the edge's next sync refuses it at the lane, and it comes back once paid), renewal reminders
delivered by e-mail to a local SMTP server and by webhook (failures recorded), monthly collection statistics
with the booth shifts' takings, and their CSV/XLSX exports."""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from email import message_from_bytes
from email.header import decode_header, make_header
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import update

from central.core.config import Settings
from central.core.db import utcnow
from central.core.security import Role
from central.main import create_app
from central.models import EdgeRecord, EdgeShiftReport, Invoice
from central.renewal import OPERATOR_ZONE
from edge.lanes.directory import check_pass
from parking.wire import SyncPage
from tests.central.billing_scenario import Sale, sell_pass
from tests.central.conftest import Operators
from tests.central.scenario import ok
from tests.services import free_tcp_port as free_port

pytestmark = pytest.mark.postgres


def move_due(client: TestClient, invoice_id: int, days_ago: int, issued_days_ago: int | None = None) -> None:
    """Set an invoice's due date in the past (the clock of the database, not a mock: the rows are real)."""
    now = utcnow()
    values: dict[str, Any] = {"due_at": now - timedelta(days=days_ago)}
    if issued_days_ago is not None:
        values["issued_at"] = now - timedelta(days=issued_days_ago)
    with client.app.state.sessions() as session:  # type: ignore[attr-defined]
        session.execute(update(Invoice).where(Invoice.id == invoice_id).values(**values))
        session.commit()


def synced_pass(client: TestClient, sale: Sale) -> Any:
    page = SyncPage.model_validate_json(client.get("/api/v1/sync?since=0", headers=sale.site.edge_headers).content)
    return next(record for record in page.passes if record.id == sale.monthly["id"])


def test_overdue_pass_suspended_after_grace_refused_at_the_lane_and_back_once_paid(
    client: TestClient, as_role: Operators
) -> None:
    sale = sell_pass(client, as_role, rule={"activate_on": "invoice", "suspend_after_days": 7})
    assert sale.monthly["status"] == "active"
    supervisor = as_role[Role.SUPERVISOR]
    move_due(client, sale.invoice["id"], days_ago=6)
    assert ok(client.post("/api/v1/billing/arrears/suspend", headers=supervisor)) == {"suspended": []}  # in grace
    move_due(client, sale.invoice["id"], days_ago=8)
    assert ok(client.post("/api/v1/billing/arrears/suspend", headers=supervisor)) == {"suspended": [sale.monthly["id"]]}
    record = synced_pass(client, sale)
    assert (record.status.value, record.status_reason) == ("suspended", "arrears")
    lane = check_pass(record, sale.site.car_park, utcnow())
    assert (lane.usable, lane.reason, lane.notice) == (False, "pass suspended: arrears", "月租卡已暂停：欠费")
    ok(
        client.post(
            f"/api/v1/billing/invoices/{sale.invoice['id']}/payments",
            headers=as_role[Role.CASHIER],
            json={"method": "bank_transfer", "amount_minor": 30000, "reference": "TRF-1"},
        ),
        201,
    )
    record = synced_pass(client, sale)
    assert (record.status.value, record.status_reason) == ("active", None)
    assert check_pass(record, sale.site.car_park, utcnow()).usable
    # A pass suspended by hand is not released by a payment.
    other = sell_pass(client, as_role, rule={"activate_on": "invoice"}, name="李华", plate="粤B5K8M1")
    ok(client.post(f"/api/v1/passes/{other.monthly['id']}/suspend", headers=as_role[Role.FRONT_DESK]))
    ok(
        client.post(
            f"/api/v1/billing/invoices/{other.invoice['id']}/payments",
            headers=as_role[Role.CASHIER],
            json={"method": "bank_card", "amount_minor": 30000, "reference": "POS-3"},
        ),
        201,
    )
    assert ok(client.get(f"/api/v1/passes/{other.monthly['id']}", headers=supervisor))["status"] == "suspended"


def test_ledger_ageing_dunning_and_exports(client: TestClient, as_role: Operators) -> None:
    sales = [
        sell_pass(client, as_role, rule={"activate_on": "invoice"}, name=f"业主{i}", plate=f"粤B{i}0000")
        for i in range(4)
    ]
    for sale, days in zip(sales, (10, 45, 75, 120), strict=True):
        move_due(client, sale.invoice["id"], days_ago=days)
    ok(
        client.post(
            f"/api/v1/billing/invoices/{sales[3].invoice['id']}/payments",
            headers=as_role[Role.CASHIER],
            json={"method": "bank_card", "amount_minor": 10000, "reference": "POS-4"},
        ),
        201,
    )
    auditor = as_role[Role.AUDITOR]
    ageing = ok(client.get("/api/v1/billing/arrears/ageing", headers=auditor))
    assert ageing == {"CNY": {"0-30": 30000, "31-60": 30000, "61-90": 30000, "90+": 20000}}
    ledger = ok(client.get("/api/v1/billing/arrears", headers=auditor))
    assert [row["holder"] for row in ledger] == ["业主3", "业主2", "业主1", "业主0"]  # oldest debt first
    assert ledger[0]["unit"] == "3-1201"
    assert ledger[0]["phone"] == "13800000000"
    dunning = ok(client.get("/api/v1/billing/dunning?min_days=60", headers=supervisor(as_role)))
    assert [(row["holder"], row["owed_minor"]) for row in dunning] == [("业主2", 30000), ("业主3", 20000)]

    xlsx = client.get("/api/v1/billing/arrears/export?format=xlsx", headers=auditor)
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    assert sheet is not None
    header = [cell.value for cell in sheet[1]]
    assert header[:7] == ["holder", "unit", "phone", "email", "currency", "owed", "owed since"]
    owed, since = sheet.cell(row=2, column=6), sheet.cell(row=2, column=7)
    assert (owed.value, owed.number_format) == (200, "#,##0.00")
    assert isinstance(since.value, datetime)
    assert since.number_format == "yyyy-mm-dd"
    csv_text = client.get("/api/v1/billing/arrears/export", headers=auditor).content.decode("utf-8-sig")
    assert csv_text.splitlines()[1].startswith("业主3,3-1201,13800000000,,CNY,200.00,")


def supervisor(as_role: Operators) -> dict[str, str]:
    return as_role[Role.SUPERVISOR]


def test_monthly_statistics_with_temporary_takings(client: TestClient, as_role: Operators) -> None:
    paid = sell_pass(client, as_role, rule={"activate_on": "invoice"}, price=30000)
    sell_pass(client, as_role, rule={"activate_on": "invoice"}, price=20000, name="李华", plate="粤B5K8M1")
    ok(
        client.post(
            f"/api/v1/billing/invoices/{paid.invoice['id']}/payments",
            headers=as_role[Role.CASHIER],
            json={"method": "bank_card", "amount_minor": 30000, "reference": "POS-5"},
        ),
        201,
    )
    now = utcnow()
    with client.app.state.sessions() as session:  # type: ignore[attr-defined]
        session.add(
            EdgeRecord(
                id="rec-shift-1",
                edge_id=paid.site.edge,
                seq=1,
                kind="shift_report",
                car_park="lakeview",
                lane=None,
                at=now,
                payload={},
                prev_hash="0" * 64,
                hash="1" * 64,
            )
        )
        session.flush()
        session.add(
            EdgeShiftReport(
                record_id="rec-shift-1",
                edge_id=paid.site.edge,
                car_park="lakeview",
                at=now,
                currency="CNY",
                takings=123450,
                valid=True,
                problem="",
            )
        )
        session.commit()
    month = now.astimezone(OPERATOR_ZONE).strftime("%Y-%m")
    stats = ok(client.get(f"/api/v1/billing/statistics?first={month}&last={month}", headers=as_role[Role.AUDITOR]))
    assert stats["passes_and_fees"] == [
        {
            "car_park": "lakeview",
            "month": month,
            "fee_item": "pass",
            "currency": "CNY",
            "billed_minor": 50000,
            "collected_minor": 30000,
            "outstanding_minor": 20000,
            "rate": 0.6,
        }
    ]
    assert stats["temporary_parking"] == [
        {"car_park": "lakeview", "month": month, "currency": "CNY", "takings_minor": 123450, "shifts": 1}
    ]
    book = load_workbook(
        io.BytesIO(
            client.get(
                f"/api/v1/billing/statistics/export?first={month}&last={month}&format=xlsx",
                headers=as_role[Role.AUDITOR],
            ).content
        )
    )
    sheet = book.active
    assert sheet is not None
    rows = [[cell.value for cell in row] for row in sheet.iter_rows(min_row=2)]
    assert rows == [
        ["lakeview", month, "pass", "CNY", 500, 300, 200, 0.6],
        ["lakeview", month, "temporary_parking", "CNY", 1234.5, 1234.5, 0, None],
    ]
    assert sheet.cell(row=2, column=8).number_format == "0.00%"


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], bytes]] = []

    async def handle_DATA(self, _server: object, _session: object, envelope: Any) -> str:
        self.messages.append((list(envelope.rcpt_tos), bytes(envelope.content)))
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[Mailbox, int]]:
    box, port = Mailbox(), free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    yield box, port
    controller.stop()


@pytest.fixture
def gateway() -> Iterator[tuple[list[dict[str, Any]], int]]:
    received: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *_args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield received, server.server_address[1]
    server.shutdown()


def test_reminders_delivered_by_email_and_webhook_and_recorded(
    app: Any,
    central_settings: Settings,
    as_role: Operators,
    smtp: tuple[Mailbox, int],
    gateway: tuple[list[dict[str, Any]], int],
) -> None:
    box, port = smtp
    received, gateway_port = gateway
    settings = central_settings.model_copy(
        update={
            "reminder_mail_url": f"mailto://127.0.0.1:{port}?from=office@parkgate.example&mode=insecure",
            "reminder_webhook_url": f"json://127.0.0.1:{gateway_port}/sms",
        }
    )
    reminding = create_app(settings)
    try:
        with TestClient(reminding) as client:
            sale = sell_pass(client, as_role, rule={"activate_on": "invoice"}, email="wang@example.com")
            far = sell_pass(client, as_role, rule={"activate_on": "invoice"}, name="李华", plate="粤B5K8M1")
            ok(
                client.post(
                    f"/api/v1/passes/{far.monthly['id']}/renew", headers=as_role[Role.FRONT_DESK], json={"months": 3}
                )
            )
            collector = as_role[Role.COLLECTOR]
            made = ok(client.post("/api/v1/billing/reminders/deliveries?days=40", headers=collector))
            assert sorted((d["channel"], d["target"], d["status"]) for d in made) == [
                ("email", "wang@example.com", "sent"),
                ("webhook", "13800000000", "sent"),
            ]
            assert [to for to, _ in box.messages] == [["wang@example.com"]]
            mail = message_from_bytes(box.messages[0][1])
            assert "续费提醒" in str(make_header(decode_header(mail["Subject"])))
            assert received[0]["phone"] == "13800000000"
            assert received[0]["pass"] == sale.monthly["id"]
            again = ok(client.post("/api/v1/billing/reminders/deliveries?days=40", headers=collector))
            assert again == []  # once per channel and end date
    finally:
        reminding.state.engine.dispose()
    broken = create_app(
        central_settings.model_copy(update={"reminder_webhook_url": f"json://127.0.0.1:{free_port()}/"})
    )
    try:
        with TestClient(broken) as client:
            sale2 = sell_pass(client, as_role, rule={"activate_on": "invoice"}, name="张伟", plate="粤BD12345")
            made = ok(client.post("/api/v1/billing/reminders/deliveries?days=40", headers=as_role[Role.COLLECTOR]))
            failed = [d for d in made if d["pass_id"] == sale2.monthly["id"]]
            assert [(d["channel"], d["status"]) for d in failed] == [("webhook", "failed")]
            assert failed[0]["error"]
            listed = ok(
                client.get(
                    f"/api/v1/billing/reminders/deliveries?pass_id={sale2.monthly['id']}",
                    headers=as_role[Role.COLLECTOR],
                )
            )
            assert listed[0]["status"] == "failed"
    finally:
        broken.state.engine.dispose()
