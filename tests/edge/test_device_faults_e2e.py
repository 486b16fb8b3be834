"""A camera's fault end to end, through the real daemon, the LPR listener, the journal, the outbox and the real
central service (PostgreSQL): the simulated camera pushes, falls silent (offline), pushes again (back); the edge
journals the fault's start and its end naming the start, the normal sync sends them, central projects them, and the
office's report of device faults shows the fault with its duration; a second silence shows as ongoing."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from edge.daemon import EdgeDaemon
from edge.store.journal import Journal
from simulators.camera import CameraSim
from tests.central.office import sign_in
from tests.central.scenario import make_site
from tests.central.test_reports import table_rows
from tests.edge.central_double import TOKEN
from tests.edge.test_daemon import SimLane, daemon_for, free_port, online, sims, until, write_site
from tests.edge.test_with_central import PASSWORD, central

pytestmark = pytest.mark.postgres
__all__ = ["central", "sims"]  # the fixtures this module borrows
SILENCE_S = 0.6


def faults_of(journal: Journal) -> list[tuple[str, datetime, dict[str, Any]]]:
    rows = journal.rows("SELECT id, at, payload FROM records WHERE kind = 'device_fault' ORDER BY seq")
    return [(record_id, datetime.fromisoformat(at), json.loads(payload)) for record_id, at, payload in rows]


def sent(daemon: EdgeDaemon, count: int) -> bool:
    return len(faults_of(daemon.journal)) >= count and daemon.journal.backlog() == 0


async def test_a_camera_offline_then_back_reaches_the_report_with_its_duration(
    tmp_path: Path, sims: tuple[SimLane, SimLane], central: tuple[str, TestClient, dict[str, str]]
) -> None:
    url, office, admin = central
    site = make_site(office, admin)  # lakeview, its edge lakeview-edge
    entry, out = sims
    cameras = free_port()
    site_file = write_site(tmp_path, entry.port, out.port, url, cameras)
    text = site_file.read_text().replace(TOKEN, site.edge_token)
    site_file.write_text(
        text.replace('path = "/isapi/in" }', f'path = "/isapi/in", silence_timeout_s = {SILENCE_S} }}')
    )
    camera, push_url = CameraSim("in-cam", seed=1), f"http://127.0.0.1:{cameras}/isapi/in"
    daemon = daemon_for(site_file)
    await daemon.start()
    try:
        await until(lambda: online(daemon), what="devices online")
        # The camera says nothing from the start: its silence allowance runs out (however long the start took).
        await until(lambda: len(faults_of(daemon.journal)) == 1, within=30, what="the camera's silence journaled")
        await asyncio.sleep(1.5)  # down a while
        assert await camera.push_isapi(push_url, camera.read("粤B12345"), images=False) == 200  # back
        await until(lambda: sent(daemon, 2), within=30, what="the fault's start and end sent to central")
        (start_id, started_at, start), (_end_id, cleared_at, end) = faults_of(daemon.journal)[:2]
        assert (start["event"], start["device"], start["device_kind"], start["health"]) == (
            "started", "in-cam", "plate_camera", "offline")  # fmt: skip
        assert start["lanes"] == ["in-1"]
        assert (end["event"], end["fault"], end["health"]) == ("cleared", start_id, "online")
        assert end["seconds"] == round((cleared_at - started_at).total_seconds(), 3) > 0
        # Silent again, and left so: an ongoing fault.
        await until(lambda: sent(daemon, 3), within=30, what="the second silence sent to central")
    finally:
        await daemon.stop()
    after_stop = Journal(tmp_path / "var" / "journal.sqlite3", "lakeview")
    assert len(faults_of(after_stop)) == 3  # stopping the listener is no fault
    assert set(after_stop.open_device_faults()) == {"in-cam"}
    after_stop.close()

    sign_in(office, "admin", PASSWORD)
    office.cookies.set("parkgate_office_lang", "en", path="/office")
    day = started_at.astimezone(ZoneInfo("Asia/Shanghai")).date().isoformat()
    page = office.get("/office/reports/device-faults", params={"car_park": "lakeview", "day": day})
    assert page.status_code == 200, page.text
    rows = table_rows(page.text, "faults")
    assert len(rows) == 2
    first, second = rows
    assert first[1:7] == ["lakeview", "in-1", "in-cam", "Plate camera", "Offline", f"no event or heartbeat for "
                          f"{SILENCE_S:g} s"]  # fmt: skip
    assert first[8] == "Cleared"
    assert first[10] == str(round((cleared_at - started_at).total_seconds()))
    assert first[7].startswith(cleared_at.astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%d %H:%M"))
    assert (second[3], second[7], second[8], second[9], second[10]) == ("in-cam", "", "Ongoing", "", "")
