"""Retention and data-subject exports at central, on real PostgreSQL, with journals the real edge code wrote and
pushed: old plates, cards and pictures purged and young ones kept, reconciliation of the purged day unchanged, each
edge's stored chain still verified (and tampering after the purge still caught), the export exactly one plate's,
purges and exports audited."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any
from unittest.mock import ANY

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from central.core.security import Role
from central.models import AuditEntry, EdgeRecord, MoneyRecord
from central.privacy import purge, verify_stored_chain
from edge.booth.shift import Shift
from edge.store.retention import purge as purge_at_edge
from parking.privacy import Retention
from tests.central.conftest import Operators
from tests.central.edge_site import DAY, T0, EdgeSite
from tests.central.scenario import make_site, ok

pytestmark = pytest.mark.postgres

RULE = Retention(images_days=30, events_days=365)
NOW = T0 + timedelta(days=400)
OLD_PLATES = ("粤B10001", "粤B10002", "粤B10003")  # the first day's vehicles: 400 days before NOW
YOUNG_PLATES = ("粤B11001", "粤B11002", "粤B11003")  # 20 days before NOW


def a_shift(edge: EdgeSite, plates: tuple[str, str, str], operator: str = "c01") -> Shift:
    edge.open_shift(operator)
    edge.enter(plates[0], image=f"{(edge.now + timedelta(hours=8)):%Y-%m-%d}/{plates[0][-5:]}-plate.jpg")
    edge.enter(plates[1])
    edge.tick(2 * 3600)
    edge.leave_paying(plates[0], operator, "cash", 2000)
    edge.leave_paying(plates[1], operator, "epay")
    edge.enter(plates[2])
    edge.tick(600)
    edge.leave_free(plates[2])
    edge.tick(3600)
    return edge.close(operator)


@pytest.fixture
def two_days(tmp_path: Path, client: TestClient, as_role: Operators) -> tuple[EdgeSite, Shift, Shift]:
    edge = EdgeSite(tmp_path, make_site(client, as_role.admin))
    old = a_shift(edge, OLD_PLATES)
    edge.tick((NOW - timedelta(days=20) - edge.now).total_seconds())
    young = a_shift(edge, YOUNG_PLATES)
    assert edge.push(client).chain.value == "ok"
    return edge, old, young


def shift_of(client: TestClient, as_role: Operators, shift: Shift) -> dict[str, Any]:
    found: dict[str, Any] = ok(client.get(f"/api/v1/reconciliation/shifts/{shift.id}", headers=as_role[Role.AUDITOR]))
    return found


def records_naming(engine: Engine, needle: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM edge_records WHERE payload::text LIKE :n"),
                                {"n": f"%{needle}%"}).scalar_one())  # fmt: skip


def test_a_purge_removes_old_plates_and_pictures_keeps_young_ones_and_the_days_figures(
    two_days: tuple[EdgeSite, Shift, Shift], client: TestClient, as_role: Operators, central_engine: Engine,
    tmp_path: Path,
) -> None:  # fmt: skip
    edge, old, young = two_days
    images = tmp_path / "central-images"
    old_picture = images / edge.site.edge / DAY / "10001-plate.jpg"
    young_day = f"{(NOW - timedelta(days=20)):%Y-%m-%d}"
    young_picture = images / edge.site.edge / young_day / "11001-plate.jpg"
    for picture in (old_picture, young_picture):
        picture.parent.mkdir(parents=True)
        picture.write_bytes(b"\xff\xd8\xff" + b"x" * 1000)
    before = shift_of(client, as_role, old)
    day_before = ok(client.get(f"/api/v1/reconciliation/days/lakeview/{DAY}", headers=as_role.admin))
    assert all(records_naming(central_engine, p) > 0 for p in OLD_PLATES + YOUNG_PLATES)

    with Session(central_engine) as session:
        report = purge(session, RULE, now=NOW, user=None, images_dir=images, by="cron")
    assert report.records > 0
    assert (report.files, old_picture.exists(), young_picture.exists()) == (1, False, True)
    assert [records_naming(central_engine, p) for p in OLD_PLATES] == [0, 0, 0]
    assert all(records_naming(central_engine, p) > 0 for p in YOUNG_PLATES)
    assert records_naming(central_engine, "10001-plate.jpg") == 0
    assert records_naming(central_engine, "11001-plate.jpg") > 0  # younger than the image retention
    with Session(central_engine) as session:
        plates = set(session.scalars(select(MoneyRecord.plate).where(MoneyRecord.plate.is_not(None))))
        assert plates & set(OLD_PLATES) == set()
        assert plates & set(YOUNG_PLATES) == set(YOUNG_PLATES)
        (audit,) = session.scalars(select(AuditEntry).where(AuditEntry.action == "retention_purge"))
        (listing,) = session.scalars(select(AuditEntry).where(AuditEntry.action == "retention_purge_records"))
        assert listing.after == {"purge": f"audit:{audit.id}", "records": {edge.site.edge: ANY}}
        assert len((listing.after or {})["records"][edge.site.edge]) == report.records
        done = audit.after or {}
        assert (audit.username, done["state"], done["records"], done["events_days"]) == (
            "cron", "done", report.records, 365)  # fmt: skip

    # Money is not personal: the purged day reconciles to the same figures and findings.
    after = shift_of(client, as_role, old)
    assert after["figures"] == before["figures"]
    assert after["findings"] == before["findings"]
    day_after = ok(client.get(f"/api/v1/reconciliation/days/lakeview/{DAY}", headers=as_role.admin))
    assert day_after == day_before
    assert shift_of(client, as_role, young)["figures"]["cash"]["difference"] == 0

    with Session(central_engine) as session:
        chain = verify_stored_chain(session, edge.site.edge, retention=RULE, now=NOW)
    assert chain.problems == []
    assert (chain.checked, chain.purged) == (edge.journal.last_seq, report.records)

    # The edge purges its own copy of what central acknowledged; both chains still verify.
    at_edge = purge_at_edge(edge.journal, RULE, by="cron", now=NOW, require_sent=True)
    assert at_edge.records == report.records
    check = edge.journal.verify_chain(RULE, NOW)
    assert check.ok, check
    assert check.purged == report.records
    # Its purge's audit records reach central like any other (kind ``privacy``), the chain intact.
    ack = edge.push(client)
    assert (len(ack.accepted), ack.chain.value) == (3, "ok")  # purge, purged_records, purged
    with Session(central_engine) as session:
        assert verify_stored_chain(session, edge.site.edge, retention=RULE, now=NOW).ok


def test_tampering_with_an_unpurged_record_after_purges_is_still_caught(
    two_days: tuple[EdgeSite, Shift, Shift], central_engine: Engine
) -> None:
    edge, _old, _young = two_days
    with Session(central_engine) as session:
        # 100 days on, the first day's pictures go and its plates stay; at 400 days the plates go too.
        early = purge(session, RULE, now=T0 + timedelta(days=100), user=None, images_dir=None, by="cron")
        assert early.records == 1  # the one entry with a picture
        assert records_naming(central_engine, "10001-plate.jpg") == 0
        assert all(records_naming(central_engine, p) > 0 for p in OLD_PLATES)
        report = purge(session, RULE, now=NOW, user=None, images_dir=None, by="cron")
        assert [records_naming(central_engine, p) for p in OLD_PLATES] == [0, 0, 0]
        assert verify_stored_chain(session, edge.site.edge, retention=RULE, now=NOW).ok
        young = session.scalars(select(EdgeRecord).where(EdgeRecord.kind == "transaction",
                                                         EdgeRecord.at > NOW - timedelta(days=30))
                                .order_by(EdgeRecord.seq)).first()  # fmt: skip
        assert young is not None
        altered = {**young.payload, "amount": 1}
        session.execute(text("UPDATE edge_records SET payload = CAST(:p AS jsonb) WHERE id = :id"),
                        {"p": json.dumps(altered), "id": young.id})  # fmt: skip
        forged_seq = young.seq + 1
        forged = session.scalars(select(EdgeRecord).where(EdgeRecord.edge_id == edge.site.edge,
                                                          EdgeRecord.seq == forged_seq)).one()  # fmt: skip
        # A young record "purged" and naming the real purge: its cutoffs do not cover a record 20 days old.
        marked = {**forged.payload, "_purged": {"at": "2028-01-01T00:00:00.000000Z", "by": f"audit:{report.audit_id}",
                                                "fields": ["plate"]}}  # fmt: skip
        session.execute(text("UPDATE edge_records SET payload = CAST(:p AS jsonb) WHERE id = :id"),
                        {"p": json.dumps(marked), "id": forged.id})  # fmt: skip
        # An old record the purge left alone (a barrier command names no one) altered under a marker that fits the
        # cutoffs: only the purge's list of what it rewrote tells it apart.
        untouched = session.scalars(select(EdgeRecord).where(EdgeRecord.kind == "barrier_command",
                                                             EdgeRecord.at < T0 + timedelta(days=1))
                                    .order_by(EdgeRecord.seq)).first()  # fmt: skip
        assert untouched is not None
        assert "_purged" not in untouched.payload
        covered = {**untouched.payload, "command": "close", "_purged": {
            "at": "2028-01-01T00:00:00.000000Z", "by": f"audit:{report.audit_id}", "fields": ["plate"]}}  # fmt: skip
        session.execute(text("UPDATE edge_records SET payload = CAST(:p AS jsonb) WHERE id = :id"),
                        {"p": json.dumps(covered), "id": untouched.id})  # fmt: skip
        session.commit()
        chain = verify_stored_chain(session, edge.site.edge, retention=RULE, now=NOW)
    assert [seq for seq, _ in chain.problems] == sorted([young.seq, forged_seq, untouched.seq])
    problems = dict(chain.problems)
    assert problems[young.seq].startswith("hash mismatch")
    assert "younger than the purge's" in problems[forged_seq]
    assert problems[untouched.seq] == "purge marker: the purge it names did not list it"


def test_an_export_returns_exactly_that_plates_records_and_is_audited(
    two_days: tuple[EdgeSite, Shift, Shift], client: TestClient, as_role: Operators, central_engine: Engine
) -> None:
    _edge, _old, _young = two_days
    supervisor = as_role[Role.SUPERVISOR]
    refused = client.get("/api/v1/plates/粤B11001/records", headers=supervisor)
    assert refused.status_code == 422
    assert "reason" in refused.text
    path = "/api/v1/plates/粤b11001/records?reason=data-subject%20request%20%2312"
    found = ok(client.get(path, headers=supervisor))
    assert found["plate"] == "粤B11001"
    sessions = {r["payload"]["session"] for r in found["records"] if r["payload"].get("plate") == "粤B11001"}
    assert len(sessions) == 1
    for record in found["records"]:
        payload = json.dumps(record["payload"], ensure_ascii=False)
        assert not any(other in payload for other in (*OLD_PLATES, *YOUNG_PLATES[1:]))
        assert (
            "粤B11001" in payload
            or record["payload"].get("session") in sessions
            or record["payload"].get("for_record") in sessions
        )
    assert {r["kind"] for r in found["records"]} >= {"session", "transaction", "barrier_command"}
    paid = [r["payload"]["amount"] for r in found["records"] if r["kind"] == "transaction"]
    assert [t["amount_minor"] for t in found["transactions"]] == paid == [900]  # the fee (2000 tendered)
    assert [i["name"][-15:] for i in found["images"]] == ["11001-plate.jpg"]
    with Session(central_engine) as session:
        expected = int(session.execute(text(
            "SELECT count(*) FROM edge_records WHERE payload->>'plate' = '粤B11001' OR payload->>'session' IN "
            "(SELECT payload->>'session' FROM edge_records WHERE payload->>'plate' = '粤B11001') OR "
            "payload->>'for_record' IN (SELECT payload->>'session' FROM edge_records WHERE "
            "payload->>'plate' = '粤B11001')")).scalar_one())  # fmt: skip
    assert len(found["records"]) == expected

    csv_answer = client.get(path + "&format=csv", headers=supervisor)
    assert csv_answer.status_code == 200
    assert csv_answer.headers["content-type"].startswith("text/csv")
    lines = csv_answer.text.strip().splitlines()
    assert lines[0].startswith("edge_id,seq,id,kind")
    assert len(lines) == expected + 1
    assert client.get(path, headers=as_role[Role.CASHIER]).status_code == 403

    with Session(central_engine) as session:
        audits = list(session.scalars(select(AuditEntry).where(AuditEntry.action == "plate.export")
                                      .order_by(AuditEntry.id)))  # fmt: skip
    afters = [a.after or {} for a in audits]
    assert [
        (a.username, a.entity_id, b["format"], b["operator_reason"]) for a, b in zip(audits, afters, strict=True)
    ] == [
        ("supervisor", "粤B11001", "json", "data-subject request #12"),
        ("supervisor", "粤B11001", "csv", "data-subject request #12"),
    ]
    assert afters[0]["records"] == expected
