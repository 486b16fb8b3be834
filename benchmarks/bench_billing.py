"""Billing on PostgreSQL: the monthly direct-debit run for 100,000 holders (the GBK CSV batch file written to disk)
and the import of the bank's 100,000-line result file (90 % debited, 10 % failed), through the product's own
``run_debit`` and ``import_results``; then the same file again (recognised, nothing changed). Goal: under 10 s each.
Each prints wall seconds, the CPU seconds of this process and of its PostgreSQL backend, and the load average.

Creates its own database ``parkgate_bench_<random>`` on the server of ``PARKGATE_TEST_PG`` (default
``postgresql://postgres@127.0.0.1:5432/test``) and drops it afterwards. Run: ``.venv/bin/python
benchmarks/bench_billing.py [--holders 100000] [--json FILE]``.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
from figures import Recorder, add_json_argument, backend_cpu
from sqlalchemy import insert, select, text
from sqlalchemy.orm import Session

from central.billing.debit_profiles import load_profile
from central.billing.debit_results import import_results
from central.billing.debit_run import run_debit
from central.core.db import make_engine
from central.core.migrate import upgrade
from central.models import BillingAccount, DebitLine, DebitMandate, Holder, Invoice, InvoiceItem
from central.renewal import OPERATOR_ZONE

ADMIN_URL = os.environ.get("PARKGATE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
CHUNK = 20_000


def seed(session: Session, holders: int) -> None:
    """``holders`` holders, each with a CN mandate, an account and one open invoice of 300.00 due yesterday."""
    now = datetime.now(UTC)
    due = now - timedelta(days=1)
    for start in range(0, holders, CHUNK):
        ids = range(start + 1, min(start + CHUNK, holders) + 1)
        session.execute(
            insert(Holder),
            [{"id": i, "name": f"业主{i}", "phone": "", "email": "", "notes": "", "created_at": now} for i in ids],
        )
        session.execute(
            insert(DebitMandate),
            [
                {
                    "id": i,
                    "holder_id": i,
                    "scheme": "cn",
                    "bank": "中国工商银行",
                    "bic": "",
                    "account_number": f"622202{i:013d}",
                    "account_name": f"业主{i}",
                    "reference": f"M{i:09d}",
                    "signed_on": now,
                    "active": True,
                    "created_at": now,
                }
                for i in ids
            ],
        )
        session.execute(
            insert(BillingAccount),
            [
                {"id": i, "holder_id": i, "unit_key": 0, "currency": "CNY", "credit_minor": 0, "created_at": now}
                for i in ids
            ],
        )
        session.execute(
            insert(Invoice),
            [
                {
                    "id": i,
                    "number": f"INV-BENCH-2026-{i:06d}",
                    "car_park": "bench",
                    "year": 2026,
                    "seq": i,
                    "account_id": i,
                    "holder_id": i,
                    "kind": "fees",
                    "status": "open",
                    "currency": "CNY",
                    "total_minor": 30000,
                    "paid_minor": 0,
                    "refunded_minor": 0,
                    "issued_at": due,
                    "due_at": due,
                    "void_reason": "",
                    "period_applied": True,
                }
                for i in ids
            ],
        )
        session.execute(
            insert(InvoiceItem),
            [
                {
                    "invoice_id": i,
                    "fee_item": "parking_fee",
                    "description": "月租 monthly fee",
                    "quantity": 1,
                    "unit_minor": 30000,
                    "amount_minor": 30000,
                }
                for i in ids
            ],
        )
    session.commit()
    session.execute(text("ANALYZE"))  # the statistics a running database has (autovacuum) before the month's run
    session.commit()


def result_file(session: Session, batch_id: int) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["流水号", "付款账号", "金额", "处理结果", "失败原因"])
    rows = session.execute(
        select(DebitLine.seq, DebitLine.reference, DebitLine.amount_minor)
        .where(DebitLine.batch_id == batch_id)
        .order_by(DebitLine.seq)
    )
    for seq, reference, amount in rows:
        failed = seq % 10 == 0
        writer.writerow(
            [
                reference,
                "",
                f"{amount // 100}.{amount % 100:02d}",
                "3008" if failed else "0000",
                "余额不足" if failed else "",
            ]
        )
    return out.getvalue().encode("gbk")


class Timed:
    """Wall seconds, CPU seconds of this process and of the session's PostgreSQL backend (read from /proc: the
    server runs on this machine), so a figure taken on a loaded machine can be told from the work itself."""

    def __init__(self, session: Session) -> None:
        raw = session.connection().connection.driver_connection
        self.backend = int(raw.info.backend_pid)  # type: ignore[union-attr]
        self.wall, self.cpu, self.server = time.perf_counter(), time.process_time(), backend_cpu(self.backend)

    def done(self) -> tuple[float, str]:
        wall = time.perf_counter() - self.wall
        cpu, server = time.process_time() - self.cpu, backend_cpu(self.backend) - self.server
        return wall, f"{wall:.2f} s wall, CPU {cpu:.2f} s here + {server:.2f} s in PostgreSQL"


def load() -> str:
    return "load average " + " ".join(f"{x:.1f}" for x in os.getloadavg())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--holders", type=int, default=100_000)
    add_json_argument(parser)
    args = parser.parse_args()
    recorder = Recorder("billing")
    name = f"parkgate_bench_{uuid.uuid4().hex[:8]}"
    parts = urlsplit(ADMIN_URL)
    url = urlunsplit((parts.scheme, parts.netloc, f"/{name}", "", "")).replace(
        "postgresql://", "postgresql+psycopg://", 1
    )
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    engine = make_engine(url)
    try:
        upgrade(engine)
        profile = load_profile("cn-icbc-gbk")
        with Session(engine) as session:
            started = time.perf_counter()
            seed(session, args.holders)
            print(f"seed: {args.holders} holders, mandates and open invoices in {time.perf_counter() - started:.1f} s")
        month = datetime.now(UTC).astimezone(OPERATOR_ZONE).strftime("%Y-%m")
        with tempfile.TemporaryDirectory() as folder, Session(engine) as session:
            timer = Timed(session)
            batch = run_debit(session, None, profile, month=month, collection_date=date.today())
            path = Path(folder) / batch.file_name
            path.write_bytes(batch.content)
            session.commit()
            run_s, figures = timer.done()
            print(
                f"debit run: {batch.line_count} lines, {path.stat().st_size / 1e6:.1f} MB GBK CSV written "
                f"in {figures} (goal < 10 s; {load()})"
            )
            recorder.add(f"monthly direct-debit run, {args.holders:,} holders", run_s, "s", goal="< 10 s",
                         met=run_s < 10, note=figures)  # fmt: skip
            content = result_file(session, batch.id)
            session.commit()
        with Session(engine) as session:
            timer = Timed(session)
            record, _new = import_results(session, None, profile, "bench-result.csv", content)
            session.commit()
            import_s, figures = timer.done()
            print(
                f"result import: {record.paid_count} paid, {record.failed_count} failed, "
                f"{len(record.unmatched)} unmatched in {figures} (goal < 10 s; {load()})"
            )
            recorder.add(f"bank result import, {args.holders:,} lines", import_s, "s", goal="< 10 s",
                         met=import_s < 10, note=figures)  # fmt: skip
        with Session(engine) as session:
            timer = Timed(session)
            _again, new = import_results(session, None, profile, "bench-result.csv", content)
            session.commit()
            print(f"the same file again: {'imported' if new else 'recognised, nothing changed'} in {timer.done()[1]}")
        recorder.save(args.json)
        return 0
    finally:
        engine.dispose()
        with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    sys.exit(main())
