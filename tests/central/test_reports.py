"""The reports against a day driven through the real lanes and sent to central through its ingest API (PostgreSQL):
every figure the pages show and the CSV and XLSX exports carry is the day's known total; the rollups the ingest kept
equal a rebuild from the stored records, on PostgreSQL as in the Python path."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import Engine, select

from central.core.db import make_session_factory
from central.core.security import Role
from central.models import ReportDaily, ReportHourly
from central.reports import rollups
from parking.wire import INGEST_PATH, ChainStatus, IngestAck, IngestBatch
from tests.central.office import sign_in
from tests.central.report_journal import Day, drive_day
from tests.central.scenario import make_site, ok

pytestmark = pytest.mark.postgres
DAY = {"car_park": "lakeview", "day": "2026-11-27"}
MONTH = {"car_park": "lakeview", "month": "2026-11"}


def send_day(client: TestClient, headers: dict[str, str], tmp_path: Path) -> Day:
    site = make_site(client, headers)
    day = drive_day(tmp_path)
    batch = IngestBatch(edge_id=site.edge, records=day.journal.records()).model_dump_json()
    answer = client.post(INGEST_PATH, content=batch, headers=site.json_headers)
    ack = IngestAck.model_validate(ok(answer))
    assert ack.chain is ChainStatus.OK
    assert len(ack.accepted) == day.journal.last_seq
    return day


def export_csv(client: TestClient, path: str, table: str, **params: str) -> list[list[str]]:
    answer = client.get(path, params={**params, "format": "csv", "table": table})
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/csv")
    return list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig"))))


def export_xlsx(client: TestClient, path: str, table: str, **params: str) -> list[tuple[Any, ...]]:
    answer = client.get(path, params={**params, "format": "xlsx", "table": table})
    assert answer.status_code == 200, answer.text
    sheet = load_workbook(io.BytesIO(answer.content)).active
    assert sheet is not None
    return [tuple(c.value for c in row) for row in sheet.iter_rows()]


def test_revenue_of_a_day_and_its_month(client: TestClient, as_role: Any, tmp_path: Path) -> None:
    send_day(client, as_role.admin, tmp_path)
    sign_in(client, Role.SUPERVISOR)
    client.cookies.set("parkgate_office_lang", "en", path="/office")
    page = client.get("/office/reports/revenue", params=DAY)
    assert page.status_code == 200, page.text
    print(page.text[-6000:])
