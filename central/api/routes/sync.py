"""The edge's side of the wire contract (:mod:`parking.wire`): list sync and journal ingest, with edge tokens only."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response

from central.api.deps import CurrentEdge, MetricsDep, SessionDep, SettingsDep
from central.api.errors import ApiError
from central.api.routes import API_PREFIX
from central.core.db import utcnow
from central.ingest import ingest_batch
from central.sync_pages import build_page
from parking.wire import INGEST_PATH, SYNC_PATH, ErrorBody, IngestAck, IngestEnvelope, SyncPage

router = APIRouter(prefix=API_PREFIX, tags=["edge"])
_EDGE_ERRORS: dict[int | str, dict[str, object]] = {
    401: {"model": ErrorBody, "description": "missing, unknown or revoked edge token"},
    403: {"model": ErrorBody, "description": "the batch names another edge"},
}
assert SYNC_PATH == API_PREFIX + "/sync"
assert INGEST_PATH == API_PREFIX + "/ingest"


@router.get(
    "/sync",
    summary="Lists for an edge: a snapshot (since=0) or the changes since a version",
    response_class=Response,
    responses={200: {"model": SyncPage, "description": "a SyncPage (wire contract v1)"}, **_EDGE_ERRORS},
    openapi_extra={"x-roles": ["edge"]},
)
def sync(
    edge: CurrentEdge,
    session: SessionDep,
    settings: SettingsDep,
    metrics: MetricsDep,
    since: Annotated[int, Query(ge=0, le=2**62, description="the version the edge holds; 0: none")] = 0,
    limit: Annotated[int | None, Query(ge=1, le=200_000, description="most records in this page")] = None,
) -> Response:
    size = min(limit or settings.sync_page_default, settings.sync_page_max)
    page = build_page(session, edge.car_park_id, since, size)
    edge.synced_version = min(since, page.central_version)
    edge.last_sync_at = utcnow()
    session.commit()
    metrics.sync_items.labels(edge.id).inc(page.items)
    return Response(content=page.body, media_type="application/json")


@router.post(
    "/ingest",
    summary="Journal records from an edge: stored once per id, hash chain verified",
    description="Each record is checked on its own against the wire bounds (parking.wire.JournalRecord): one "
    "outside them is kept as received in quarantine and reported in `quarantined`, never refusing the batch. "
    "A 422 is only for the envelope (wire_version, edge_id, records 1..5000 JSON objects).",
    response_model=IngestAck,
    responses=_EDGE_ERRORS,
    openapi_extra={"x-roles": ["edge"]},
)
def ingest(batch: IngestEnvelope, edge: CurrentEdge, session: SessionDep, metrics: MetricsDep) -> IngestAck:
    if batch.edge_id != edge.id:
        raise ApiError(403, "ingest.wrong_edge", f"this token belongs to edge {edge.id!r}, not {batch.edge_id!r}")
    outcome = ingest_batch(session, edge.id, batch)
    session.commit()
    metrics.ingest_records.labels(edge.id).inc(len(outcome.ack.accepted))
    if outcome.ack.duplicates:
        metrics.ingest_duplicates.labels(edge.id).inc(len(outcome.ack.duplicates))
    for rejection in outcome.ack.rejected:
        metrics.ingest_rejected.labels(edge.id, rejection.code).inc()
    for chain_break in outcome.breaks:
        metrics.chain_breaks.labels(edge.id, chain_break.reason).inc()
    if outcome.security_alerts:
        metrics.security_alerts.labels(edge.id).inc(outcome.security_alerts)
    for held in outcome.quarantined:
        metrics.ingest_quarantined.labels(edge.id, held.reason).inc()
    if outcome.invalid_reports:
        metrics.invalid_shift_reports.labels(edge.id).inc(len(outcome.invalid_reports))
    return outcome.ack
