"""CSV and XLSX exports of the arrears ledger, the debit batches and the collection statistics. XLSX cells hold
real numbers (money in major units with two decimals, exact via ``Decimal``) and real dates, under a header row; CSV
is UTF-8 with a BOM so Excel opens it, with cells that a spreadsheet would run as formulas defused."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from openpyxl import Workbook
from openpyxl.styles import Font
from sqlalchemy import select
from sqlalchemy.orm import Session

from central.billing.arrears import BUCKETS, arrears_ledger
from central.billing.statistics import collection_statistics, temporary_takings
from central.models import DebitBatch, DebitLine, Invoice
from central.renewal import OPERATOR_ZONE
from parking.money import minor_digits

Cell = str | int | Decimal | date | datetime | None


@dataclass(frozen=True, slots=True)
class Money:
    """An amount for an export: written as a number in major units."""

    minor: int
    currency: str

    def decimal(self) -> Decimal:
        return Decimal(self.minor).scaleb(-minor_digits(self.currency))


@dataclass(frozen=True, slots=True)
class Table:
    title: str
    headers: list[str]
    rows: list[Sequence[Cell | Money | float]]


def _plain(value: Cell | Money | float) -> Cell | float:
    if isinstance(value, Money):
        return value.decimal()
    if isinstance(value, datetime):
        return value.astimezone(OPERATOR_ZONE).replace(tzinfo=None)
    return value


def to_csv(table: Table) -> bytes:
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(table.headers)
    for row in table.rows:
        cells = []
        for value in row:
            plain = _plain(value)
            text = "" if plain is None else plain.isoformat(sep=" ") if isinstance(plain, datetime) else str(plain)
            cells.append(
                "'" + text
                if text[:1] in ("=", "+", "@", "\t", "\r")
                or (text[:1] == "-" and not isinstance(plain, (int, float, Decimal)))
                else text
            )
        writer.writerow(cells)
    return out.getvalue().encode("utf-8")


def to_xlsx(table: Table) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = table.title[:31]
    sheet.append(table.headers)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for index, row in enumerate(table.rows, start=2):
        sheet.append([_plain(value) for value in row])
        for column, value in enumerate(row, start=1):
            target = sheet.cell(row=index, column=column)
            if isinstance(value, Money):
                target.number_format = "#,##0.00" if minor_digits(value.currency) == 2 else "#,##0"
            elif isinstance(value, datetime):
                target.number_format = "yyyy-mm-dd hh:mm"
            elif isinstance(value, date):
                target.number_format = "yyyy-mm-dd"
            elif isinstance(value, float):
                target.number_format = "0.00%"
    sheet.freeze_panes = "A2"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def ledger_table(session: Session, now: datetime | None = None) -> Table:
    rows: list[Sequence[Cell | Money | float]] = [
        [
            r.holder,
            r.unit,
            r.phone,
            r.email,
            r.currency,
            Money(r.owed_minor, r.currency),
            r.owed_since.date(),
            *(Money(r.aged[b], r.currency) for b in BUCKETS),
            " ".join(r.invoices),
        ]
        for r in arrears_ledger(session, now)
    ]
    headers = [
        "holder",
        "unit",
        "phone",
        "email",
        "currency",
        "owed",
        "owed since",
        *(f"{b} days" for b in BUCKETS),
        "invoices",
    ]
    return Table("arrears", headers, rows)


def batch_table(session: Session, batch_id: int) -> Table:
    batch = session.get_one(DebitBatch, batch_id)
    rows: list[Sequence[Cell | Money | float]] = []
    for line, number in session.execute(
        select(DebitLine, Invoice.number)
        .join(Invoice, Invoice.id == DebitLine.invoice_id)
        .where(DebitLine.batch_id == batch_id)
        .order_by(DebitLine.seq)
    ):
        rows.append(
            [
                batch.number,
                line.seq,
                line.reference,
                number,
                Money(line.amount_minor, batch.currency),
                line.status,
                line.bank_code,
                line.bank_reason,
                batch.collection_date,
            ]
        )
    return Table(
        batch.number,
        ["batch", "line", "reference", "invoice", "amount", "status", "bank code", "bank reason", "collection date"],
        rows,
    )


def statistics_table(session: Session, first_month: str, last_month: str) -> Table:
    rows: list[Sequence[Cell | Money | float]] = [
        [
            r.car_park,
            r.month,
            r.fee_item,
            r.currency,
            Money(r.billed_minor, r.currency),
            Money(r.collected_minor, r.currency),
            Money(r.outstanding_minor, r.currency),
            r.rate,
        ]
        for r in collection_statistics(session, first_month, last_month)
    ]
    for t in temporary_takings(session, first_month, last_month):
        rows.append(
            [
                t.car_park,
                t.month,
                "temporary_parking",
                t.currency,
                Money(t.takings_minor, t.currency),
                Money(t.takings_minor, t.currency),
                Money(0, t.currency),
                None,
            ]
        )
    return Table(
        "collection",
        ["car park", "month", "fee item", "currency", "billed", "collected", "outstanding", "collection rate"],
        rows,
    )
