"""Billing on the embedded default, a SQLite file: gap-free numbers from the counter row, a payment with its
receipt, and a direct-debit run and result import through the non-PostgreSQL bulk paths."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy.orm import Session

from central.billing.debit_profiles import load_profile
from central.billing.debit_results import import_results
from central.billing.debit_run import run_debit
from central.billing.invoices import ItemSpec, issue_invoice
from central.billing.mandates import create_mandate
from central.billing.payments import PaymentMethod, take_payment
from central.core.db import make_engine, utcnow
from central.core.migrate import upgrade
from central.models import Holder, Invoice, User
from central.renewal import OPERATOR_ZONE


def test_numbers_payments_and_debit_on_sqlite(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'central.db'}")
    upgrade(engine)
    with Session(engine) as session:
        cashier = User(username="cashier", full_name="出纳", role="cashier", password_hash="x")
        holders = [Holder(name=f"业主{i}", phone="", email="", notes="") for i in range(3)]
        session.add_all([cashier, *holders])
        session.flush()
        now = utcnow()
        invoices = [
            issue_invoice(
                session,
                cashier,
                holder_id=h.id,
                car_park="lakeview",
                kind="fees",
                currency="CNY",
                items=[ItemSpec("card_deposit", "押金", 2000 + i)],
                due_at=now - timedelta(days=1),
            )
            for i, h in enumerate(holders)
        ]
        assert [inv.number[-6:] for inv in invoices] == ["000001", "000002", "000003"]
        payment = take_payment(
            session,
            cashier,
            invoice_id=invoices[0].id,
            method=PaymentMethod.BANK_CARD,
            amount_minor=2000,
            reference="POS-1",
        )
        assert payment.receipt_number is not None
        assert invoices[0].status == "paid"
        for i, h in enumerate(holders[1:], start=1):
            create_mandate(
                session,
                cashier,
                holder_id=h.id,
                scheme="cn",
                bank="工商银行",
                account_number=f"62220202000012{i:02d}",
                account_name=h.name,
                reference=f"M-{i}",
            )
        session.commit()
        profile = load_profile("cn-icbc-gbk")
        month = now.astimezone(OPERATOR_ZONE).strftime("%Y-%m")
        batch = run_debit(session, cashier, profile, month=month, collection_date=date.today())
        session.commit()
        rows = list(csv.reader(io.StringIO(batch.content.decode("gbk"))))[1:]
        assert [row[3] for row in rows] == ["20.01", "20.02"]
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["流水号", "付款账号", "金额", "处理结果", "失败原因"])
        writer.writerow([rows[0][0], rows[0][1], "20.01", "0000", ""])
        writer.writerow([rows[1][0], rows[1][1], "20.02", "3008", "余额不足"])
        record, new = import_results(session, cashier, profile, "result.csv", out.getvalue().encode("gbk"))
        session.commit()
        assert (new, record.paid_count, record.failed_count) == (True, 1, 1)
        session.expire_all()
        statuses = [session.get_one(Invoice, inv.id).status for inv in invoices]
        assert statuses == ["paid", "paid", "open"]
    engine.dispose()
