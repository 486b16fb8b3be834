"""A real uvicorn server on a free localhost port, and an edge speaking the wire contract over HTTP with httpx:
it syncs its lists, sends its journal twice, and sees each record stored once."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from central.models import EdgeRecord
from parking.wire import INGEST_PATH, SYNC_PATH, IngestAck, IngestBatch, SyncPage
from tests.central.conftest import Operators
from tests.central.scenario import chain, make_holder, make_plan, make_site, ok
from tests.services import serving

pytestmark = pytest.mark.postgres


@pytest.fixture
def served(app: FastAPI) -> Iterator[str]:
    with serving(app) as url:
        yield url


async def test_an_edge_syncs_and_ingests_over_http(
    app: FastAPI, served: str, as_role: Operators, central_engine: Engine
) -> None:
    with TestClient(app) as office:
        site = make_site(office, as_role.admin)
        holder = make_holder(office, as_role.admin)
        plan = make_plan(office, as_role.admin, ["lakeview"])
        sale = {"holder_id": holder, "plan_id": plan, "plates": ["粤B3R7K2"]}
        pass_id = ok(office.post("/api/v1/passes", headers=as_role.admin, json=sale), 201)["id"]

    async with httpx.AsyncClient(base_url=served, headers=site.edge_headers) as edge:
        page = SyncPage.model_validate_json((await edge.get(SYNC_PATH, params={"since": 0})).content)
        assert page.full
        assert [(p.id, p.plates) for p in page.passes] == [(pass_id, ["粤B3R7K2"])]

        batch = IngestBatch(edge_id=site.edge, records=chain(site.car_park, 100))
        body = batch.model_dump_json()
        first = IngestAck.model_validate_json(
            (await edge.post(INGEST_PATH, content=body, headers={"Content-Type": "application/json"})).content
        )
        second = IngestAck.model_validate_json(
            (await edge.post(INGEST_PATH, content=body, headers={"Content-Type": "application/json"})).content
        )
        assert (len(first.accepted), first.chain, first.last_seq) == (100, "ok", 100)
        assert (second.accepted, len(second.duplicates), second.last_seq) == ([], 100, 100)

        unauthorised = await edge.get(SYNC_PATH, headers={"Authorization": "Bearer pge_forged"})
        assert (unauthorised.status_code, unauthorised.json()["code"]) == (401, "auth.invalid_edge_token")

        # The same batch sent three times at once (a retry racing its original) is still stored once.
        again = IngestBatch(
            edge_id=site.edge, records=chain(site.car_park, 50, start_seq=101, prev=batch.records[-1].hash)
        )
        racing = await asyncio.gather(*(
            edge.post(INGEST_PATH, content=again.model_dump_json(), headers={"Content-Type": "application/json"})
            for _ in range(3)
        ))  # fmt: skip
        acks = [IngestAck.model_validate_json(answer.content) for answer in racing]
        assert sorted(len(ack.accepted) for ack in acks) == [0, 0, 50]
        assert all(ack.last_seq == 150 for ack in acks)

    with Session(central_engine) as session:
        assert session.scalar(select(func.count()).select_from(EdgeRecord)) == 150
