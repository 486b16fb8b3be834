"""The edges' evidence images: an edge uploads the picture its journal records name (a manual open, an abnormal
event, a vehicle's entry), with its own token, after the records themselves (see :mod:`central.edge_images`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from sqlalchemy import or_, select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from central.api.deps import CurrentEdge, SessionDep, SettingsDep
from central.api.errors import ApiError
from central.api.routes import API_PREFIX
from central.core.config import Settings
from central.edge_images import IMAGE_NAME, ImageRefusedError, store_image
from central.models import EdgeRecord

router = APIRouter(prefix=API_PREFIX + "/edges/images", tags=["edge"])
ImageName = Annotated[str, Path(max_length=140, description="the name the journal gives: yyyy-mm-dd/<id>-<kind>.jpg")]


async def _body(request: Request, limit: int) -> bytes:
    """The request's body, read no further than one byte past ``limit`` (a larger one is refused unread)."""
    declared = request.headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and int(declared) > limit:
        raise ApiError(413, "image.too_large", f"{declared} bytes: at most {limit} are taken")
    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > limit:
            raise ApiError(413, "image.too_large", f"more than {limit} bytes: at most {limit} are taken")
    return bytes(data)


def _named_by_edge(session: Session, edge_id: str, name: str) -> bool:
    """Whether one of the edge's records of the name's day (± a day for the zone) names the image."""
    match = IMAGE_NAME.fullmatch(name)
    if match is None:
        return False
    day = datetime.strptime(match[1], "%Y-%m-%d").replace(tzinfo=UTC)
    named = or_(EdgeRecord.payload["evidence"].as_string() == name, EdgeRecord.payload["image"].as_string() == name)
    query = select(EdgeRecord.id).where(EdgeRecord.edge_id == edge_id, EdgeRecord.at >= day - timedelta(days=1),
                                        EdgeRecord.at < day + timedelta(days=2), named).limit(1)  # fmt: skip
    return session.scalars(query).first() is not None


@router.post("/{name:path}", summary="An evidence image one of the edge's records names (JPEG or PNG, size-capped)",
             openapi_extra={"x-roles": ["edge"]})  # fmt: skip
async def upload_image(
    name: ImageName, request: Request, edge: CurrentEdge, session: SessionDep, settings: SettingsDep
) -> dict[str, Any]:
    if IMAGE_NAME.fullmatch(name) is None:
        raise ApiError(422, "image.bad_name", f"{name[:120]!r} is not an image name of an edge's journal "
                       "(yyyy-mm-dd/<id>.jpg)")  # fmt: skip
    data = await _body(request, settings.edge_image_max_bytes)
    return await run_in_threadpool(_keep, session, settings, edge.id, name, data)  # the database and the disk


def _keep(session: Session, settings: Settings, edge_id: str, name: str, data: bytes) -> dict[str, Any]:
    if not _named_by_edge(session, edge_id, name):
        raise ApiError(409, "image.not_named", f"no record of edge {edge_id} names {name}: send the records first")
    try:
        _path, new = store_image(settings.edge_images_dir, edge_id, name, data, settings.edge_image_max_bytes)
    except ImageRefusedError as err:
        raise ApiError(err.status, err.code, err.message) from err
    return {"name": name, "bytes": len(data), "stored": new}
