"""Building sync pages for an edge from ``sync_items``: a full snapshot or the changes since a version.

Items are read in version order, so a page ends at a version: a snapshot's first page is followed by delta pages
asked ``since`` that version, which carry the rest of the snapshot and everything changed meanwhile. The page's
JSON is joined from the stored wire JSON of each record, never parsed and dumped again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from central.models import SyncItem
from central.publication import current_version
from parking.wire import ListKind

_SECTIONS = (ListKind.PASSES, ListKind.CARDS, ListKind.VEHICLES, ListKind.TARIFFS)


@dataclass(frozen=True, slots=True)
class BuiltPage:
    body: bytes
    since: int
    version: int
    full: bool
    more: bool
    items: int
    central_version: int


def _in(scope: str, car_park: str) -> bool:
    return scope == "" or f",{car_park}," in scope


def build_page(session: Session, car_park: str, since: int, limit: int) -> BuiltPage:
    """The page an edge of ``car_park`` gets when it asks from ``since`` with at most ``limit`` records."""
    clock, purged_through = current_version(session)
    # A snapshot when the edge starts, is behind the kept deletions, or is ahead of us (central restored).
    full = since == 0 or since < purged_through or since > clock
    pattern = f"%,{car_park},%"
    sections: dict[str, list[str]] = {kind.value: [] for kind in _SECTIONS}
    deleted: list[str] = []
    if full:
        # Only live records in scope: no per-row decisions, so fetch just what goes on the wire.
        live = select(SyncItem.version, SyncItem.kind, SyncItem.body).where(
            SyncItem.version <= clock, SyncItem.deleted.is_(False),
            or_(SyncItem.scope == "", SyncItem.scope.like(pattern)),
        )  # fmt: skip
        snapshot = session.execute(live.order_by(SyncItem.version).limit(limit + 1)).all()
        more = len(snapshot) > limit
        snapshot = snapshot[:limit]
        for _version, kind, body in snapshot:
            sections[kind].append(body)
        count = len(snapshot)
        version = snapshot[-1][0] if more else clock
    else:
        query = select(
            SyncItem.version, SyncItem.kind, SyncItem.record_id, SyncItem.scope, SyncItem.deleted, SyncItem.body
        ).where(
            SyncItem.version > since, SyncItem.version <= clock, or_(SyncItem.reach == "", SyncItem.reach.like(pattern))
        )
        changes = session.execute(query.order_by(SyncItem.version).limit(limit + 1)).all()
        more = len(changes) > limit
        changes = changes[:limit]
        for _version, kind, record_id, scope, is_deleted, body in changes:
            if not is_deleted and _in(scope, car_park):
                sections[kind].append(body)
            else:
                # Deleted, or no longer for this car park: an edge that had it must drop it.
                deleted.append(f'{{"kind":"{kind}","id":{json.dumps(record_id, ensure_ascii=False)}}}')
        count = len(changes)
        version = changes[-1][0] if more else clock
    head = (
        f'{{"wire_version":1,"since":{since},"version":{version},'
        f'"full":{"true" if full else "false"},"more":{"true" if more else "false"}'
    )
    parts = [head]
    for kind in _SECTIONS:
        parts.append(f',"{kind.value}":[')
        parts.append(",".join(sections[kind.value]))
        parts.append("]")
    parts.append(',"deleted":[')
    parts.append(",".join(deleted))
    parts.append("]}")
    return BuiltPage(
        body="".join(parts).encode("utf-8"), since=since, version=version, full=full, more=more,
        items=count, central_version=clock,
    )  # fmt: skip
