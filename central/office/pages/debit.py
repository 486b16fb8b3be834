"""Direct-debit runs at the cashier's desk: start the month's run over the invoices due, with a bank profile from
``config/debit-profiles/`` (a bank's CSV layout or pain.008); the runs with their state; download a batch file;
upload the bank's result file and see each line's outcome (debited, failed with the bank's reason, lines that match
no batch line); a refused file names its file, line and column beside the upload field, and the same file again
changes nothing and says so. Each batch's page sums up what was credited. Billing does the work, as for the API."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from central.api.deps import SessionDep, SettingsDep
from central.billing.debit_profiles import available_profiles, load_profile, profile_folder
from central.billing.debit_results import import_results
from central.billing.debit_run import next_collection_date, run_debit
from central.billing.errors import BillingError, FileRejectedError
from central.core.config import Settings
from central.core.db import utcnow
from central.models import DebitBatch, DebitLine, DebitResultImport, Holder, Invoice, User
from central.office.billing_labels import LINE_STATES
from central.office.deps import PagesDep, PostedForm, PostedUpload, page
from central.office.forms import Form
from central.office.navigation import N_
from central.office.pages.invoices import billing_step, new_submission, refuse_billing
from central.office.paging import Paging
from central.office.rendering import redirect
from central.office.sessions import Operator
from central.renewal import OPERATOR_ZONE

router = APIRouter()
Readers = page("debit_runs")
Cashier = page("debit_actions")
_ROW_ID = 2_147_483_647
NOTICES = {"run": N_("The batch is made: download its file and send it to the bank."),
           "imported": N_("The result file is imported."),
           "again": N_("This file was imported before: nothing changed.")}  # fmt: skip


def _today() -> date:
    return utcnow().astimezone(OPERATOR_ZONE).date()


def runs_context(session: Session, settings: Settings, operator: Operator, page_number: int = 1,
                 **forms: Any) -> dict[str, Any]:  # fmt: skip
    """The runs page: the run and upload forms (for the cashier), the batches newest first, the latest imports."""
    paging: Paging[DebitBatch] = Paging.of("/office/debit-runs", page_number, size=25)
    batches = session.scalars(select(DebitBatch).order_by(DebitBatch.id.desc())
                              .limit(paging.fetch).offset(paging.offset)).all()  # fmt: skip
    imports = session.scalars(select(DebitResultImport).order_by(DebitResultImport.id.desc()).limit(20)).all()
    profiles = available_profiles(profile_folder(settings.debit_profile_dir))
    context: dict[str, Any] = {
        "batches": paging.take(batches), "imports": imports, "may_act": operator.role.value in ("cashier", "admin"),
        "profile_options": [(p.name, f"{p.name} · {p.bank} · {p.format}") for p in profiles],
        "month": _today().strftime("%Y-%m"), "collection": next_collection_date(_today()).isoformat(),
        "running": Form(), "uploading": Form(), "notice": None, "submission": new_submission(),
    }  # fmt: skip
    context.update(forms)
    return context


@router.get("/debit-runs")
def runs(request: Request, session: SessionDep, settings: SettingsDep, pages: PagesDep, page: int = 1,
         operator: Operator = Readers) -> Response:  # fmt: skip
    return pages.render(request, "debit_runs.html", runs_context(session, settings, operator, page))


@router.post("/debit-runs")
def start_run(request: Request, form: PostedForm, session: SessionDep, settings: SettingsDep, pages: PagesDep,
              operator: Operator = Cashier) -> Response:  # fmt: skip
    """The month's run for one bank profile; the form's own id makes a double submit one batch."""
    name = form.choice("profile", [p.name for p in available_profiles(profile_folder(settings.debit_profile_dir))])
    month = form.month("month", required=True)
    collection = form.date("collection_date", required=True)
    submission = form.text("submission", max_length=64)
    day = collection.date() if collection is not None else None  # None: the form is refused already
    batch = day and billing_step(session, form, "profile", lambda: run_debit(
        session, operator.user, load_profile(name, profile_folder(settings.debit_profile_dir)), month=month,
        collection_date=day, request_id=f"office:{submission}" if submission else None))  # fmt: skip
    if batch:
        return redirect(f"/office/debit-runs/{batch.id}", done="run")
    return pages.render(request, "debit_runs.html", runs_context(session, settings, operator, running=form), 422)


def _batch(session: Session, batch_id: int) -> DebitBatch | None:
    return session.get(DebitBatch, batch_id) if 1 <= batch_id <= _ROW_ID else None


def _lines(session: Session, *where: Any) -> list[Any]:
    """Batch lines with their invoice and holder, in the batch's order."""
    return list(session.execute(
        select(DebitLine, Invoice, Holder).join(Invoice, Invoice.id == DebitLine.invoice_id)
        .join(Holder, Holder.id == Invoice.holder_id).where(*where).order_by(DebitLine.batch_id, DebitLine.seq)
        .limit(5000)
    ).all())  # fmt: skip


@router.get("/debit-runs/{batch_id}")
def batch_page(batch_id: int, request: Request, session: SessionDep, pages: PagesDep, done: str = "",
               operator: Operator = Readers) -> Response:  # fmt: skip
    """One batch: what was credited and what failed (count and amount), what still awaits the bank, its lines."""
    batch = _batch(session, batch_id)
    if batch is None:
        return pages.render(request, "not_found.html", {}, 404)
    maker = session.get(User, batch.created_by) if batch.created_by else None
    context = {"batch": batch, "lines": _lines(session, DebitLine.batch_id == batch.id), "states": LINE_STATES,
               "maker": maker.username if maker else "", "notice": NOTICES.get(done),
               "may_act": operator.role.value in ("cashier", "admin")}  # fmt: skip
    return pages.render(request, "debit_batch.html", context)


@router.get("/debit-runs/{batch_id}/file")
def batch_file(batch_id: int, request: Request, session: SessionDep, pages: PagesDep,
               _operator: Operator = Cashier) -> Response:  # fmt: skip
    """The batch file as sent to the bank (it names accounts: the cashier's, as in the API)."""
    batch = _batch(session, batch_id)
    if batch is None:
        return pages.render(request, "not_found.html", {}, 404)
    media = "application/xml" if batch.file_name.endswith(".xml") else "text/csv"
    disposition = f'attachment; filename="{batch.file_name}"'
    return Response(batch.content, media_type=media, headers={"Content-Disposition": disposition})


@router.post("/debit-results")
def upload_result(request: Request, form: PostedUpload, session: SessionDep, settings: SettingsDep,
                  pages: PagesDep, operator: Operator = Cashier) -> Response:  # fmt: skip
    """Import a bank's result file; a file refused as a whole is named beside the field with its line and column."""
    folder = profile_folder(settings.debit_profile_dir)
    name = form.choice("result_profile", [p.name for p in available_profiles(folder)])
    file_name, content = form.upload("result_file")
    if form.ok:
        try:
            record, new = import_results(session, operator.user, load_profile(name, folder), file_name, content)
        except FileRejectedError as err:
            session.rollback()
            _refuse_file(form, err)
        except BillingError as err:
            session.rollback()
            refuse_billing(form, err, "result_file")
        else:
            session.commit()
            return redirect(f"/office/debit-results/{record.id}", done="imported" if new else "again")
    return pages.render(request, "debit_runs.html", runs_context(session, settings, operator, uploading=form), 422)


def _refuse_file(form: Form, err: FileRejectedError) -> None:
    """The file, line and column billing named, beside the upload field (billing's own words for the fault)."""
    detail = err.fault
    if err.line is not None and err.column:
        form.refuse("result_file", N_("%(file)s, line %(line)s, column %(column)s: %(detail)s"), file=err.file,
                    line=err.line, column=err.column, detail=detail)  # fmt: skip
    elif err.line is not None:
        form.refuse("result_file", N_("%(file)s, line %(line)s: %(detail)s"), file=err.file, line=err.line,
                    detail=detail)  # fmt: skip
    else:
        form.refuse("result_file", N_("%(file)s: %(detail)s"), file=err.file, detail=detail)


@router.get("/debit-results/{import_id}")
def result_page(import_id: int, request: Request, session: SessionDep, settings: SettingsDep, pages: PagesDep,
                done: str = "", _operator: Operator = Readers) -> Response:  # fmt: skip
    """One imported result: each line it settled (debited, or failed with the bank's code and reason) and the
    lines that match no batch line."""
    record = session.get(DebitResultImport, import_id) if 1 <= import_id <= _ROW_ID else None
    if record is None:
        return pages.render(request, "not_found.html", {}, 404)
    importer = session.get(User, record.imported_by) if record.imported_by else None
    lines = _lines(session, DebitLine.result_import_id == record.id)
    batches = {b.id: b for b in session.scalars(select(DebitBatch).where(
        DebitBatch.id.in_({line.batch_id for line, _i, _h in lines})))}  # fmt: skip
    profiles = {p.name: p for p in available_profiles(profile_folder(settings.debit_profile_dir))}
    currency = profiles[record.profile].currency if record.profile in profiles else "CNY"
    context = {"record": record, "lines": lines, "batches": batches, "states": LINE_STATES, "currency": currency,
               "importer": importer.username if importer else "", "notice": NOTICES.get(done)}  # fmt: skip
    return pages.render(request, "debit_result.html", context)
