"""Monthly collection statistics: billed, collected, outstanding and the collection rate by car park, month (the
operator's zone) and fee item, with the temporary-parking takings of the booth shifts (``shift_reports``) beside
the pass income. An invoice's net payments (paid less refunded) are allotted to its lines in order."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from central.billing.debit_run import month_end
from central.models import EdgeShiftReport, Invoice, InvoiceItem
from central.renewal import OPERATOR_ZONE


@dataclass(frozen=True, slots=True)
class CollectionRow:
    car_park: str
    month: str
    fee_item: str
    currency: str
    billed_minor: int
    collected_minor: int
    outstanding_minor: int
    rate: float | None  # collected / billed, None when nothing was billed


@dataclass(frozen=True, slots=True)
class TemporaryTakings:
    car_park: str
    month: str
    currency: str
    takings_minor: int
    shifts: int


def month_start(month: str) -> datetime:
    year, number = (int(part) for part in month.split("-"))
    return datetime(year, number, 1, tzinfo=OPERATOR_ZONE)


def _month_of(at: datetime) -> str:
    return at.astimezone(OPERATOR_ZONE).strftime("%Y-%m")


def collection_statistics(session: Session, first_month: str, last_month: str) -> list[CollectionRow]:
    """One row per car park, month and fee item from ``first_month`` to ``last_month`` (``YYYY-MM``)."""
    start, end = month_start(first_month), month_end(last_month)
    sums: dict[tuple[str, str, str, str], list[int]] = defaultdict(lambda: [0, 0])
    invoices = {
        inv.id: inv
        for inv in session.scalars(
            select(Invoice).where(Invoice.status != "void", Invoice.issued_at >= start, Invoice.issued_at < end)
        )
    }
    items: dict[int, list[InvoiceItem]] = defaultdict(list)
    ids = list(invoices)
    for chunk in range(0, len(ids), 10_000):
        for item in session.scalars(
            select(InvoiceItem)
            .where(InvoiceItem.invoice_id.in_(ids[chunk : chunk + 10_000]))
            .order_by(InvoiceItem.invoice_id, InvoiceItem.id)
        ):
            items[item.invoice_id].append(item)
    for invoice_id, invoice in invoices.items():
        left = max(invoice.paid_minor - invoice.refunded_minor, 0)
        month = _month_of(invoice.issued_at)
        for item in items[invoice_id]:
            share = min(left, item.amount_minor)
            left -= share
            cell = sums[(invoice.car_park, month, item.fee_item, invoice.currency)]
            cell[0] += item.amount_minor
            cell[1] += share
    return [
        CollectionRow(
            park,
            month,
            fee,
            currency,
            billed,
            collected,
            billed - collected,
            round(collected / billed, 4) if billed else None,
        )
        for (park, month, fee, currency), (billed, collected) in sorted(sums.items())
    ]


def temporary_takings(session: Session, first_month: str, last_month: str) -> list[TemporaryTakings]:
    """The valid shift reports' takings per car park and month."""
    start, end = month_start(first_month), month_end(last_month)
    sums: dict[tuple[str, str, str], list[int]] = defaultdict(lambda: [0, 0])
    for car_park, at, currency, takings in session.execute(
        select(EdgeShiftReport.car_park, EdgeShiftReport.at, EdgeShiftReport.currency, EdgeShiftReport.takings).where(
            EdgeShiftReport.valid, EdgeShiftReport.at >= start, EdgeShiftReport.at < end
        )
    ):
        cell = sums[(car_park, _month_of(at), currency)]
        cell[0] += takings or 0
        cell[1] += 1
    return [TemporaryTakings(p, m, c, t, n) for (p, m, c), (t, n) in sorted(sums.items())]
