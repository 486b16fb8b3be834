"""The hash chain both sides compute: stable across a JSON round trip, broken by any change."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from parking.ids import id_time_ms, new_id
from parking.wire import (
    GENESIS_HASH,
    IngestAck,
    IngestBatch,
    JournalRecord,
    RecordKind,
    SyncPage,
    seal,
    verify_record,
)


def make_chain(n: int) -> list[JournalRecord]:
    records = []
    prev = GENESIS_HASH
    at = datetime(2026, 11, 27, 9, 30, tzinfo=timezone(timedelta(hours=8)))
    for seq in range(1, n + 1):
        rec = seal(
            id=new_id(), seq=seq, kind=RecordKind.SESSION, car_park="lakeview", lane="in-1",
            at=at + timedelta(seconds=seq), payload={"plate": "粤B3R7K2", "amount": 500, "currency": "CNY"},
            prev_hash=prev,
        )  # fmt: skip
        records.append(rec)
        prev = rec.hash
    return records


def test_chain_survives_a_json_round_trip() -> None:
    batch = IngestBatch(edge_id="lakeview-edge", records=make_chain(3))
    again = IngestBatch.model_validate_json(batch.model_dump_json())
    assert all(verify_record(r) for r in again.records)
    assert [r.prev_hash for r in again.records[1:]] == [r.hash for r in again.records[:-1]]
    assert again.records[0].at.utcoffset() == timedelta(hours=8) or again.records[0].at.tzinfo is not None


def test_any_change_breaks_the_hash() -> None:
    rec = make_chain(1)[0]
    assert verify_record(rec)
    altered = rec.model_copy(update={"payload": {**rec.payload, "amount": 50}})
    assert not verify_record(altered)
    shifted = rec.model_copy(update={"at": rec.at.astimezone(UTC) + timedelta(microseconds=1)})
    assert not verify_record(shifted)


def test_same_instant_in_another_zone_hashes_the_same() -> None:
    rec = make_chain(1)[0]
    assert verify_record(rec.model_copy(update={"at": rec.at.astimezone(UTC)}))


def test_ids_are_time_ordered_and_unique() -> None:
    ids = [new_id() for _ in range(5000)]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    assert abs(id_time_ms(ids[0]) - datetime.now(UTC).timestamp() * 1000) < 5000


def test_a_pinned_clock_never_drags_real_ids_into_the_future() -> None:
    future = int(datetime(2030, 1, 1, tzinfo=UTC).timestamp() * 1000)
    pinned = [new_id(now_ms=future) for _ in range(3)]
    assert pinned == sorted(pinned)
    assert id_time_ms(pinned[0]) == future
    assert id_time_ms(new_id()) < future


def test_an_edge_reads_a_newer_centrals_replies_ignoring_fields_it_does_not_know() -> None:
    pass_ = {"id": "p1", "holder": "王芳", "plates": ["粤B12345"], "valid_from": "2026-12-01T00:00:00+08:00",
             "valid_to": "2026-12-31T23:59:59+08:00", "added_later": "x"}  # fmt: skip
    page = {"since": 0, "version": 7, "full": True, "more": False, "passes": [pass_], "added_later": {"a": 1}}
    ack = {"accepted": ["r1"], "duplicates": [], "chain": "ok", "last_seq": 1, "added_later": []}
    assert IngestAck.model_validate(ack).accepted == ["r1"]
    read = SyncPage.model_validate(page)
    assert read.version == 7
    assert read.passes[0].plates == ["粤B12345"]


def test_central_still_refuses_an_unknown_field_in_what_the_edge_sends() -> None:
    with pytest.raises(ValidationError, match="added_later"):
        IngestBatch.model_validate({"edge_id": "e1", "records": [], "added_later": 1})
