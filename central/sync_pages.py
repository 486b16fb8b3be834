"""Building sync pages for an edge from ``sync_items``: a full snapshot or the changes since a version.

Items are read in version order, so a page ends at a version: a snapshot's first page is followed by delta pages
asked ``since`` that version, which carry the rest of the snapshot and everything changed meanwhile. The page's
JSON is joined from the stored wire JSON of each record, never parsed and dumped again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, or_, select
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
    pattern = f",{car_park},"  # matched with LIKE escaping: "_" in a car park id is not a wildcard
    joined: dict[str, str] = {}
    deleted: list[str] = []
    if full:
        joined, count, more, last = _snapshot(session, clock, pattern, limit)
        version = last if more else clock
    else:
        joined, gone, count, more, last = _changes(session, since, clock, car_park, limit)
        # Deleted, or no longer for this car park: an edge that had it must drop it.
        deleted = [f'{{"kind":"{kind}","id":{json.dumps(record_id, ensure_ascii=False)}}}' for kind, record_id in gone]
        version = last if more else clock
    head = (
        f'{{"wire_version":1,"since":{since},"version":{version},'
        f'"full":{"true" if full else "false"},"more":{"true" if more else "false"}'
    )
    parts = [head]
    for kind in _SECTIONS:
        parts.append(f',"{kind.value}":[')
        parts.append(joined.get(kind.value, ""))
        parts.append("]")
    parts.append(',"deleted":[')
    parts.append(",".join(deleted))
    parts.append("]}")
    return BuiltPage(
        body="".join(parts).encode("utf-8"), since=since, version=version, full=full, more=more,
        items=count, central_version=clock,
    )  # fmt: skip


def _in_scope(pattern: str) -> ColumnElement[bool]:
    return or_(SyncItem.scope == "", SyncItem.scope.contains(pattern, autoescape=True))


def _live(clock: int, pattern: str) -> ColumnElement[bool]:
    return and_(SyncItem.version <= clock, SyncItem.deleted.is_(False), _in_scope(pattern))


def _snapshot(session: Session, clock: int, pattern: str, limit: int) -> tuple[dict[str, str], int, bool, int]:
    """A snapshot page: (JSON array bodies by kind, records, more follow, last version)."""
    query = select(SyncItem.version, SyncItem.kind, SyncItem.body).where(_live(clock, pattern))
    rows = session.connection().execute(query.order_by(SyncItem.version).limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    sections: dict[str, list[str]] = {kind.value: [] for kind in _SECTIONS}
    for _version, kind, body in rows:
        sections[kind].append(body)
    return {k: ",".join(v) for k, v in sections.items()}, len(rows), more, rows[-1][0] if rows else 0


def _reaching(since: int, clock: int, pattern: str) -> ColumnElement[bool]:
    return and_(
        SyncItem.version > since, SyncItem.version <= clock,
        or_(SyncItem.reach == "", SyncItem.reach.contains(pattern, autoescape=True)),
    )  # fmt: skip


Changes = tuple[dict[str, str], list[tuple[str, str]], int, bool, int]


def _changes(session: Session, since: int, clock: int, car_park: str, limit: int) -> Changes:
    """A delta page: (JSON array bodies by kind, (kind, id) to delete, records, more, last)."""
    query = select(
        SyncItem.version, SyncItem.kind, SyncItem.record_id, SyncItem.scope, SyncItem.deleted, SyncItem.body
    ).where(_reaching(since, clock, f",{car_park},"))
    # Core, not ORM, execution: no per-row ORM bookkeeping for up to 50,000 rows.
    rows = session.connection().execute(query.order_by(SyncItem.version).limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    sections: dict[str, list[str]] = {kind.value: [] for kind in _SECTIONS}
    gone: list[tuple[str, str]] = []
    for _version, kind, record_id, scope, is_deleted, body in rows:
        if not is_deleted and _in(scope, car_park):
            sections[kind].append(body)
        else:
            gone.append((kind, record_id))
    joined = {kind: ",".join(bodies) for kind, bodies in sections.items()}
    return joined, gone, len(rows), more, rows[-1][0] if rows else 0
