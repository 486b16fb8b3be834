"""The edges' evidence images at central: the picture of a manual open, an abnormal event or a vehicle's entry,
uploaded by the edge that took it (with its token) and shown on the supervisor's reconciliation pages.

Kept as files under ``Settings.edge_images_dir``, one folder per edge, by the name the edge's journal records give
(``<yyyy-mm-dd>/<read id>-<kind>.jpg``, see ``edge/cameras.py``). A name is checked against one pattern before it
touches the disk, so no name can leave its edge's folder; the bytes must be a JPEG or a PNG within the size cap.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from central.models import EdgeRecord

_LOGGER = logging.getLogger(__name__)

IMAGE_NAME = re.compile(r"^(\d{4}-\d{2}-\d{2})/([A-Za-z0-9][A-Za-z0-9_-]{0,99})\.(jpg|jpeg|png)$")
EDGE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_MAGIC = {b"\xff\xd8\xff": "image/jpeg", b"\x89PNG\r\n\x1a\n": "image/png"}


class ImageRefusedError(Exception):
    """An upload central does not keep: ``code`` (stable), ``status`` (HTTP) and why."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def valid_name(name: str) -> bool:
    """Whether ``name`` is an image name an edge's journal gives (a day folder and a file, nothing else)."""
    return IMAGE_NAME.fullmatch(name) is not None


def media_type(data: bytes) -> str | None:
    """``image/jpeg`` or ``image/png`` from the file's first bytes; None for anything else."""
    return next((kind for magic, kind in _MAGIC.items() if data.startswith(magic)), None)


def image_path(folder: str | Path, edge_id: str, name: str) -> Path | None:
    """Where the image ``name`` of ``edge_id`` is (or would be) kept; None for a name or edge that is not valid."""
    if not valid_name(name) or EDGE_ID.fullmatch(edge_id) is None:
        return None
    return Path(folder) / edge_id / name


def store_image(folder: str | Path, edge_id: str, name: str, data: bytes, max_bytes: int) -> tuple[Path, bool]:
    """Keep one uploaded image whole (written aside, then renamed). Answers its path and whether it was new; the
    same name sent again is kept once (the edge retries after a timeout)."""
    path = image_path(folder, edge_id, name)
    if path is None:
        raise ImageRefusedError(422, "image.bad_name", f"{name[:120]!r} is not an image name of an edge's journal "
                           "(yyyy-mm-dd/<id>.jpg)")  # fmt: skip
    if len(data) > max_bytes:
        raise ImageRefusedError(413, "image.too_large", f"{len(data)} bytes: at most {max_bytes} are taken")
    if media_type(data) is None:
        raise ImageRefusedError(415, "image.not_an_image", "the body is neither a JPEG nor a PNG image")
    if path.is_file():
        return path, False
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.part")
    partial.write_bytes(data)
    os.replace(partial, path)
    _LOGGER.info("edge %s: evidence image %s (%d bytes)", edge_id, name, len(data))
    return path, True


def _named(payload: dict[str, Any]) -> str | None:
    for key in ("evidence", "image"):
        value = payload.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def evidence_for(session: Session, record_ids: Iterable[str]) -> dict[str, tuple[str, str]]:
    """The image each record's evidence is, as (edge id, name): the record's own (a manual action, an abnormal
    event, a waiver) or, for a payment, its vehicle's entry picture. Records without a valid name are left out."""
    wanted = sorted({r for r in record_ids if r})[:2000]
    if not wanted:
        return {}
    rows = session.execute(select(EdgeRecord.id, EdgeRecord.edge_id, EdgeRecord.payload)
                           .where(EdgeRecord.id.in_(wanted))).all()  # fmt: skip
    found: dict[str, tuple[str, str]] = {}
    sessions: dict[str, list[str]] = {}
    for record_id, edge_id, payload in rows:
        data = payload if isinstance(payload, dict) else {}
        name = _named(data)
        if name is not None and valid_name(name):
            found[record_id] = (edge_id, name)
        elif isinstance(data.get("session"), str):
            sessions.setdefault(data["session"], []).append(record_id)
    if sessions:  # a session's opening record carries the session's id and its entry picture
        for record_id, edge_id, payload in session.execute(
            select(EdgeRecord.id, EdgeRecord.edge_id, EdgeRecord.payload).where(EdgeRecord.id.in_(list(sessions)))
        ):
            name = _named(payload) if isinstance(payload, dict) else None
            if name is not None and valid_name(name):
                for asking in sessions[record_id]:
                    found[asking] = (edge_id, name)
    return found
