"""Bank direct debit: mandates, the monthly debit run (the batch file in the profile's layout), the batches with
their summary, and the import of the bank's result file (sent as the request body)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Body, Query
from fastapi.responses import Response
from pydantic import Field
from sqlalchemy import select

from central.api.deps import SessionDep, SettingsDep
from central.api.errors import not_found
from central.api.fields import Limit, Name, Offset, RequestModel, ResponseModel, RowId, When
from central.api.routes import API_PREFIX
from central.api.routes.billing_common import CSV_XLSX, BookReaders, Cashiers, ClientRequestId, request_id, table_file
from central.billing.debit_profiles import DebitProfile, load_profile, profile_folder
from central.billing.debit_results import import_results
from central.billing.debit_run import run_debit
from central.billing.exports import batch_table
from central.billing.mandates import create_mandate, revoke_mandate
from central.core.config import Settings
from central.models import DebitBatch, DebitMandate, DebitResultImport, User

router = APIRouter(prefix=API_PREFIX + "/billing", tags=["billing"])
ProfileName = Annotated[str, Query(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]
MAX_RESULT_BYTES = 64 * 1024 * 1024


class MandateIn(RequestModel):
    holder_id: int = Field(ge=1, le=2_147_483_647)
    scheme: Literal["sepa", "cn"]
    bank: Name
    bic: Annotated[str, Field(max_length=11)] = ""
    account_number: Annotated[str, Field(min_length=1, max_length=64)]
    account_name: Name
    reference: Annotated[str, Field(min_length=1, max_length=35)]
    signed_on: When | None = None


class MandateOut(ResponseModel):
    id: int
    holder_id: int
    scheme: str
    bank: str
    bic: str
    account_number: str
    account_name: str
    reference: str
    signed_on: datetime
    active: bool


class RunIn(RequestModel):
    profile: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]
    month: Annotated[str, Field(pattern=r"^20[0-9]{2}-(0[1-9]|1[0-2])$")]
    collection_date: date
    request_id: Annotated[str | None, Field(default=None, pattern=r"^[A-Za-z0-9._:-]{1,64}$")] = None


class BatchOut(ResponseModel):
    id: int
    number: str
    profile: str
    month: str
    collection_date: datetime
    currency: str
    line_count: int
    total_minor: int
    paid_count: int
    paid_minor: int
    failed_count: int
    failed_minor: int
    file_name: str
    file_sha256: str
    created_at: datetime


class ImportOut(ResponseModel):
    id: int
    file_name: str
    file_sha256: str
    profile: str
    imported_at: datetime
    paid_count: int
    failed_count: int
    unchanged_count: int
    unmatched: list[dict[str, object]]
    new: bool = True


def _profile(settings: Settings, name: str) -> DebitProfile:
    return load_profile(name, profile_folder(settings.debit_profile_dir))


def _batch(session: SessionDep, batch_id: int) -> DebitBatch:
    batch = session.get(DebitBatch, batch_id)
    if batch is None:
        raise not_found("debit_batch", batch_id)
    return batch


@router.post("/mandates", response_model=MandateOut, status_code=201, summary="Record a direct-debit mandate")
def add_mandate(body: MandateIn, session: SessionDep, user: User = Cashiers) -> DebitMandate:
    mandate = create_mandate(session, user, **body.model_dump())
    session.commit()
    return mandate


@router.get("/mandates", response_model=list[MandateOut], summary="Mandates by holder")
def list_mandates(
    session: SessionDep,
    holder_id: int | None = Query(default=None, ge=1, le=2_147_483_647),
    limit: Limit = 100,
    offset: Offset = 0,
    _user: User = BookReaders,
) -> list[DebitMandate]:
    query = select(DebitMandate).order_by(DebitMandate.id).limit(limit).offset(offset)
    if holder_id is not None:
        query = query.where(DebitMandate.holder_id == holder_id)
    return list(session.scalars(query))


@router.post("/mandates/{mandate_id}/revoke", response_model=MandateOut, summary="Stop using a mandate")
def revoke(mandate_id: RowId, session: SessionDep, user: User = Cashiers) -> DebitMandate:
    mandate = revoke_mandate(session, user, mandate_id)
    session.commit()
    return mandate


@router.post("/debit-runs", response_model=BatchOut, status_code=201, summary="The month's debit run: a batch file")
def debit_run(
    body: RunIn,
    session: SessionDep,
    settings: SettingsDep,
    client_request: ClientRequestId = None,
    user: User = Cashiers,
) -> DebitBatch:
    batch = run_debit(
        session,
        user,
        _profile(settings, body.profile),
        month=body.month,
        collection_date=body.collection_date,
        request_id=request_id(client_request, body.request_id),
    )
    session.commit()
    return batch


@router.get("/debit-batches", response_model=list[BatchOut], summary="Debit batches with their summary")
def list_batches(
    session: SessionDep, limit: Limit = 100, offset: Offset = 0, _user: User = BookReaders
) -> list[DebitBatch]:
    return list(session.scalars(select(DebitBatch).order_by(DebitBatch.id.desc()).limit(limit).offset(offset)))


@router.get("/debit-batches/{batch_id}", response_model=BatchOut, summary="One batch's summary")
def get_batch(batch_id: RowId, session: SessionDep, _user: User = BookReaders) -> DebitBatch:
    return _batch(session, batch_id)


@router.get(
    "/debit-batches/{batch_id}/file",
    summary="The batch file as sent to the bank",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}, "application/xml": {}}, "description": "the file"}},
)
def batch_file(batch_id: RowId, session: SessionDep, _user: User = Cashiers) -> Response:
    batch = _batch(session, batch_id)
    media = "application/xml" if batch.file_name.endswith(".xml") else "text/csv"
    return Response(
        batch.content, media_type=media, headers={"Content-Disposition": f'attachment; filename="{batch.file_name}"'}
    )


@router.get(
    "/debit-batches/{batch_id}/lines",
    summary="The batch's lines as CSV or XLSX",
    response_class=Response,
    responses=CSV_XLSX,
)
def batch_lines_file(
    batch_id: RowId, session: SessionDep, format: Literal["csv", "xlsx"] = "csv", _user: User = BookReaders
) -> Response:
    batch = _batch(session, batch_id)
    return table_file(batch_table(session, batch.id), f"{batch.number}-lines", format)


@router.post(
    "/debit-results",
    response_model=ImportOut,
    summary="Import a bank's result file (the request body)",
    responses={201: {"model": ImportOut, "description": "imported"}},
)
def import_result(
    session: SessionDep,
    settings: SettingsDep,
    profile: ProfileName,
    file_name: str = Query(min_length=1, max_length=200, pattern=r"^[^/\\\x00]+$"),
    content: bytes = Body(media_type="application/octet-stream", max_length=MAX_RESULT_BYTES),
    user: User = Cashiers,
) -> ImportOut:
    record, new = import_results(session, user, _profile(settings, profile), file_name, content)
    session.commit()
    return ImportOut.model_validate(record).model_copy(update={"new": new})


@router.get("/debit-results", response_model=list[ImportOut], summary="Result files imported, latest first")
def list_imports(
    session: SessionDep, limit: Limit = 100, offset: Offset = 0, _user: User = BookReaders
) -> list[DebitResultImport]:
    return list(
        session.scalars(select(DebitResultImport).order_by(DebitResultImport.id.desc()).limit(limit).offset(offset))
    )
