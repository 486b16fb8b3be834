"""The chain check of ingest against what central held before the batch: forks at a seq stored in an earlier batch
or twice in one batch, re-sent records beside new ones and an id reused, the count retry of a batch half stored
before, and the edge's head (``last_seq``, ``chain_hash``) after each."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session

from central.models import ChainBreak, Edge, EdgeRecord, QuarantinedRecord
from parking.ids import new_id
from parking.wire import SEQ_MAX, IngestAck, IngestBatch, JournalRecord, seal
from tests.central.conftest import Operators
from tests.central.scenario import Site, chain, make_site
from tests.central.test_ingest_quarantine import Raw, raw_chain

pytestmark = pytest.mark.postgres


def send(client: TestClient, site: Site, records: list[JournalRecord]) -> IngestAck:
    batch = IngestBatch(edge_id=site.edge, records=records)
    answer = client.post("/api/v1/ingest", headers=site.json_headers, content=batch.model_dump_json())
    assert answer.status_code == 200, answer.text
    return IngestAck.model_validate_json(answer.content)


def post(client: TestClient, site: Site, records: list[Raw]) -> IngestAck:
    body = json.dumps({"wire_version": 1, "edge_id": site.edge, "records": records})
    answer = client.post("/api/v1/ingest", headers=site.json_headers, content=body)
    assert answer.status_code == 200, answer.text
    return IngestAck.model_validate_json(answer.content)


def breaks(engine: Engine, site: Site) -> list[tuple[int, str, str]]:
    with Session(engine) as session:
        found = session.scalars(select(ChainBreak).where(ChainBreak.edge_id == site.edge).order_by(ChainBreak.id))
        return [(b.seq, b.record_id, b.reason) for b in found]


def head(engine: Engine, site: Site) -> tuple[int, str]:
    with Session(engine) as session:
        edge = session.get_one(Edge, site.edge)
        return edge.chain_seq, edge.chain_hash


def kept(engine: Engine, site: Site) -> tuple[int, int]:
    """The edge's stored and quarantined records."""
    with Session(engine) as session:
        return (
            int(session.scalar(select(func.count()).where(EdgeRecord.edge_id == site.edge)) or 0),
            int(session.scalar(select(func.count()).where(QuarantinedRecord.edge_id == site.edge)) or 0),
        )


def other(record: JournalRecord, *, seq: int | None = None, prev: str | None = None) -> JournalRecord:
    """Another record (new id, other amount) at ``record``'s seq, or at ``seq`` after ``prev``."""
    return seal(id=new_id(), seq=seq or record.seq, kind=record.kind, car_park=record.car_park, lane=record.lane,
                at=record.at, payload={**record.payload, "amount": 1}, prev_hash=prev or record.prev_hash)  # fmt: skip


def test_a_record_at_a_seq_stored_in_an_earlier_batch_is_a_fork(
    client: TestClient, as_role: Operators, central_engine: Engine
) -> None:
    site = make_site(client, as_role.admin)
    records = chain(site.car_park, 3)
    first = send(client, site, records)
    assert (first.chain, first.last_seq) == ("ok", 3)
    assert head(central_engine, site) == (3, records[2].hash)
    rival = other(records[2])  # a second seq 3, after the same seq 2
    after = other(records[2], seq=4, prev=rival.hash)
    ack = send(client, site, [rival, after])
    assert (ack.accepted, ack.duplicates, ack.chain, ack.last_seq) == ([rival.id, after.id], [], "break", 4)
    assert ack.chain_detail == "seq 3: fork"
    assert breaks(central_engine, site) == [(3, rival.id, "fork")]  # seq 4 follows one of the two: no break
    assert head(central_engine, site) == (4, after.hash)
    # A seq 5 that follows neither seq 4 (its prev_hash is the stored seq 3's hash).
    wrong = other(records[2], seq=5, prev=records[2].hash)
    late = send(client, site, [wrong])
    assert (late.chain, late.chain_detail, late.last_seq) == ("break", "seq 5: prev_mismatch", 5)


def test_two_records_at_one_seq_in_a_batch_are_forks_and_the_head_stops_at_them(
    client: TestClient, as_role: Operators, central_engine: Engine
) -> None:
    site = make_site(client, as_role.admin)
    records = chain(site.car_park, 2)
    send(client, site, records)
    one = chain(site.car_park, 1, start_seq=3, prev=records[1].hash)[0]
    two = other(one)
    ack = send(client, site, [one, two])
    assert (sorted(ack.accepted), ack.chain, ack.chain_detail) == (sorted([one.id, two.id]), "break",
                                                                     "seq 3: fork; seq 3: fork")  # fmt: skip
    assert sorted(breaks(central_engine, site)) == sorted([(3, one.id, "fork"), (3, two.id, "fork")])
    seq, digest = head(central_engine, site)
    assert (ack.last_seq, seq) == (3, 3)
    assert digest in {one.hash, two.hash}
    # The next batch goes on from either of them, and the head with it.
    nxt = chain(site.car_park, 2, start_seq=4, prev=two.hash)
    ack = send(client, site, nxt)
    assert (ack.chain, ack.last_seq) == ("ok", 5)
    assert head(central_engine, site) == (5, nxt[1].hash)
    assert len(breaks(central_engine, site)) == 2


def test_a_batch_re_sending_stored_records_beside_new_ones_and_an_id_reused(
    client: TestClient, as_role: Operators, central_engine: Engine
) -> None:
    site = make_site(client, as_role.admin)
    records = chain(site.car_park, 6)
    send(client, site, records[:4])
    forged = seal(
        id=records[1].id,
        seq=7,
        kind=records[1].kind,
        car_park=site.car_park,
        lane=None,
        at=records[1].at,
        payload={"amount": 1},
        prev_hash=records[5].hash,
    )  # seq 2's id, other content
    ack = send(client, site, [forged, *records[2:]])
    assert (ack.accepted, ack.duplicates) == ([records[4].id, records[5].id], [records[2].id, records[3].id])
    assert [(r.id, r.code) for r in ack.rejected] == [(records[1].id, "ingest.id_conflict")]
    assert (ack.chain, ack.chain_detail, ack.last_seq) == ("break", "seq 7: id_conflict", 6)
    assert breaks(central_engine, site) == [(7, records[1].id, "id_conflict")]
    assert head(central_engine, site) == (6, records[5].hash)
    assert kept(central_engine, site) == (6, 0)


def test_the_count_retry_of_a_batch_half_stored_before(
    client: TestClient, as_role: Operators, central_engine: Engine
) -> None:
    """The batch is taken twice in one transaction when the rollups refuse its counts; the second time sees what
    was stored before the batch (the first time is rolled back): the re-sent records are duplicates, the new ones
    stored or quarantined in their place, and the chain holds across both."""
    site = make_site(client, as_role.admin)
    huge = 10**18 - 1  # nine of them fit a bigint beside the first four records' amounts, ten do not

    def costly(raw: Raw) -> None:
        raw["payload"] = {**raw["payload"], "amount": huge, "transaction_kind": "payment"}

    raws = raw_chain(site.car_park, 16, bad={seq: costly for seq in range(5, 17)})
    first = post(client, site, raws[:4])
    assert (first.chain, first.last_seq) == ("ok", 4)
    ack = post(client, site, raws[2:])
    assert ack.duplicates == [raws[2]["id"], raws[3]["id"]]
    assert ack.accepted == [r["id"] for r in raws[4:13]] + [r["id"] for r in raws[13:]]
    assert [q.id for q in ack.quarantined] == [r["id"] for r in raws[13:]]
    assert [q.code for q in ack.quarantined] == ["ingest.quarantined.not_storable"] * 3
    assert (ack.chain, ack.chain_detail, ack.last_seq) == ("ok", "", 16)
    assert breaks(central_engine, site) == []
    assert head(central_engine, site) == (16, raws[15]["hash"])
    assert kept(central_engine, site) == (13, 3)
    with central_engine.connect() as conn:
        counted = conn.execute(
            text("SELECT sum(count), sum(amount_minor) FROM report_daily WHERE car_park = :cp"),
            {"cp": site.car_park},
        ).one()
    assert tuple(counted) == (13, 4 * 500 + 9 * huge)


def test_a_record_at_the_last_seq_a_bigint_holds_is_stored_with_a_gap_not_a_server_error(
    client: TestClient, as_role: Operators, central_engine: Engine
) -> None:
    """The chain check looks at each record's successor: at seq 2^63 - 1 there is none to look for (a bigint holds
    no seq beyond), and the batch is answered, not refused with a 500."""
    site = make_site(client, as_role.admin)
    first = chain(site.car_park, 1)[0]
    last = other(first, seq=SEQ_MAX, prev=first.hash)
    ack = send(client, site, [last])
    assert (ack.accepted, ack.chain, ack.last_seq) == ([last.id], "gap", 0)
    assert ack.chain_detail == f"records before seq {SEQ_MAX} have not arrived"
    assert kept(central_engine, site) == (1, 0)
