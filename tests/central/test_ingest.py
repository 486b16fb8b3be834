"""Journal ingest: each record stored once by id, the hash chain checked per edge, breaks flagged (never the
records lost), and a batch accepted only from the edge it names."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from central.core.security import Role
from central.models import ChainBreak, EdgeRecord
from parking.ids import new_id
from parking.wire import IngestAck, IngestBatch, JournalRecord, RecordKind, seal
from tests.central.conftest import Operators
from tests.central.scenario import Site, chain, make_site, ok

pytestmark = pytest.mark.postgres


def send(client: TestClient, site: Site, records: list[JournalRecord], edge_id: str | None = None) -> IngestAck:
    batch = IngestBatch(edge_id=edge_id or site.edge, records=records)
    answer = client.post("/api/v1/ingest", headers=site.json_headers, content=batch.model_dump_json())
    assert answer.status_code == 200, answer.text
    return IngestAck.model_validate_json(answer.content)


def stored(engine: Engine) -> int:
    with Session(engine) as session:
        return int(session.scalar(select(func.count()).select_from(EdgeRecord)) or 0)


def breaks(engine: Engine) -> list[tuple[int, str]]:
    with Session(engine) as session:
        return [(b.seq, b.reason) for b in session.scalars(select(ChainBreak).order_by(ChainBreak.seq))]


def test_replaying_a_batch_stores_nothing_twice(client: TestClient, as_role: Operators, central_engine: Engine) -> None:
    site = make_site(client, as_role.admin)
    records = chain(site.car_park, 50)
    first = send(client, site, records)
    assert (len(first.accepted), first.duplicates, first.chain, first.last_seq) == (50, [], "ok", 50)
    again = send(client, site, records)
    assert again.accepted == []
    assert sorted(again.duplicates) == sorted(r.id for r in records)
    assert again.chain == "ok"
    assert stored(central_engine) == 50
    # Half old, half new: only the new half is stored.
    more = chain(site.car_park, 10, start_seq=51, prev=records[-1].hash)
    mixed = send(client, site, records[40:] + more)
    assert (len(mixed.accepted), len(mixed.duplicates), mixed.last_seq) == (10, 10, 60)
    assert stored(central_engine) == 60
    assert breaks(central_engine) == []


def test_an_altered_record_is_stored_and_flagged(
    client: TestClient, as_role: Operators, central_engine: Engine
) -> None:
    site = make_site(client, as_role.admin)
    records = chain(site.car_park, 5)
    altered = records[2].model_copy(update={"payload": {**records[2].payload, "amount": 50}})
    ack = send(client, site, [*records[:2], altered, *records[3:]])
    assert ack.chain == "break"
    assert "seq 3: hash_mismatch" in ack.chain_detail
    assert len(ack.accepted) == 5
    assert stored(central_engine) == 5
    assert breaks(central_engine) == [(3, "hash_mismatch")]
    listed = ok(client.get(f"/api/v1/chain-breaks?edge_id={site.edge}", headers=as_role[Role.SUPERVISOR]))
    assert [(b["seq"], b["reason"]) for b in listed] == [(3, "hash_mismatch")]
    metrics = client.get("/metrics").text
    assert f'parkgate_central_chain_breaks_total{{edge="{site.edge}",reason="hash_mismatch"}} 1.0' in metrics


def test_a_deleted_record_breaks_the_chain(client: TestClient, as_role: Operators, central_engine: Engine) -> None:
    site = make_site(client, as_role.admin)
    records = chain(site.car_park, 6)
    # seq 4 vanished at the edge and the later records were renumbered (and resealed with their old prev_hash).
    renumbered = [
        seal(id=r.id, seq=r.seq - 1, kind=r.kind, car_park=r.car_park, lane=r.lane, at=r.at, payload=r.payload,
             prev_hash=r.prev_hash)
        for r in records[4:]
    ]  # fmt: skip
    ack = send(client, site, [*records[:3], *renumbered])
    assert ack.chain == "break"
    assert breaks(central_engine) == [(4, "prev_mismatch"), (5, "prev_mismatch")]
    assert stored(central_engine) == 5


def test_out_of_order_batches_report_a_gap_then_join(
    client: TestClient, as_role: Operators, central_engine: Engine
) -> None:
    site = make_site(client, as_role.admin)
    records = chain(site.car_park, 20)
    later = send(client, site, records[10:])
    assert (later.chain, later.last_seq) == ("gap", 0)
    earlier = send(client, site, records[:10])
    assert (earlier.chain, earlier.last_seq) == ("ok", 20)
    assert breaks(central_engine) == []


def test_a_late_record_that_does_not_fit_its_successor_is_flagged(
    client: TestClient, as_role: Operators, central_engine: Engine
) -> None:
    site = make_site(client, as_role.admin)
    records = chain(site.car_park, 4)
    send(client, site, records[2:])
    impostor = chain(site.car_park, 2)  # a different seq 1 and 2: seq 3's prev_hash does not match
    ack = send(client, site, impostor)
    assert ack.chain == "break"
    assert breaks(central_engine) == [(3, "prev_mismatch")]


def test_id_reuse_with_other_content_is_rejected(
    client: TestClient, as_role: Operators, central_engine: Engine
) -> None:
    site = make_site(client, as_role.admin)
    records = chain(site.car_park, 2)
    send(client, site, records)
    forged = seal(id=records[1].id, seq=3, kind=records[1].kind, car_park=site.car_park, lane=None,
                  at=records[1].at, payload={"amount": 1}, prev_hash=records[1].hash)  # fmt: skip
    ack = send(client, site, [forged])
    assert [(r.id, r.code) for r in ack.rejected] == [(records[1].id, "ingest.id_conflict")]
    assert stored(central_engine) == 2
    assert breaks(central_engine) == [(3, "id_conflict")]


def test_records_must_come_from_the_token_s_edge_and_car_park(client: TestClient, as_role: Operators) -> None:
    site = make_site(client, as_role.admin)
    other = make_site(client, as_role.admin, "harbour")
    batch = IngestBatch(edge_id=other.edge, records=chain(site.car_park, 1))
    answer = client.post("/api/v1/ingest", headers=site.json_headers, content=batch.model_dump_json())
    assert (answer.status_code, answer.json()["code"]) == (403, "ingest.wrong_edge")
    ack = send(client, site, chain("harbour", 1))
    assert [r.code for r in ack.rejected] == ["ingest.wrong_car_park"]
    assert ack.accepted == []


def test_records_are_listed_for_the_office(client: TestClient, as_role: Operators) -> None:
    site = make_site(client, as_role.admin)
    send(client, site, chain(site.car_park, 3))
    listed = ok(client.get(f"/api/v1/records?edge_id={site.edge}&kind=transaction", headers=as_role[Role.OFFICE]))
    assert [r["seq"] for r in listed] == [1, 2, 3]
    assert listed[0]["payload"] == {"amount": 500, "currency": "CNY", "plate": "粤B3R7K2"}
    assert client.get("/api/v1/records", headers=as_role[Role.COLLECTOR]).status_code == 403
    edges = ok(client.get("/api/v1/edges", headers=as_role[Role.SUPERVISOR]))
    assert [(e["id"], e["chain_seq"]) for e in edges] == [(site.edge, 3)]


def test_transactions_are_projected_for_billing(client: TestClient, as_role: Operators) -> None:
    site = make_site(client, as_role.admin)
    records = chain(site.car_park, 3)
    odd = seal(id=new_id(), seq=4, kind=RecordKind.TRANSACTION, car_park=site.car_park, lane="exit-1",
               at=records[-1].at, payload={"amount": "5.00", "currency": 156, "transaction_kind": "payment"},
               prev_hash=records[-1].hash)  # fmt: skip
    session_record = seal(id=new_id(), seq=5, kind=RecordKind.SESSION, car_park=site.car_park, lane="in-1",
                          at=records[-1].at, payload={"event": "opened"}, prev_hash=odd.hash)  # fmt: skip
    ack = send(client, site, [*records, odd, session_record])
    assert (len(ack.accepted), ack.chain) == (5, "ok")
    send(client, site, [*records, odd, session_record])  # a replay projects nothing twice
    office = as_role[Role.OFFICE]
    listed = ok(client.get(f"/api/v1/transactions?car_park={site.car_park}", headers=office))
    assert [(t["amount_minor"], t["currency"], t["plate"]) for t in listed] == [
        (500, "CNY", "粤B3R7K2"),
        (500, "CNY", "粤B3R7K2"),
        (500, "CNY", "粤B3R7K2"),
        (None, "", None),
    ]
    totals = ok(client.get("/api/v1/transactions/totals", headers=office))
    assert [(t["transaction_kind"], t["currency"], t["count"], t["amount_minor"]) for t in totals] == [
        ("", "CNY", 3, 1500),
        ("payment", "", 1, 0),
    ]
