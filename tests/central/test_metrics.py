"""``/metrics``: request latency by route template, ingest counters, sync lag per edge, on a registry per app."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from parking.wire import IngestBatch
from tests.central.conftest import Operators
from tests.central.scenario import chain, make_holder, make_plan, make_site, ok

pytestmark = pytest.mark.postgres


def test_metrics_report_latency_ingest_and_sync_lag(client: TestClient, as_role: Operators) -> None:
    site = make_site(client, as_role.admin)
    batch = IngestBatch(edge_id=site.edge, records=chain(site.car_park, 7))
    ok(client.post("/api/v1/ingest", headers=site.json_headers, content=batch.model_dump_json()))
    ok(client.post("/api/v1/ingest", headers=site.json_headers, content=batch.model_dump_json()))
    version = ok(client.get("/api/v1/sync?since=0", headers=site.edge_headers))["version"]
    ok(client.get(f"/api/v1/sync?since={version}", headers=site.edge_headers))
    holder = make_holder(client, as_role.admin)
    plan = make_plan(client, as_role.admin)
    for plate in ("粤B00001", "粤B00002"):
        ok(client.post("/api/v1/passes", headers=as_role.admin, json={"holder_id": holder, "plan_id": plan,
                                                                      "plates": [plate]}), 201)  # fmt: skip
    client.get("/api/v1/passes/01000000-0000-7000-8000-000000000000", headers=as_role.admin)

    text = client.get("/metrics").text
    assert f'parkgate_central_ingest_records_total{{edge="{site.edge}"}} 7.0' in text
    assert f'parkgate_central_ingest_duplicates_total{{edge="{site.edge}"}} 7.0' in text
    assert f'parkgate_central_sync_lag_versions{{edge="{site.edge}"}} 2.0' in text  # two passes sold since
    assert 'route="/api/v1/passes/{pass_id}",status="404"' in text
    assert 'parkgate_central_request_seconds_count{method="POST",route="/api/v1/ingest",status="200"} 2.0' in text


def test_each_app_counts_on_its_own(client: TestClient, app: object) -> None:
    from central.main import create_app

    other = create_app(client.app.state.settings)  # type: ignore[attr-defined]
    assert other.state.metrics.registry is not client.app.state.metrics.registry  # type: ignore[attr-defined]
    other.state.engine.dispose()


def test_shifts_not_reconciled_after_24_hours_are_counted_per_car_park(client: TestClient, app: object) -> None:
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import insert

    from central.models import EdgeRecord, EdgeShiftReport, ShiftReview

    now = datetime.now(UTC)

    def shift(record: str, car_park: str, hours_ago: float, revision: int = 1, difference: int = 0,
              valid: bool = True, shift_id: str | None = None) -> None:  # fmt: skip
        at = now - timedelta(hours=hours_ago)
        with client.app.state.engine.begin() as conn:  # type: ignore[attr-defined]
            conn.execute(insert(EdgeRecord).values(id=record, edge_id="e", seq=1, kind="shift_report",
                                                   car_park=car_park, lane=None, at=at, payload={}, prev_hash="0" * 64,
                                                   hash="1" * 64))  # fmt: skip
            conn.execute(insert(EdgeShiftReport).values(
                record_id=record, edge_id="e", car_park=car_park, at=at, shift=shift_id or record, booth="b",
                revision=revision, operator="c01", currency="CNY", takings=1000, cash_expected=1000,
                cash_counted=1000 + difference, cash_difference=difference if valid else None, cards_difference=0,
                unexplained_cycles=0, valid=valid, problem="" if valid else "does not add up"))  # fmt: skip

    shift("r1", "lakeview", 30, difference=-500)  # short, 30 h ago, never reviewed: waiting
    shift("r2", "lakeview", 30, valid=False)  # refused by the check: waiting
    shift("r3", "lakeview", 30)  # balanced but not signed off: waiting
    shift("r4", "lakeview", 2, difference=-500)  # closed 2 h ago: not yet
    shift("r5", "harbour", 40, difference=300, shift_id="s5")  # recounted since (revision 2), then signed off
    shift("r6", "harbour", 39, revision=2, shift_id="s5")
    shift("r7", "harbour", 30, shift_id="s7")  # flagged: still waiting
    with client.app.state.engine.begin() as conn:  # type: ignore[attr-defined]
        conn.execute(insert(ShiftReview).values(shift="s5", car_park="harbour", state="signed_off", decided_by="s01",
                                                decided_at=now - timedelta(hours=20)))  # fmt: skip
        conn.execute(insert(ShiftReview).values(shift="s7", car_park="harbour", state="flagged", decided_by="s01",
                                                decided_at=now - timedelta(hours=20)))  # fmt: skip
        conn.execute(insert(ShiftReview).values(shift="r3", car_park="lakeview", state="signed_off", decided_by="s01",
                                                decided_at=now - timedelta(hours=40)))  # fmt: skip  # before it came
    text = client.get("/metrics").text
    assert 'parkgate_central_shifts_unreconciled_after_24h{car_park="lakeview"} 3.0' in text
    assert 'parkgate_central_shifts_unreconciled_after_24h{car_park="harbour"} 1.0' in text
