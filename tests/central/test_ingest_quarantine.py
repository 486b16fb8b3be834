"""A record central cannot store or project as it is never stops the stream: it is kept as received in quarantine,
flagged (reason, field, edge, seq), counted, listed for supervisors, and the records after it, in the same batch
and in later ones, are stored, projected and chain-checked past it."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session

from central.core.security import Role
from central.models import ChainBreak, EdgeRecord, EdgeTransaction, QuarantinedRecord
from parking.ids import new_id
from parking.wire import GENESIS_HASH, IngestAck, record_hash
from tests.central.conftest import Operators
from tests.central.scenario import Site, make_site, ok

pytestmark = pytest.mark.postgres
Raw = dict[str, Any]
T0 = datetime(2026, 11, 27, 1, 0, tzinfo=UTC)


def raw_record(car_park: str, seq: int, prev: str, change: Callable[[Raw], None] | None = None) -> Raw:
    """A transaction record as an edge would send it; ``change`` alters it before it is sealed (as an edge that
    journaled the odd value would), and a value that cannot be hashed leaves the hash a stand-in."""
    at = T0 + timedelta(seconds=seq)
    raw: Raw = {
        "id": new_id(), "seq": seq, "kind": "transaction", "car_park": car_park, "lane": "exit-1",
        "at": at.isoformat(), "payload": {"amount": 500, "currency": "CNY", "plate": "粤B3R7K2"}, "prev_hash": prev,
    }  # fmt: skip
    if change is not None:
        change(raw)
    try:
        raw["hash"] = record_hash(
            id=raw["id"], seq=raw["seq"], kind=raw["kind"], car_park=raw["car_park"], lane=raw["lane"],
            at=datetime.fromisoformat(raw["at"]), payload=raw["payload"], prev_hash=raw["prev_hash"],
        )  # fmt: skip
    except (OverflowError, ValueError):
        raw["hash"] = hashlib.sha256(json.dumps(raw, ensure_ascii=True).encode()).hexdigest()
    return raw


def raw_chain(car_park: str, count: int, *, start: int = 1, prev: str = GENESIS_HASH,
              bad: dict[int, Callable[[Raw], None]] | None = None) -> list[Raw]:  # fmt: skip
    records = []
    for seq in range(start, start + count):
        record = raw_record(car_park, seq, prev, (bad or {}).get(seq))
        records.append(record)
        prev = record["hash"]
    return records


def post(client: TestClient, site: Site, records: list[Raw]) -> IngestAck:
    body = json.dumps({"wire_version": 1, "edge_id": site.edge, "records": records})
    answer = client.post("/api/v1/ingest", headers=site.json_headers, content=body)
    assert answer.status_code == 200, answer.text
    return IngestAck.model_validate_json(answer.content)


def nul_in_value(raw: Raw) -> None:
    raw["kind"] = "manual_action"
    raw["payload"] = {"action": "manual_open", "reason": "gate\u0000stuck", "operator": "c1"}


def nul_in_key(raw: Raw) -> None:
    raw["payload"] = {**raw["payload"], "no\u0000te": "x"}


def lone_surrogate(raw: Raw) -> None:
    raw["payload"] = {**raw["payload"], "plate": "粤B\ud800"}


def year_one(raw: Raw) -> None:
    raw["at"] = "0001-01-01T00:30:00+01:00"


def year_9999(raw: Raw) -> None:
    raw["at"] = "9999-12-31T23:30:00-05:00"


def long_lane(raw: Raw) -> None:
    raw["lane"] = "L" * 65


def deep_payload(raw: Raw) -> None:
    nested: Any = "bottom"
    for _ in range(40):
        nested = {"n": nested}
    raw["payload"] = {**raw["payload"], "deep": nested}


def not_finite(raw: Raw) -> None:
    raw["payload"] = {**raw["payload"], "ratio": float("nan")}


# (case, change, reason, field, the chain keeps the record's place, its hash can be recomputed)
IN_CHAIN = [
    ("nul_in_value", nul_in_value, "text_not_storable", "payload.reason", True),
    ("nul_in_key", nul_in_key, "text_not_storable", "payload.no\\u0000te", True),
    ("lone_surrogate", lone_surrogate, "text_not_storable", "payload.plate", None),
    ("year_one", year_one, "out_of_range", "at", None),
    ("year_9999", year_9999, "out_of_range", "at", None),
    ("long_lane", long_lane, "too_long", "lane", True),
    ("deep_payload", deep_payload, "too_deep", "payload.deep.n.n.n.n.n.n.n.n.n.n.n.n.n.n.n", True),
    ("not_finite", not_finite, "not_finite", "payload.ratio", True),
]


def counts(engine: Engine) -> tuple[int, int, int]:
    with Session(engine) as session:
        return (
            int(session.scalar(select(func.count()).select_from(EdgeRecord)) or 0),
            int(session.scalar(select(func.count()).select_from(EdgeTransaction)) or 0),
            int(session.scalar(select(func.count()).select_from(QuarantinedRecord)) or 0),
        )


def chain_breaks(engine: Engine) -> list[tuple[int, str]]:
    with Session(engine) as session:
        return [(b.seq, b.reason) for b in session.scalars(select(ChainBreak).order_by(ChainBreak.seq))]


@pytest.mark.parametrize(("change", "reason", "field", "verified"), [c[1:] for c in IN_CHAIN],
                         ids=[c[0] for c in IN_CHAIN])  # fmt: skip
def test_a_bad_record_is_quarantined_in_its_place_and_the_stream_goes_on(
    client: TestClient,
    as_role: Operators,
    central_engine: Engine,
    change: Callable[[Raw], None],
    reason: str,
    field: str,
    verified: bool | None,
) -> None:
    site = make_site(client, as_role.admin)
    first = raw_chain(site.car_park, 5, bad={3: change})
    ack = post(client, site, first)
    assert len(ack.accepted) == 5  # the quarantined record is settled too: the edge stops resending it
    assert [(q.id, q.code) for q in ack.quarantined] == [(first[2]["id"], f"ingest.quarantined.{reason}")]
    assert ack.last_seq == 5  # the chain goes past the quarantined record
    later = raw_chain(site.car_park, 2, start=6, prev=first[-1]["hash"])
    assert post(client, site, later).last_seq == 7
    assert counts(central_engine) == (6, 6, 1)  # stored and projected: all but the quarantined one
    # Verified when its hash can be recomputed; otherwise the place is flagged, never silently trusted.
    assert chain_breaks(central_engine) == ([] if verified else [(3, "unverified")])
    # A resent batch quarantines nothing twice.
    again = post(client, site, first)
    assert (again.accepted, again.quarantined, len(again.duplicates)) == ([], [], 5)
    assert counts(central_engine)[2] == 1

    listed = ok(client.get(f"/api/v1/quarantine?edge_id={site.edge}", headers=as_role[Role.SUPERVISOR]))
    assert [(q["seq"], q["reason"], q["field"], q["hash_ok"]) for q in listed] == [(3, reason, field, verified)]
    kept = json.loads(listed[0]["raw"])
    assert json.dumps(kept, sort_keys=True) == json.dumps(first[2], sort_keys=True)  # nothing lost, NUL included
    assert client.get("/api/v1/quarantine", headers=as_role[Role.COLLECTOR]).status_code == 403
    metrics = client.get("/metrics").text
    assert f'parkgate_central_ingest_quarantined_total{{edge="{site.edge}",reason="{reason}"}} 1.0' in metrics


def huge_seq(raw: Raw) -> None:
    raw["seq"] = 2**63


def long_id(raw: Raw) -> None:
    raw["id"] = "x" * 65


def test_a_record_without_a_usable_place_is_quarantined_and_the_chain_is_checked_around_it(
    client: TestClient, as_role: Operators, central_engine: Engine
) -> None:
    site = make_site(client, as_role.admin)
    good = raw_chain(site.car_park, 4)
    stray = raw_record(site.car_park, 3, good[1]["hash"], huge_seq)  # seq 2^63: no place in the chain
    nameless = raw_record(site.car_park, 5, good[3]["hash"], long_id)  # an id too long: its place is kept
    after = raw_chain(site.car_park, 1, start=6, prev=nameless["hash"])
    ack = post(client, site, [good[0], good[1], stray, good[2], good[3], nameless, *after])
    assert {q.code for q in ack.quarantined} == {"ingest.quarantined.out_of_range", "ingest.quarantined.too_long"}
    assert (ack.chain, ack.last_seq) == ("ok", 6)
    assert counts(central_engine) == (5, 5, 2)
    listed = ok(client.get("/api/v1/quarantine", headers=as_role.admin))
    assert sorted((q["field"], q["seq"]) for q in listed) == [("id", 5), ("seq", None)]
    # A record that claims a place already held is a fork, quarantined or not.
    fork = raw_record(site.car_park, 3, good[1]["hash"], long_id)
    assert post(client, site, [fork]).chain == "break"
    assert chain_breaks(central_engine) == [(3, "fork"), (4, "prev_mismatch")]


def test_the_envelope_is_refused_whole_naming_the_field(client: TestClient, as_role: Operators) -> None:
    site = make_site(client, as_role.admin)
    cases: list[tuple[Any, list[Any]]] = [
        ({"wire_version": 1, "edge_id": site.edge, "records": []}, ["body", "records"]),
        ({"wire_version": 1, "edge_id": site.edge, "records": [raw_chain(site.car_park, 1)[0], 5]},
         ["body", "records", 1]),
        ({"wire_version": 2, "edge_id": site.edge, "records": raw_chain(site.car_park, 1)}, ["body", "wire_version"]),
        ({"wire_version": 1, "edge_id": "e" * 65, "records": raw_chain(site.car_park, 1)}, ["body", "edge_id"]),
    ]  # fmt: skip
    for body, loc in cases:
        answer = client.post("/api/v1/ingest", headers=site.json_headers, content=json.dumps(body))
        assert answer.status_code == 422, answer.text
        assert loc in [p["loc"] for p in answer.json()["detail"]]


def test_a_deeply_nested_or_oversized_body_is_a_clear_client_error(client: TestClient, as_role: Operators) -> None:
    site = make_site(client, as_role.admin)
    deep = '{"wire_version":1,"edge_id":"x","records":[' + "[" * 100_000 + "]" * 100_000 + "]}"
    answer = client.post("/api/v1/ingest", headers=site.json_headers, content=deep)
    assert (answer.status_code, answer.json()["code"]) == (400, "request.too_deep")
    login = client.post("/api/v1/auth/login", headers={"Content-Type": "application/json"},
                        content="[" * 100_000 + "]" * 100_000)  # fmt: skip
    assert (login.status_code, login.json()["code"]) == (400, "request.too_deep")
    big = b'{"wire_version":1,"edge_id":"x","records":["' + b"a" * (65 * 1024 * 1024) + b'"]}'
    answer = client.post("/api/v1/ingest", headers=site.json_headers, content=big)
    assert (answer.status_code, answer.json()["code"]) == (413, "request.too_large")


def test_a_booth_s_security_alert_reaches_the_office(client: TestClient, as_role: Operators) -> None:
    site = make_site(client, as_role.admin)

    def alert(raw: Raw) -> None:
        payload = {"event": "sign_in_flood", "source": "10.0.0.9", "failures": 5, "window_s": 300}
        raw.update(kind="security_alert", lane=None, payload=payload)

    assert post(client, site, raw_chain(site.car_park, 1, bad={1: alert})).quarantined == []
    listed = ok(client.get("/api/v1/records?kind=security_alert", headers=as_role[Role.SUPERVISOR]))
    assert [r["payload"]["source"] for r in listed] == ["10.0.0.9"]
    assert f'parkgate_central_edge_security_alerts_total{{edge="{site.edge}"}} 1.0' in client.get("/metrics").text


def test_a_record_the_database_refuses_is_quarantined_and_the_rest_stored(
    client: TestClient, as_role: Operators, central_engine: Engine
) -> None:
    """The safety net behind the wire bounds: a real refusal by PostgreSQL (a CHECK constraint this test adds)
    makes the batch go in record by record, and only the refused record is quarantined."""
    site = make_site(client, as_role.admin)

    def refused(raw: Raw) -> None:
        raw["payload"] = {**raw["payload"], "plate": "REFUSE"}

    with central_engine.begin() as conn:
        conn.execute(text("ALTER TABLE edge_records ADD CONSTRAINT test_refuse CHECK (payload->>'plate' <> 'REFUSE')"))
    try:
        ack = post(client, site, raw_chain(site.car_park, 5, bad={2: refused}))
    finally:
        with central_engine.begin() as conn:
            conn.execute(text("ALTER TABLE edge_records DROP CONSTRAINT test_refuse"))
    assert [q.code for q in ack.quarantined] == ["ingest.quarantined.not_storable"]
    assert (ack.chain, ack.last_seq, len(ack.accepted)) == ("ok", 5, 5)
    assert counts(central_engine) == (4, 4, 1)


def test_counts_the_database_refuses_take_the_batch_again_record_by_record(
    client: TestClient, as_role: Operators, central_engine: Engine
) -> None:
    """Ingest counts a batch into the rollups last; when the database refuses the counts (here the day's takings
    beyond a bigint) the batch is taken again, counted as each record is stored: the records the rollups can hold
    are stored and counted, the ones they cannot are quarantined, and the chain still holds."""
    site = make_site(client, as_role.admin)
    huge = 10**18 - 1  # the largest amount the rollups read; ten of them are beyond a bigint

    def costly(raw: Raw) -> None:
        raw["payload"] = {**raw["payload"], "amount": huge, "transaction_kind": "payment"}

    ack = post(client, site, raw_chain(site.car_park, 12, bad={seq: costly for seq in range(1, 13)}))
    assert [q.code for q in ack.quarantined] == ["ingest.quarantined.not_storable"] * 3
    assert (ack.chain, ack.last_seq, len(ack.accepted)) == ("ok", 12, 12)
    assert counts(central_engine) == (9, 9, 3)
    with central_engine.connect() as conn:
        counted = conn.execute(text("SELECT sum(count), sum(amount_minor) FROM report_daily")).one()
    assert tuple(counted) == (9, 9 * huge)
