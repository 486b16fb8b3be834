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
