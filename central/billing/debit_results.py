"""Import of a bank's result file: each line marks its batch line paid (a direct-debit payment on the invoice) or
failed with the bank's code and reason. The same file twice changes nothing; a line that matches no batch line is
listed, never guessed; a bad file (wrong encoding, a missing column, an amount that differs from its batch line, a
duplicated line) is refused as a whole with the file, line and column named, and nothing is half-imported."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ARRAY, String, any_, bindparam, case, func, select, text, update
from sqlalchemy.orm import Session

from central.audit import record_change, snapshot
from central.billing.bulk import copy_rows, insert_rows, is_postgresql
from central.billing.debit_profiles import DebitProfile
from central.billing.debit_result_files import parse_result_file
from central.billing.errors import BillingError, FileRejectedError
from central.billing.payments import receipt_number
from central.billing.settlement import invoice_paid_for_pass
from central.core.db import UTCDateTime, utcnow
from central.models import DebitBatch, DebitLine, DebitResultImport, Invoice, Payment, User

_LOGGER = logging.getLogger(__name__)
_CHUNK = 20_000


@dataclass(frozen=True, slots=True)
class Outcome:
    line_id: int
    batch_id: int
    invoice_id: int
    amount_minor: int
    paid: bool
    code: str
    reason: str


def import_results(
    session: Session,
    actor: User | None,
    profile: DebitProfile,
    file_name: str,
    content: bytes,
    now: datetime | None = None,
) -> tuple[DebitResultImport, bool]:
    """Import ``content``; answers the import and whether it is new (False: this file was imported before).

    Raises :class:`FileRejectedError` before changing anything when the file cannot be taken as a whole.
    """
    digest = hashlib.sha256(content).hexdigest()
    earlier = session.scalars(select(DebitResultImport).where(DebitResultImport.file_sha256 == digest)).first()
    if earlier is not None:
        return earlier, False
    now = now or utcnow()
    rows = parse_result_file(profile, file_name, content)
    known = _batch_lines(session, [row.reference for row in rows])
    outcomes: list[Outcome] = []
    unmatched: list[dict[str, object]] = []
    unchanged = 0
    for row in rows:
        line = known.get(row.reference)
        if line is None:
            unmatched.append(
                {
                    "line": row.line,
                    "reference": row.reference,
                    "amount_minor": row.amount_minor,
                    "code": row.code,
                    "reason": row.reason,
                }
            )
            continue
        line_id, batch_id, invoice_id, amount, status = line
        if row.amount_minor != amount:
            raise FileRejectedError(
                file_name,
                row.line,
                row.amount_column,
                f"amount {row.amount_minor} does not match batch line {row.reference} ({amount})",
            )
        paid = row.code in profile.result.paid_codes
        if status != "pending":
            if status == ("paid" if paid else "failed"):
                unchanged += 1
                continue
            raise FileRejectedError(
                file_name,
                row.line,
                row.code_column,
                f"line {row.reference} was already marked {status}, this file says otherwise",
            )
        outcomes.append(Outcome(line_id, batch_id, invoice_id, amount, paid, row.code, row.reason))
    record = DebitResultImport(
        file_name=file_name[:256],
        file_sha256=digest,
        profile=profile.name,
        imported_at=now,
        imported_by=actor.id if actor else None,
        paid_count=sum(o.paid for o in outcomes),
        failed_count=sum(not o.paid for o in outcomes),
        unchanged_count=unchanged,
        unmatched=unmatched,
    )
    session.add(record)
    session.flush()
    _apply(session, actor, record, outcomes, now)
    record_change(session, actor, "debit.import", "debit_result_import", record.id, None, snapshot(record))
    _LOGGER.info(
        "result %s: %d paid, %d failed, %d unchanged, %d unmatched",
        file_name,
        record.paid_count,
        record.failed_count,
        unchanged,
        len(unmatched),
    )
    return record, True


def _batch_lines(session: Session, references: list[str]) -> dict[str, tuple[int, int, int, int, str]]:
    found: dict[str, tuple[int, int, int, int, str]] = {}
    for start in range(0, len(references), _CHUNK):
        chunk = references[start : start + _CHUNK]
        for ref, line_id, batch_id, invoice_id, amount, status in session.execute(
            select(
                DebitLine.reference,
                DebitLine.id,
                DebitLine.batch_id,
                DebitLine.invoice_id,
                DebitLine.amount_minor,
                DebitLine.status,
            ).where(_among(session, DebitLine.reference, chunk))
        ):
            found[ref] = (line_id, batch_id, invoice_id, amount, status)
    return found


def _among(session: Session, column: Any, values: list[str]) -> Any:
    """``column IN values``; on PostgreSQL ``= ANY(array)``, one parameter instead of thousands."""
    if is_postgresql(session):
        return column == any_(bindparam("refs", values, type_=ARRAY(String(35))))
    return column.in_(values)


_OUTCOMES = (
    "CREATE TEMPORARY TABLE debit_outcomes (id integer PRIMARY KEY, invoice_id integer, amount_minor bigint, "
    "status varchar(16), bank_code varchar(32), bank_reason text)"
)
_MARK_LINES = (
    "UPDATE debit_lines SET status = o.status, bank_code = o.bank_code, bank_reason = o.bank_reason, "
    "result_import_id = :import_id FROM debit_outcomes o WHERE debit_lines.id = o.id AND debit_lines.status = 'pending'"
)
# Each paid line's amount onto its invoice (an invoice has one pending line at a time), closing those now settled.
_CREDIT_INVOICES = (
    "UPDATE invoices SET paid_minor = invoices.paid_minor + o.amount_minor, "
    "status = CASE WHEN invoices.paid_minor + o.amount_minor >= invoices.total_minor THEN 'paid' "
    "ELSE invoices.status END, "
    "paid_at = CASE WHEN invoices.paid_minor + o.amount_minor >= invoices.total_minor THEN :now "
    "ELSE invoices.paid_at END "
    "FROM debit_outcomes o WHERE o.status = 'paid' AND invoices.id = o.invoice_id "
    "RETURNING invoices.id, invoices.account_id, invoices.car_park, invoices.currency, invoices.status, "
    "invoices.pass_id"
)


def _apply(
    session: Session, actor: User | None, record: DebitResultImport, outcomes: list[Outcome], now: datetime
) -> None:
    """Set-based: the outcomes go into a temporary table (COPY on PostgreSQL), then one UPDATE marks the lines, one
    credits the invoices (answering what each payment needs) and the payments are written in bulk."""
    if not outcomes:
        return
    session.flush()
    session.execute(text("DROP TABLE IF EXISTS debit_outcomes"))
    session.execute(text(_OUTCOMES))
    rows = [
        {
            "id": o.line_id,
            "invoice_id": o.invoice_id,
            "amount_minor": o.amount_minor,
            "status": "paid" if o.paid else "failed",
            "bank_code": o.code[:32],
            "bank_reason": o.reason,
        }
        for o in outcomes
    ]
    if is_postgresql(session):
        copy_rows(session, "debit_outcomes", rows)
        session.execute(text("ANALYZE debit_outcomes"))  # a temporary table has no statistics: plan a hash join
    else:
        session.execute(text(_INSERT_OUTCOMES), rows)
    marked = session.execute(text(_MARK_LINES), {"import_id": record.id})
    if int(getattr(marked, "rowcount", 0) or 0) != len(outcomes):
        # Another import marked some of these lines since they were read: this one must not pay them again.
        raise BillingError("debit.concurrent_import", f"{record.file_name}: another import marked these lines; retry")
    credit = text(_CREDIT_INVOICES).bindparams(bindparam("now", type_=UTCDateTime()))
    credited = session.execute(credit, {"now": now}).all()
    session.execute(text("DROP TABLE debit_outcomes"))
    _pay(session, actor, [o for o in outcomes if o.paid], credited, now)
    session.expire_all()
    released = [inv_id for inv_id, _a, _p, _c, status, pass_id in credited if pass_id is not None and status == "paid"]
    for start in range(0, len(released), _CHUNK):
        for invoice in session.scalars(select(Invoice).where(Invoice.id.in_(released[start : start + _CHUNK]))):
            invoice_paid_for_pass(session, actor, invoice, now)
    _sum_batches(session, {o.batch_id for o in outcomes})


_INSERT_OUTCOMES = (
    "INSERT INTO debit_outcomes (id, invoice_id, amount_minor, status, bank_code, bank_reason) "
    "VALUES (:id, :invoice_id, :amount_minor, :status, :bank_code, :bank_reason)"
)


def _pay(session: Session, actor: User | None, paid: list[Outcome], credited: Sequence[Any], now: datetime) -> None:
    """A direct-debit payment with its receipt number for each paid line, numbered per car park."""
    invoices = {row[0]: (row[1], row[2], row[3]) for row in credited}
    by_park: dict[str, list[Outcome]] = {}
    for outcome in paid:
        by_park.setdefault(invoices[outcome.invoice_id][1], []).append(outcome)
    payments = []
    received_by = actor.id if actor else None
    for car_park, group in by_park.items():
        for outcome, number in zip(group, receipt_number(session, car_park, now, len(group)), strict=True):
            account, _park, currency = invoices[outcome.invoice_id]
            payments.append(
                {
                    "invoice_id": outcome.invoice_id,
                    "account_id": account,
                    "method": "direct_debit",
                    "amount_minor": outcome.amount_minor,
                    "applied_minor": outcome.amount_minor,
                    "credit_minor": 0,
                    "currency": currency,
                    "reference": "",
                    "receipt_number": number,
                    "receipt_prints": 0,
                    "debit_line_id": outcome.line_id,
                    "received_at": now,
                    "received_by": received_by,
                }
            )
    insert_rows(session, Payment.__table__, payments)


def _sum_batches(session: Session, batch_ids: set[int]) -> None:
    """Each batch's summary: how many lines and how much were credited and failed."""
    for batch_id in batch_ids:
        paid_count, paid_minor, failed_count, failed_minor = session.execute(
            select(
                func.coalesce(func.sum(case((DebitLine.status == "paid", 1), else_=0)), 0),
                func.coalesce(func.sum(case((DebitLine.status == "paid", DebitLine.amount_minor), else_=0)), 0),
                func.coalesce(func.sum(case((DebitLine.status == "failed", 1), else_=0)), 0),
                func.coalesce(func.sum(case((DebitLine.status == "failed", DebitLine.amount_minor), else_=0)), 0),
            ).where(DebitLine.batch_id == batch_id)
        ).one()
        session.execute(
            update(DebitBatch)
            .where(DebitBatch.id == batch_id)
            .values(paid_count=paid_count, paid_minor=paid_minor, failed_count=failed_count, failed_minor=failed_minor)
        )
