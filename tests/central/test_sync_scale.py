"""An edge syncs 45,000 passes from empty (three pages), then a delta of 100 changes, over the wire contract.

Correctness at scale only: `benchmarks/bench_central.py` measures the full sync of 100,000 passes and the delta."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from central.core.security import Role
from central.models import PassPlan
from central.pass_import import PassImport, import_passes
from parking.wire import SyncPage
from tests.central.conftest import Operators
from tests.central.scenario import make_site, ok

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

PASSES = 45_000
PAGE = 20_000  # central's default page size


def test_full_sync_of_45000_passes_in_pages_then_a_delta_of_100(
    client: TestClient, as_role: Operators, central_engine: Engine
) -> None:
    site = make_site(client, as_role.admin)
    plan_id = ok(client.post("/api/v1/plans", headers=as_role[Role.OFFICE],
                             json={"name": "resident", "price_minor": 30000}), 201)["id"]  # fmt: skip
    start = datetime(2026, 11, 1, tzinfo=UTC)
    items = [PassImport(holder=f"holder {n}", phone=f"138{n:08d}", plates=[f"粤B{n:05d}"], valid_from=start,
                        valid_to=start + timedelta(days=30)) for n in range(PASSES)]  # fmt: skip
    with Session(central_engine) as session:
        plan = session.get_one(PassPlan, plan_id)
        ids = import_passes(session, plan, items, None)
        session.commit()

    held: dict[str, str] = {}
    since, pages = 0, 0
    while True:
        answer = client.get(f"/api/v1/sync?since={since}", headers=site.edge_headers)
        page = SyncPage.model_validate_json(answer.content)
        if page.full:
            held.clear()
        held.update({p.id: p.valid_to.isoformat() for p in page.passes})
        since, pages = page.version, pages + 1
        if not page.more:
            break
    assert len(held) == PASSES
    assert set(held) == set(ids)
    assert pages == -(-PASSES // PAGE)

    changed = ids[:: PASSES // 100][:100]
    for pass_id in changed:
        ok(client.post(f"/api/v1/passes/{pass_id}/renew", headers=as_role[Role.FRONT_DESK], json={"months": 1}))
    delta = SyncPage.model_validate_json(client.get(f"/api/v1/sync?since={since}", headers=site.edge_headers).content)
    assert not delta.full
    assert not delta.more
    assert sorted(p.id for p in delta.passes) == sorted(changed)
    assert all(p.valid_to > start + timedelta(days=30) for p in delta.passes)
