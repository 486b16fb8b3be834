"""The monthly direct-debit run: every open invoice due by the end of the month whose holder has an active mandate
of the profile's scheme becomes a line of one batch, written as the profile's CSV layout or as ISO 20022 pain.008
(made with sepaxml and validated against the XSD it ships). An invoice on a pending line is not debited twice."""

from __future__ import annotations

import csv
import hashlib
import io
import logging
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from central.audit import record_change, snapshot
from central.billing.bulk import insert_rows
from central.billing.debit_profiles import DebitProfile
from central.billing.errors import BillingError
from central.billing.numbering import take_numbers
from central.core.db import utcnow
from central.models import DebitBatch, DebitLine, DebitMandate, Holder, Invoice, Unit, User
from central.renewal import OPERATOR_ZONE, add_months

_LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RunLine:
    seq: int
    reference: str
    invoice_id: int
    invoice_number: str
    mandate: tuple[int, str, str, str, str, str, datetime]  # id, bank, bic, account, name, reference, signed_on
    holder: str
    unit: str
    amount_minor: int


def month_end(month: str) -> datetime:
    """The first instant after ``YYYY-MM`` in the operator's zone (UTC)."""
    try:
        year, number = (int(part) for part in month.split("-"))
        start = datetime(year, number, 1, tzinfo=OPERATOR_ZONE)
    except ValueError as err:
        raise BillingError("debit.bad_month", f"{month!r} is not a month like 2026-12", status=422) from err
    return add_months(start, 1)


def _due_lines(session: Session, profile: DebitProfile, month: str) -> list[Any]:
    latest = (
        select(func.max(DebitMandate.id).label("id"))
        .where(DebitMandate.active, DebitMandate.scheme == profile.scheme)
        .group_by(DebitMandate.holder_id)
        .subquery()
    )
    pending = select(DebitLine.invoice_id).where(DebitLine.status == "pending")
    query = (
        select(
            Invoice.id,
            Invoice.number,
            Invoice.total_minor - Invoice.paid_minor,
            DebitMandate.id,
            DebitMandate.bank,
            DebitMandate.bic,
            DebitMandate.account_number,
            DebitMandate.account_name,
            DebitMandate.reference,
            DebitMandate.signed_on,
            Holder.name,
            Unit.building,
            Unit.room,
        )
        .join(Holder, Holder.id == Invoice.holder_id)
        .join(DebitMandate, DebitMandate.holder_id == Invoice.holder_id)
        .join(latest, latest.c.id == DebitMandate.id)
        .outerjoin(Unit, Unit.id == Holder.unit_id)
        .where(
            Invoice.status == "open",
            Invoice.currency == profile.currency,
            Invoice.due_at < month_end(month),
            Invoice.total_minor > Invoice.paid_minor,
            Invoice.id.not_in(pending),
        )
        .order_by(Invoice.id)
    )
    return list(session.execute(query))


def run_debit(
    session: Session,
    actor: User | None,
    profile: DebitProfile,
    *,
    month: str,
    collection_date: date,
    request_id: str | None = None,
) -> DebitBatch:
    """Make the month's batch for ``profile`` and its file; refused when nothing is due."""
    if request_id:
        existing = session.scalars(select(DebitBatch).where(DebitBatch.request_id == request_id)).first()
        if existing is not None:
            return existing
    rows = _due_lines(session, profile, month)
    if not rows:
        raise BillingError("debit.nothing_due", f"no invoice due by the end of {month} has a {profile.scheme} mandate")
    now = utcnow()
    year = now.astimezone(OPERATOR_ZONE).year
    batch_seq = take_numbers(session, "debit", "*", year)
    number = f"DD-{year}-{batch_seq:04d}"
    prefix = f"DD{year}{batch_seq:04d}"
    lines = [
        RunLine(seq, f"{prefix}{seq:07d}", invoice_id, invoice_number, tuple(mandate), holder,
                f"{building}-{room}" if building else "", amount)
        for seq, (invoice_id, invoice_number, amount, *mandate, holder, building, room) in enumerate(rows, start=1)
    ]  # fmt: skip
    collection = datetime.combine(collection_date, time(9), tzinfo=OPERATOR_ZONE)
    content = (
        write_csv(profile, lines, collection_date)
        if profile.format == "csv"
        else write_pain008(profile, lines, collection_date, number)
    )
    ext = "csv" if profile.format == "csv" else "xml"
    batch = DebitBatch(
        number=number,
        profile=profile.name,
        month=month,
        collection_date=collection,
        currency=profile.currency,
        line_count=len(lines),
        total_minor=sum(line.amount_minor for line in lines),
        paid_count=0,
        paid_minor=0,
        failed_count=0,
        failed_minor=0,
        file_name=f"{number}-{profile.name}.{ext}",
        file_sha256=hashlib.sha256(content).hexdigest(),
        content=content,
        created_at=now,
        created_by=actor.id if actor else None,
        request_id=request_id,
    )
    session.add(batch)
    session.flush()
    insert_rows(
        session,
        DebitLine.__table__,
        [
            {
                "batch_id": batch.id,
                "seq": line.seq,
                "reference": line.reference,
                "invoice_id": line.invoice_id,
                "mandate_id": line.mandate[0],
                "amount_minor": line.amount_minor,
                "status": "pending",
                "bank_code": "",
                "bank_reason": "",
            }
            for line in lines
        ],
    )
    after = {k: v for k, v in snapshot(batch).items() if k != "content"}
    record_change(session, actor, "debit.run", "debit_batch", number, None, after)
    _LOGGER.info("debit batch %s: %d lines, %d minor units", number, len(lines), batch.total_minor)
    return batch


def _values(profile: DebitProfile, line: RunLine, collection: str) -> dict[str, str]:
    """Every field a CSV column may name, for one line."""
    mandate = line.mandate
    return {
        "reference": line.reference,
        "account_number": mandate[3],
        "account_name": mandate[4],
        "bank": mandate[1],
        "amount": profile.format_amount(line.amount_minor),
        "currency": profile.currency,
        "mandate_reference": mandate[5],
        "invoice_number": line.invoice_number,
        "holder": line.holder,
        "unit": line.unit,
        "collection_date": collection,
        "description": line.invoice_number,
    }


def write_csv(profile: DebitProfile, lines: list[RunLine], collection_date: date) -> bytes:
    """The batch in the profile's CSV layout and encoding (a name GBK cannot hold is refused, not mangled)."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=profile.delimiter, lineterminator="\r\n")
    if profile.header:
        writer.writerow([column.title for column in profile.columns])
    fields = [column.field for column in profile.columns]
    collection = collection_date.isoformat()
    for line in lines:
        values = _values(profile, line, collection)
        writer.writerow([values[field] for field in fields])
    try:
        return out.getvalue().encode(profile.encoding)
    except UnicodeEncodeError as err:
        raise BillingError(
            "debit.unencodable",
            f"a value cannot be written in {profile.encoding}: {err.object[err.start : err.end]!r}",
            status=422,
        ) from err


def write_pain008(profile: DebitProfile, lines: list[RunLine], collection_date: date, number: str) -> bytes:
    """The batch as ISO 20022 pain.008 made by sepaxml, validated against the library's XSD."""
    from sepaxml import SepaDD  # imported here: it is needed only for SEPA operators
    from sepaxml.validation import ValidationError as SepaValidationError

    creditor = profile.creditor
    assert creditor is not None
    config = {
        "name": creditor.name,
        "IBAN": creditor.iban,
        "BIC": creditor.bic,
        "batch": True,
        "creditor_id": creditor.creditor_id,
        "currency": profile.currency,
    }
    if not creditor.bic:
        del config["BIC"]
    sepa = SepaDD(config, schema=profile.pain_schema, clean=True)
    for line in lines:
        mandate = line.mandate
        payment = {
            "name": mandate[4],
            "IBAN": mandate[3],
            "amount": line.amount_minor,
            "type": "RCUR",
            "collection_date": collection_date,
            "mandate_id": mandate[5],
            "mandate_date": mandate[6].astimezone(OPERATOR_ZONE).date(),
            "description": line.invoice_number,
            "endtoend_id": line.reference,
        }
        if mandate[2]:
            payment["BIC"] = mandate[2]
        sepa.add_payment(payment)
    try:
        xml: bytes = sepa.export(validate=True)
    except SepaValidationError as err:
        raise BillingError(
            "debit.invalid_pain008",
            f"batch {number}: the pain.008 file does not validate: {err.__cause__ or err}",
            status=422,
        ) from err
    return xml


def batch_lines(session: Session, batch_id: int) -> list[DebitLine]:
    return list(session.scalars(select(DebitLine).where(DebitLine.batch_id == batch_id).order_by(DebitLine.seq)))


def next_collection_date(today: date) -> date:
    """Two business days ahead, the earliest a bank takes a recurring collection."""
    day, left = today, 2
    while left:
        day += timedelta(days=1)
        left -= day.weekday() < 5
    return day
