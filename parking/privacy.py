"""Retention of personal data in journal records: what a purge removes, the marker it leaves, and how a purged
record is checked in the hash chain. Shared by the edge (its journal) and central (the records it ingested).

Plates, card numbers, holders' names and rooms, and image references in a record's payload are personal data
(the plate and the picture of a temporary vehicle above all). A purge removes them from records older than the
retention (images after ``images_days``, the rest after ``events_days``) and keeps everything else: amounts,
times, lanes, operators, session ids, reasons, so money still reconciles.

A record's ``hash`` and ``prev_hash`` are never rewritten. A purged payload carries a marker
``{"_purged": {"at": ..., "by": ..., "fields": [...]}}`` (``by`` names the journaled purge that did it, ``fields``
the paths removed), so the hash of a purged record can no longer be recomputed; its place in the chain still can
be checked (its ``prev_hash`` is the hash before it, the record after it links to its stored hash), and the purge
it names must exist, cover it (its cutoff later than the record) and have listed its seq among those it rewrote
(each side keeps that list: the edge in its journal, central in its audit log). An unpurged record is recomputed in
full.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

PURGED = "_purged"
# Image references: the evidence picture of a record, the entry picture of a session.
IMAGE_KEYS = frozenset({"image", "images", "evidence"})
# Who the record is about: the plate read, the card presented or issued, a card holder's name and room.
PERSONAL_KEYS = frozenset({"plate", "plates", "card", "holder", "unit", "phone"})


@dataclass(frozen=True, slots=True)
class Retention:
    """How long personal data stays in records: pictures ``images_days``, plates and cards ``events_days``."""

    images_days: int
    events_days: int

    def cutoffs(self, now: datetime) -> PurgeCutoffs:
        """The record times before which each kind of field goes, for a purge run at ``now``."""
        return PurgeCutoffs(images_before=now - timedelta(days=self.images_days),
                            events_before=now - timedelta(days=self.events_days))  # fmt: skip


@dataclass(frozen=True, slots=True)
class PurgeCutoffs:
    """What one purge covered: image fields of records before ``images_before``, the rest before ``events_before``."""

    images_before: datetime
    events_before: datetime

    def to_payload(self) -> dict[str, str]:
        return {"images_before": utc_text(self.images_before), "events_before": utc_text(self.events_before)}

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> PurgeCutoffs | None:
        try:
            return cls(datetime.fromisoformat(str(payload["images_before"])),
                       datetime.fromisoformat(str(payload["events_before"])))  # fmt: skip
        except (KeyError, ValueError):
            return None


def utc_text(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _strip(value: Any, keys: frozenset[str], path: str, removed: list[str]) -> Any:
    """``value`` without the ``keys`` (at any depth; a null value is not counted as personal data)."""
    if isinstance(value, dict):
        kept: dict[str, Any] = {}
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            if key == PURGED and not path:
                kept[key] = item
            elif key in keys:
                if item not in (None, "", [], {}):
                    removed.append(where)
            else:
                kept[key] = _strip(item, keys, where, removed)
        return kept
    if isinstance(value, list):
        return [_strip(item, keys, f"{path}[{n}]", removed) for n, item in enumerate(value)]
    return value


def purge_payload(
    payload: Mapping[str, Any], *, images: bool, events: bool, at: datetime, by: str
) -> tuple[dict[str, Any], list[str]] | None:
    """The payload with its image fields (``images``) and personal fields (``events``) removed and the purge marker
    set (merged with an earlier one); ``None`` when there is nothing left to remove."""
    keys = (IMAGE_KEYS if images else frozenset()) | (PERSONAL_KEYS if events else frozenset())
    removed: list[str] = []
    stripped = _strip(dict(payload), keys, "", removed)
    if not removed:
        return None
    before = purge_marker(payload) or {}
    fields = sorted(set(before.get("fields") or []) | set(removed))
    stripped[PURGED] = {"at": utc_text(at), "by": by, "fields": fields}
    return stripped, removed


def purge_marker(payload: Mapping[str, Any]) -> dict[str, Any] | None:
    """The purge marker of a payload, or ``None`` when the record was never purged."""
    marker = payload.get(PURGED)
    return marker if isinstance(marker, dict) else None


def _field_key(path: str) -> str:
    return path.rsplit(".", 1)[-1].split("[", 1)[0]


def purged_problem(
    payload: Mapping[str, Any],
    record_at: datetime,
    purges: Mapping[str, PurgeCutoffs],
    *,
    retention: Retention | None = None,
    now: datetime | None = None,
) -> str | None:
    """Why a purged record's marker does not hold, or ``None`` when it does: the marker is well formed, names a purge
    in ``purges`` whose cutoffs cover the record for every field it removed, and (given ``retention`` and ``now``)
    the record is older than today's retention for those fields."""
    marker = purge_marker(payload)
    if marker is None:
        return "no purge marker"
    fields = marker.get("fields")
    by = marker.get("by")
    if not isinstance(fields, list) or not fields or not all(isinstance(f, str) for f in fields):
        return "the purge marker names no fields"
    if not isinstance(by, str) or by not in purges:
        return f"the purge marker names a purge that is not journaled ({str(by)[:64]!r})"
    keys = {_field_key(f) for f in fields}
    if unknown := keys - IMAGE_KEYS - PERSONAL_KEYS:
        return f"the purge marker names fields a purge never removes: {sorted(unknown)}"
    cutoffs = purges[by]
    if keys & IMAGE_KEYS and record_at >= cutoffs.images_before:
        return "image fields purged from a record younger than the purge's image cutoff"
    if keys & PERSONAL_KEYS and record_at >= cutoffs.events_before:
        return "personal fields purged from a record younger than the purge's event cutoff"
    if retention is not None and now is not None:
        today = retention.cutoffs(now)
        if keys & IMAGE_KEYS and record_at >= today.images_before:
            return f"purged, but younger than the image retention ({retention.images_days} days)"
        if keys & PERSONAL_KEYS and record_at >= today.events_before:
            return f"purged, but younger than the event retention ({retention.events_days} days)"
    return None
