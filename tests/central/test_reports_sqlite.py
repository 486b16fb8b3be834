"""The reports on central's embedded SQLite (the Python path of the rollups, the queries without GROUPING SETS),
and the SVG charts on their own."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import insert

from central.core.config import Settings
from central.core.db import make_engine
from central.core.migrate import upgrade
from central.core.security import Role, new_token, token_digest
from central.main import create_app
from central.models import CarPark, Edge, User
from central.reports.charts import bar_chart, line_chart, nice_ceiling
from central.reports.tables import Series
from parking.wire import INGEST_PATH, IngestBatch
from tests.central.conftest import password_hash
from tests.central.office import sign_in
from tests.central.report_journal import day_records
from tests.central.test_reports import DAY, MONTH, export_csv, table_rows


def test_the_reports_on_sqlite_count_the_same_day(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'central.sqlite3'}"
    engine = make_engine(url)
    upgrade(engine)
    token = new_token("pge")
    with engine.begin() as conn:
        conn.execute(insert(User).values(username="supervisor", full_name="", role=Role.SUPERVISOR.value,
                                         password_hash=password_hash(), active=True))  # fmt: skip
        conn.execute(insert(CarPark).values(id="lakeview", name="Lakeview", timezone="Asia/Shanghai", currency="CNY"))
        conn.execute(insert(Edge).values(id="lakeview-edge", car_park_id="lakeview", name="booth",
                                         token_hash=token_digest(token)))  # fmt: skip
    engine.dispose()
    app = create_app(Settings(database_url=url))
    try:
        with TestClient(app) as client:
            batch = IngestBatch(edge_id="lakeview-edge", records=list(day_records())).model_dump_json()
            answer = client.post(INGEST_PATH, content=batch, headers={"Authorization": f"Bearer {token}",
                                                                      "Content-Type": "application/json"})  # fmt: skip
            assert answer.status_code == 200, answer.text
            sign_in(client, Role.SUPERVISOR)
            client.cookies.set("parkgate_office_lang", "en", path="/office")
            revenue = client.get("/office/reports/revenue", params=DAY).text
            assert table_rows(revenue, "by_method") == [["cash", "1", "0", "15.00"], ["epay", "1", "0", "5.00"]]
            assert table_rows(revenue, "by_collector") == [["c01", "1", "0", "15.00"], ["c02", "1", "0", "5.00"]]
            month = export_csv(client, "/office/reports/revenue", "by_day", **MONTH)
            assert month[27] == ["2026-11-27", "5", "2", "20.00"]
            traffic = client.get("/office/reports/traffic", params=DAY).text
            assert [row[-1] for row in table_rows(traffic, "occupancy")][9:15] == ["3", "4", "3", "1", "1", "0"]
            faults = client.get("/office/reports/device-faults", params=DAY).text
            assert table_rows(faults, "barrier_faults")[0][5] == "60"
            assert [row[8:] for row in table_rows(faults, "faults")] == [
                ["Cleared", "45", "2,700"],
                ["Ongoing", "", ""],
            ]
    finally:
        app.state.engine.dispose()


def test_charts_have_round_axes_escaped_labels_and_one_mark_per_value() -> None:
    assert [nice_ceiling(v) for v in (0, 0.7, 3, 17, 240, 2001)] == [1.0, 1.0, 5.0, 20.0, 250.0, 2500.0]
    money = Series(["<09>", "10", "11"], {"Taken": [0.0, 500.0, 1500.0]}, money=True)
    svg = str(bar_chart(money, "Takings & more", "CNY"))
    assert svg.startswith("<svg")
    assert svg.endswith("</svg>")
    assert svg.count("<rect") == 3 + 1  # a bar per value, the legend's swatch
    assert "&lt;09&gt;" in svg
    assert "<09>" not in svg
    assert "Takings &amp; more" in svg
    assert ">20.00<" in svg  # the axis top: 2,000 minor units, in yuan
    counts = Series([f"{h:02d}" for h in range(24)], {"small": [float(h % 3) for h in range(24)],
                                                      "large": [1.0] * 24})  # fmt: skip
    lines = str(line_chart(counts, "Inside", translate=str.upper))
    assert lines.count("<polyline") == 2
    assert ">SMALL<" in lines
    assert [f">{n}<" in lines for n in range(5)] == [True] * 5  # whole-number ticks for counts
