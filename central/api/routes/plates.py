"""A data-subject request: every record, transaction and picture reference central holds for one plate, as JSON or
CSV, for the supervisor or the admin, with the reason written to the audit log."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response
from pydantic import Field

from central.api.deps import SessionDep, allow
from central.api.errors import ApiError
from central.api.fields import ResponseModel
from central.api.routes import API_PREFIX
from central.api.routes.journal import RecordOut, TransactionOut
from central.audit import record_change
from central.core.security import Role
from central.models import User
from central.privacy import PLATE_MAX, PlateRecords, plate_records, plates_csv, requested_plate
from parking.wire import shown_text, unstorable_text

router = APIRouter(prefix=API_PREFIX, tags=["privacy"])
Exporters = allow(Role.ADMIN, Role.SUPERVISOR)


class PlateImageOut(ResponseModel):
    edge_id: str
    record_id: str
    name: str


class PlateExportOut(ResponseModel):
    plate: str = Field(description="the plate as normalised (the export matches it exactly)")
    records: list[RecordOut]
    transactions: list[TransactionOut]
    images: list[PlateImageOut]


@router.get(
    "/plates/{plate}/records", response_model=PlateExportOut,
    responses={200: {"content": {"text/csv": {}}, "description": "the plate's records (JSON, or CSV with format=csv)"}},
    summary="One plate's records, transactions and picture references (a data-subject request; audited)",
)  # fmt: skip
def export_plate_records(
    session: SessionDep,
    plate: Annotated[str, Path(min_length=1, max_length=16)],
    reason: Annotated[str, Query(min_length=3, max_length=500, description="why: the request this answers")],
    format: Literal["json", "csv"] = "json",
    user: User = Exporters,
) -> Any:
    for name, value in (("plate", plate), ("reason", reason)):
        if problem := unstorable_text(value):
            raise ApiError(422, "request.invalid", f"{name} {problem}", {"field": name})
    wanted = requested_plate(plate)
    if wanted is None:
        raise ApiError(422, "plates.bad_plate", f"plate {shown_text(plate[:16])!r} is not a plate once normalised "
                       f"(1 to {PLATE_MAX} characters)", {"field": "plate"})  # fmt: skip
    found = plate_records(session, wanted)
    record_change(session, user, "plate.export", "plate", wanted, None,
                  {"format": format, "records": len(found.records), "transactions": len(found.transactions),
                   "images": len(found.images)}, reason=reason.strip())  # fmt: skip
    session.commit()
    if format == "csv":
        return Response(plates_csv(found), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": 'attachment; filename="plate-records.csv"'})  # fmt: skip
    return plate_export(found)


def plate_export(found: PlateRecords) -> PlateExportOut:
    """The JSON export of one plate's records (the office's download gives the same)."""
    return PlateExportOut(
        plate=found.plate,
        records=[RecordOut.model_validate(r) for r in found.records],
        transactions=[TransactionOut.model_validate(t) for t in found.transactions],
        images=[PlateImageOut.model_validate(i) for i in found.images],
    )
