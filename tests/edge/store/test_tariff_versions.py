"""The edge sends the text of each tariff version it quotes with once, by its SHA-256, and quotes carry the hash and
the moment they were computed for, so central can re-check every fee with the exact text."""

from __future__ import annotations

import hashlib
from pathlib import Path

from edge.lanes.fees import TariffFees
from edge.store.journal import Journal
from edge.store.tariff_versions import tariff_version_drafts
from parking.wire import RecordKind
from tests.edge.kit import T0

TARIFF = Path(__file__).resolve().parents[3] / "config" / "tariffs" / "residential.toml"


def test_each_tariff_text_is_journaled_once_by_its_hash(tmp_path: Path) -> None:
    fees = TariffFees({"residential": TARIFF, "again": TARIFF})
    digest = hashlib.sha256(TARIFF.read_bytes()).hexdigest()
    assert fees.texts == {digest: TARIFF.read_text()}
    journal = Journal(tmp_path / "journal.sqlite3", "lakeview")
    ids = {t.content_hash: t.id for t in fees.tariffs.values()}
    drafts = tariff_version_drafts(journal, fees.texts, ids, T0)
    assert [(d.kind, d.payload["sha256"], d.payload["tariff_id"]) for d in drafts] == [
        (RecordKind.TARIFF_VERSION, digest, "residential"),
    ]  # fmt: skip
    journal.commit(drafts)
    assert tariff_version_drafts(journal, fees.texts, ids, T0) == []  # sent already
    assert tariff_version_drafts(journal, {"0" * 64: "id = 'x'"}, {}, T0) == []  # a text that is not its hash


def test_a_quote_names_its_tariff_hash_and_the_exit_it_was_computed_for() -> None:
    fees = TariffFees({"residential": TARIFF})
    exit_at = T0.replace(hour=5)
    quote = fees.quote("residential", T0, exit_at, "small")
    payload = quote.to_payload()
    assert payload["tariff_hash"] == hashlib.sha256(TARIFF.read_bytes()).hexdigest()
    assert payload["quoted_at"] == "2026-11-27T05:00:00Z"
