"""The reports against a day driven through the real lanes and sent to central through its ingest API (PostgreSQL):
every figure the pages show and the CSV and XLSX exports carry is the day's known total; the rollups the ingest kept
equal a rebuild from the stored records, on PostgreSQL as in the Python path."""

from __future__ import annotations

import csv
import io
import re
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import Engine, delete, select

from central.core.db import make_session_factory
from central.core.security import Role
from central.models import ReportDaily, ReportHourly
from central.reports import rollups
from parking.wire import INGEST_PATH, ChainStatus, IngestAck, IngestBatch
from tests.central.office import sign_in
from tests.central.report_journal import ENTRIES_BY_HOUR, EXITS_BY_HOUR, TAKEN_BY_HOUR, day_records
from tests.central.scenario import make_site, ok

pytestmark = pytest.mark.postgres
DAY = {"car_park": "lakeview", "day": "2026-11-27"}
MONTH = {"car_park": "lakeview", "month": "2026-11"}


def send_day(client: TestClient, headers: dict[str, str], tmp_path: Path) -> None:
    """The day's journal (see :mod:`tests.central.report_journal`) sent by the car park's edge to central's API."""
    site = make_site(client, headers)
    records = list(day_records())
    batch = IngestBatch(edge_id=site.edge, records=records).model_dump_json()
    answer = client.post(INGEST_PATH, content=batch, headers=site.json_headers)
    ack = IngestAck.model_validate(ok(answer))
    assert ack.chain is ChainStatus.OK
    assert len(ack.accepted) == len(records)


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


def table_rows(html: str, table: str) -> list[list[str]]:
    """The cells of the table ``data-table=table`` of a page, as text."""
    start = html.index(f'data-table="{table}"')
    body = html[start : html.index("</table>", start)]
    rows = re.findall(r"<tr>(.*?)</tr>", body.split("<tbody>")[1], re.S)
    return [[re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", r, re.S)] for r in rows]


@pytest.fixture
def office(client: TestClient, as_role: Any, tmp_path: Path) -> TestClient:
    send_day(client, as_role.admin, tmp_path)
    sign_in(client, Role.SUPERVISOR)
    client.cookies.set("parkgate_office_lang", "en", path="/office")
    return client


def test_revenue_by_hour_method_collector_and_lane_and_its_exports(office: TestClient) -> None:
    page = office.get("/office/reports/revenue", params=DAY).text
    hours = {row[0]: row[1:] for row in table_rows(page, "by_hour")}
    assert hours["10:00"] == ["1", "5.00"]  # the e-payment, and nothing else that hour
    assert hours["11:00"] == ["1", "15.00"]
    assert {int(h[:2]): int(v[1].replace(".", "")) for h, v in hours.items() if v[1] != "0.00"} == TAKEN_BY_HOUR
    assert sum(int(row[0]) for row in hours.values()) == 5  # every transaction record: pass, waiver, manual open
    assert table_rows(page, "by_method") == [["cash", "1", "0", "15.00"], ["epay", "1", "0", "5.00"]]
    assert table_rows(page, "by_collector") == [["c01", "1", "0", "15.00"], ["c02", "1", "0", "5.00"]]
    assert table_rows(page, "by_lane") == [["lakeview", "out-1", "2", "0", "20.00"]]
    assert table_rows(page, "income")[0] == ["Temporary parking", "20.00"]
    assert page.count("<svg") == 1
    assert page.count("<rect") >= 24  # a bar per hour

    assert export_csv(office, "/office/reports/revenue", "by_method", **DAY) == [
        ["Method", "Payments", "Reversals", "Taken (CNY)"], ["cash", "1", "0", "15.00"], ["epay", "1", "0", "5.00"],
    ]  # fmt: skip
    sheet = export_xlsx(office, "/office/reports/revenue", "by_day", **MONTH)
    assert sheet[0] == ("Day", "Transactions", "Payments", "Taken (CNY)")
    by_day = {row[0]: row[1:] for row in sheet[1:]}
    assert len(by_day) == 30
    assert by_day[datetime(2026, 11, 27)] == (5, 2, Decimal("20.00"))
    assert by_day[datetime(2026, 11, 26)] == (0, 0, 0)
    answer = office.get("/office/reports/revenue", params={**MONTH, "format": "xlsx", "table": "by_day"})
    cells = load_workbook(io.BytesIO(answer.content)).active
    assert cells is not None
    assert cells["D28"].number_format == "#,##0.00"
    assert cells["A28"].is_date
    assert cells["A28"].number_format == "yyyy-mm-dd"
    assert 'filename="revenue-by_day-2026-11.xlsx"' in answer.headers["content-disposition"]


def test_occupancy_through_the_day_vehicles_and_denials(office: TestClient) -> None:
    page = office.get("/office/reports/traffic", params=DAY).text
    occupancy = {row[1]: row[2:] for row in table_rows(page, "occupancy")}
    inside = 0
    for hour in range(24):
        came, went = ENTRIES_BY_HOUR.get(hour, 0), EXITS_BY_HOUR.get(hour, 0)
        inside += came - went
        assert occupancy[f"{hour:02d}:00"] == ["small", str(came), str(went), str(inside)], hour
    assert occupancy["10:00"][-1] == "4"
    assert table_rows(page, "vehicles") == [["small", "Monthly pass", "1", "1"], ["small", "Special vehicle", "1", "1"],
                                            ["small", "Temporary", "3", "3"]]  # fmt: skip
    assert table_rows(page, "denials") == [["lakeview", "in-1", "Blacklisted", "1"]]
    assert "<polyline" in page
    sheet = export_xlsx(office, "/office/reports/traffic", "occupancy", **DAY)
    assert sheet[0][-1] == "Inside at the end of the hour"
    assert [row[-1] for row in sheet[1:]][9:15] == [3, 4, 3, 1, 1, 0]
    # The next day starts with the vehicles still inside (none).
    nextday = office.get("/office/reports/traffic", params={**DAY, "day": "2026-11-28"}).text
    assert {row[-1] for row in table_rows(nextday, "occupancy")} == {"0"}


def test_exceptions_per_collector_manual_opens_and_abnormal_events(office: TestClient) -> None:
    page = office.get("/office/reports/exceptions", params=DAY).text
    assert table_rows(page, "per_collector") == [["c01", "0", "1", "0", "0", "1"], ["c02", "1", "0", "0", "0", "1"]]
    hand = table_rows(page, "manual_opens")
    assert hand == [
        ["2026-11-27 12:30:00", "lakeview", "out-1", "Fee waived", "c01", "police on duty", ""],
        ["2026-11-27 14:00:00", "lakeview", "out-1", "Manual open", "c02", "payment terminal down",
         "img/manual-1.jpg"],
    ]  # fmt: skip
    events = table_rows(page, "abnormal")
    assert [row[3] for row in events] == ["Entry denied", "Barrier fault"]
    assert events[1][4] == "motor overload"
    rows = export_csv(office, "/office/reports/exceptions", "manual_opens", **DAY)
    assert rows[0][0] == "When"
    assert rows[2][:5] == ["2026-11-27 14:00:00", "lakeview", "out-1", "Manual open", "c02"]
    sheet = export_xlsx(office, "/office/reports/exceptions", "manual_opens", **DAY)
    assert sheet[2][0].replace(microsecond=0) == datetime(2026, 11, 27, 14, 0)


def test_free_and_special_vehicle_log_and_device_faults(office: TestClient) -> None:
    page = office.get("/office/reports/vehicle-log", params=MONTH).text
    assert table_rows(page, "by_category") == [["police", "1", "1", "0.00"]]
    log = table_rows(page, "log")
    assert len(log) == 1
    assert log[0][1:8] == ["lakeview", "out-1", "粤A00110", "", "police", "c01", "police on duty"]
    page = office.get("/office/reports/device-faults", params=DAY).text
    assert table_rows(page, "faults") == [
        ["2026-11-27 15:00:00", "lakeview", "out-1", "out-cam", "Plate camera", "Offline",
         "no event or heartbeat for 60 s", "2026-11-27 15:45:00", "Cleared", "45", "2,700"],
        ["2026-11-27 17:00:00", "lakeview", "in-1", "in-io", "Barrier I/O module", "Offline", "connection refused",
         "", "Ongoing", "", ""],
    ]  # fmt: skip
    assert table_rows(office.get("/office/reports/device-faults", params={**DAY, "day": "2026-11-28"}).text,
                      "faults")[0][3:9] == ["in-io", "Barrier I/O module", "Offline", "connection refused", "",
                                            "Ongoing"]  # fmt: skip  # still on the next day
    sheet = export_xlsx(office, "/office/reports/device-faults", "faults", **DAY)
    assert sheet[1][0] == datetime(2026, 11, 27, 15, 0)
    assert sheet[1][9:] == (45, 2700)
    assert sheet[2][7:] == (None, "Ongoing", None, None)
    faults = table_rows(page, "barrier_faults")
    assert len(faults) == 1
    assert faults[0][0].startswith("2026-11-27 13:00")
    assert faults[0][4].startswith("2026-11-27 14:00")  # the manual open: the barrier worked again
    assert faults[0][3] == "motor overload"
    assert faults[0][5] == "60"


def test_a_period_that_is_not_one_is_refused_beside_its_field(office: TestClient) -> None:
    page = office.get("/office/reports/revenue", params={"month": "2026-13"}).text
    assert "Enter a month as YYYY-MM." in page
    assert "Enter a day as YYYY-MM-DD." in office.get("/office/reports/traffic", params={"day": "2026-02-30"}).text


def test_pages_in_chinese_and_roles(office: TestClient) -> None:
    office.cookies.set("parkgate_office_lang", "zh_CN", path="/office")
    page = office.get("/office/reports/revenue", params=DAY).text
    assert "营收" in page
    office.cookies.set("parkgate_office_lang", "en", path="/office")
    sign_in(office, Role.FRONT_DESK)
    assert office.get("/office/reports/revenue").status_code == 403
    sign_in(office, Role.AUDITOR)
    for path in ("revenue", "traffic", "exceptions", "vehicle-log", "device-faults"):
        assert office.get(f"/office/reports/{path}", params=DAY).status_code == 200, path


def _rollups(engine: Engine) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    with make_session_factory(engine)() as session:
        daily = [tuple(r) for r in session.execute(select(ReportDaily.__table__).order_by(*ReportDaily.__table__.c))]
        hourly = [tuple(r) for r in session.execute(select(ReportHourly.__table__).order_by(*ReportHourly.__table__.c))]
    return daily, hourly


def test_rollups_kept_by_ingest_equal_a_rebuild_in_sql_and_in_python(
    client: TestClient, as_role: Any, tmp_path: Path, central_engine: Engine
) -> None:
    send_day(client, as_role.admin, tmp_path)
    kept = _rollups(central_engine)
    assert sum(r[-3] for r in kept[0]) == 5 + 5 + 5 + 2 + 2  # entries, exits, transactions, hand, abnormal
    with make_session_factory(central_engine)() as session:
        assert rollups.rebuild(session) == 19
        session.commit()
    assert _rollups(central_engine) == kept
    from central.models import EdgeRecord

    with make_session_factory(central_engine)() as session:
        records = [dict(r._mapping) for r in session.execute(
            select(EdgeRecord.id, EdgeRecord.kind, EdgeRecord.car_park, EdgeRecord.lane, EdgeRecord.at,
                   EdgeRecord.payload))]  # fmt: skip
        session.execute(delete(ReportDaily))
        session.execute(delete(ReportHourly))
        rollups.add_records(session, records)  # the Python path (SQLite's), here on PostgreSQL
        session.commit()
    assert _rollups(central_engine) == kept
    assert date(2026, 11, 27) in {r[1] for r in kept[0]}
