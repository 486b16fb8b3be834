"""Shift reports at ingest: each ``shift_report`` record is checked with the shared model (parking.shift_report),
projected into ``shift_reports`` for the office and supervisors, and one that does not validate is stored all the
same (never lose a record) and flagged, with a metric."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from central.core.security import Role
from central.models import EdgeRecord
from parking.ids import new_id
from parking.wire import IngestAck, IngestBatch, JournalRecord, RecordKind, seal
from tests.central.conftest import Operators
from tests.central.scenario import Site, chain, make_site, ok
from tests.parking.test_shift_report import a_report

pytestmark = pytest.mark.postgres


def send(client: TestClient, site: Site, records: list[JournalRecord]) -> IngestAck:
    batch = IngestBatch(edge_id=site.edge, records=records)
    answer = client.post("/api/v1/ingest", headers=site.json_headers, content=batch.model_dump_json())
    assert answer.status_code == 200, answer.text
    return IngestAck.model_validate_json(answer.content)


def reports_after(records: list[JournalRecord], *payloads: dict[str, Any]) -> list[JournalRecord]:
    out, prev = [], records[-1]
    for offset, payload in enumerate(payloads, 1):
        prev = seal(id=new_id(), seq=prev.seq + 1, kind=RecordKind.SHIFT_REPORT, car_park=prev.car_park, lane=None,
                    at=prev.at + timedelta(minutes=offset), payload=payload, prev_hash=prev.hash)  # fmt: skip
        out.append(prev)
    return out


def test_shift_reports_are_validated_projected_and_the_bad_ones_kept_and_flagged(
    client: TestClient, as_role: Operators, central_engine: Engine
) -> None:
    site = make_site(client, as_role.admin)
    records = chain(site.car_park, 2)
    broken = a_report()
    broken["report"]["takings"] = "15.00"  # money as text: refused, never read as 15 minor units
    elsewhere = a_report(car_park="riverside")
    good, bad, foreign = reports_after(records, a_report(), broken, elsewhere)
    ack = send(client, site, [*records, good, bad, foreign])
    assert (len(ack.accepted), ack.rejected, ack.chain) == (5, [], "ok")  # every record stored
    send(client, site, [*records, good, bad, foreign])  # a replay projects nothing twice
    with Session(central_engine) as session:
        assert session.scalar(select(func.count()).select_from(EdgeRecord).where(EdgeRecord.kind == "shift_report"))

    office = as_role[Role.OFFICE]
    listed = ok(client.get(f"/api/v1/shift-reports?car_park={site.car_park}", headers=office))
    assert [r["record_id"] for r in listed] == [good.id, bad.id, foreign.id]
    first = listed[0]
    assert first["valid"] is True
    assert first["problem"] == ""
    assert (first["shift"], first["booth"], first["operator"], first["currency"]) == (
        "0190a000-0000-7000-8000-000000000001", "B1", "c01", "CNY",
    )  # fmt: skip
    assert (first["takings"], first["cash_expected"], first["cash_counted"], first["cash_difference"]) == (
        1500, 41500, 40500, -1000,
    )  # fmt: skip
    assert (first["cards_difference"], first["unexplained_cycles"], first["revision"]) == (0, 0, 1)

    flagged = ok(client.get("/api/v1/shift-reports?valid=false", headers=as_role[Role.SUPERVISOR]))
    assert [r["record_id"] for r in flagged] == [bad.id, foreign.id]
    assert flagged[0]["takings"] is None
    assert flagged[0]["shift"] == "0190a000-0000-7000-8000-000000000001"  # what could be read safely
    assert "takings" in flagged[0]["problem"]
    assert "riverside" in flagged[1]["problem"]
    stored = ok(client.get(f"/api/v1/records?edge_id={site.edge}&kind=shift_report", headers=office))
    assert stored[1]["payload"]["report"]["takings"] == "15.00"  # the record itself kept exactly as sent
    assert f'parkgate_central_invalid_shift_reports_total{{edge="{site.edge}"}} 2.0' in client.get("/metrics").text

    since = (good.at + timedelta(seconds=30)).isoformat()
    later = ok(client.get("/api/v1/shift-reports", params={"since": since}, headers=office))
    assert [r["record_id"] for r in later] == [bad.id, foreign.id]
    refused = client.get("/api/v1/shift-reports", headers=as_role[Role.COLLECTOR])
    assert (refused.status_code, refused.json()["code"]) == (403, "auth.forbidden")
