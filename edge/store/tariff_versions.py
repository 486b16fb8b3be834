"""Sending central the text of every tariff version this edge quotes with, once per content hash.

A fee is only as checkable as the tariff that computed it: each TRANSACTION names its tariff's SHA-256, and central
re-computes the fee with that exact text. :func:`tariff_version_drafts` answers a ``tariff_version`` record for each
loaded tariff whose hash the journal has not carried yet; the daemon commits them at start, before any lane quotes.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from datetime import datetime

from edge.lanes.actions import Draft
from edge.store.journal import Journal
from parking.ids import new_id
from parking.wire import RecordKind

_LOGGER = logging.getLogger(__name__)


def journaled_tariff_hashes(journal: Journal) -> set[str]:
    """The tariff hashes the journal has sent (or will send) the text of already."""
    rows = journal.rows(
        "SELECT json_extract(payload, '$.sha256') FROM records WHERE kind = ?", (RecordKind.TARIFF_VERSION.value,)
    )
    return {str(row[0]) for row in rows if row[0]}


def tariff_version_drafts(
    journal: Journal, texts: Mapping[str, str], tariff_ids: Mapping[str, str], now: datetime
) -> list[Draft]:
    """One ``tariff_version`` draft per tariff text (by its SHA-256) the journal has not carried yet.

    ``texts`` maps content hash to the file's text, ``tariff_ids`` content hash to the tariff's id. A text whose
    hash does not match is skipped with a warning (central would refuse to archive it anyway).
    """
    known = journaled_tariff_hashes(journal)
    drafts: list[Draft] = []
    for digest, text in sorted(texts.items()):
        if digest in known:
            continue
        if hashlib.sha256(text.encode("utf-8")).hexdigest() != digest:
            _LOGGER.warning("tariff %s: its text does not hash to %s, not sent", tariff_ids.get(digest), digest)
            continue
        payload = {
            "event": "tariff_version",
            "sha256": digest,
            "tariff_id": tariff_ids.get(digest, ""),
            "content": text,
        }
        drafts.append(Draft(new_id(int(now.timestamp() * 1000)), RecordKind.TARIFF_VERSION, None, now, payload))
    return drafts
