"""Random batches posted to the real ingest endpoint (PostgreSQL behind it): central never answers a server error,
and every record of a batch it accepts is accounted for (stored, duplicate, refused or quarantined)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from central.core.security import Role
from tests import soak_summary
from tests.central.conftest import Operators
from tests.central.scenario import Site, make_site, ok
from tests.central.test_ingest_quarantine import raw_chain
from tests.central.test_server import served as served  # the fixture: the app on a real uvicorn

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

ODD_TEXT = st.one_of(
    st.text(max_size=80),
    st.sampled_from(["\u0000", "a\u0000b", "\ud800", "x" * 65, "", "粤B3R7K2", "0001-01-01T00:00:00+01:00",
                     "9999-12-31T23:59:59-05:00", "2026-11-27T01:00:00", "0" * 64]),
)  # fmt: skip
ODD_NUMBER = st.one_of(
    st.integers(), st.sampled_from([0, -1, 2**63 - 1, 2**63, -(2**63), 10**40]),
    st.floats(allow_nan=True, allow_infinity=True),
)  # fmt: skip
JSON = st.recursive(
    st.none() | st.booleans() | ODD_NUMBER | ODD_TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(ODD_TEXT, inner, max_size=4),
    max_leaves=20,
)
FIELDS = ["id", "seq", "kind", "car_park", "lane", "at", "payload", "prev_hash", "hash", "extra"]


@st.composite
def batches(draw: st.DrawFn, car_park: str) -> list[Any]:
    records: list[Any] = raw_chain(car_park, draw(st.integers(min_value=1, max_value=6)))
    for record in records:
        for name in draw(st.lists(st.sampled_from(FIELDS), max_size=3)):
            if draw(st.booleans()):
                record.pop(name, None)
            else:
                record[name] = draw(JSON)
    return records


def fuzz_ingest(post: Callable[[str], tuple[int, Any]], site: Site, examples: int) -> None:
    """Post ``examples`` random batches; no answer may be a server error, and an accepted batch settles them all."""
    seen = {"posts": 0, "server_errors": 0}

    @settings(max_examples=examples, deadline=None, suppress_health_check=list(HealthCheck))
    @given(records=batches(site.car_park), edge=st.sampled_from([site.edge, site.edge, "x" * 65, 5]))
    def one(records: list[Any], edge: Any) -> None:
        status, ack = post(json.dumps({"wire_version": 1, "edge_id": edge, "records": records}))
        seen["posts"] += 1
        seen["server_errors"] += status >= 500
        assert status < 500, ack
        if status == 200:
            settled = len(ack["accepted"]) + len(ack["duplicates"]) + len(ack["rejected"])
            assert settled >= len(records) - sum(1 for q in ack["quarantined"] if q["id"] not in ack["accepted"])

    try:
        one()
    finally:
        soak_summary.record(soak_summary.Row(target=f"fuzz: central ingest ({examples} batches)",
                                             inputs=seen["posts"], crashes=seen["server_errors"],
                                             detail="hypothesis batches of 1-6 records with odd fields"))  # fmt: skip


def test_random_batches_never_get_a_server_error(client: TestClient, as_role: Operators) -> None:
    site = make_site(client, as_role.admin)

    def post(body: str) -> tuple[int, Any]:
        answer = client.post("/api/v1/ingest", headers=site.json_headers, content=body)
        return answer.status_code, answer.json()

    fuzz_ingest(post, site, 60)
    assert ok(client.get("/api/v1/quarantine?limit=5", headers=as_role[Role.SUPERVISOR])) is not None


@pytest.mark.fuzz
@pytest.mark.timeout(600)
def test_random_batches_over_http_never_get_a_server_error(client: TestClient, served: str, as_role: Operators) -> None:
    """``make fuzz``: many more batches, over real HTTP to uvicorn."""
    site = make_site(client, as_role.admin)
    with httpx.Client(base_url=served, headers=site.json_headers, timeout=30) as http:

        def post(body: str) -> tuple[int, Any]:
            answer = http.post("/api/v1/ingest", content=body)
            return answer.status_code, answer.json()

        fuzz_ingest(post, site, 600)
