"""A plate camera going silent, through the real camera listener: the booth console shows it offline (with every
other device of the lane and its kind) and alerts the collector; the collector reports the fault with a note, and
the report reaches the real central (PostgreSQL) through the outbox, where the supervisor finds it by the API and
on the shift reports page."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from edge.booth.operators import Role
from tests.central.office import sign_in
from tests.central.scenario import make_site, ok
from tests.edge.test_daemon import SimLane, daemon_for, free_port, online, push_isapi, sims, until, write_site
from tests.edge.test_with_central import PASSWORD, central

pytestmark = pytest.mark.postgres
__all__ = ["central", "sims"]  # fixtures: the real central service (uvicorn, PostgreSQL), the lanes' I/O modules
NOTE = "入口相机无画面，已通知维修"


def lane(state: dict[str, Any], lane_id: str) -> dict[str, Any]:
    found: dict[str, Any] = next(x for x in state["lanes"] if x["id"] == lane_id)
    return found


async def test_a_silent_camera_is_shown_offline_and_its_reported_fault_reaches_central(
    tmp_path: Path, sims: tuple[SimLane, SimLane], central: tuple[str, TestClient, dict[str, str]]
) -> None:
    url, office, admin = central
    site = make_site(office, admin)
    entry, out = sims
    cameras = free_port()
    site_file = write_site(tmp_path, entry.port, out.port, url, cameras)
    text = site_file.read_text().replace('path = "/isapi/in" }', 'path = "/isapi/in", silence_timeout_s = 1.0 }')
    text = re.sub(r'(?m)^token = ".*"$', f'token = "{site.edge_token}"', text, count=1)  # central's token for it
    site_file.write_text(text)
    daemon = daemon_for(site_file)
    assert daemon.desk is not None
    daemon.desk.operators.add("c01", "李收费", Role.COLLECTOR, "2468", by="test")
    try:
        await daemon.start()
        await until(lambda: online(daemon), what="devices online")
        console = httpx.AsyncClient(base_url=f"http://127.0.0.1:{daemon.metrics_port}/console/api", timeout=5)
        async with console:
            ok(await console.post("/sign-in", json={"operator": "c01", "pin": "2468"}))

            async def devices() -> dict[str, dict[str, str]]:
                state = ok(await console.get("/state"))
                return {d["device"]: d for d in lane(state, "in-1")["devices"]}

            await push_isapi(cameras, "粤B12345", 96)  # the camera talks: online
            assert (await devices())["in-cam"]["health"] == "online"
            shown: dict[str, dict[str, str]] = {}

            async def offline() -> bool:
                shown.update(await devices())
                return shown["in-cam"]["health"] == "offline"

            for _ in range(50):  # its silence timeout is 1 s
                if await offline():
                    break
                await asyncio.sleep(0.1)
            camera = shown["in-cam"]
            assert (camera["health"], camera["kind"], camera["slot"]) == ("offline", "plate_camera", "camera")
            assert "no event or heartbeat for 1 s" in camera["reason"]
            assert shown["in-io"]["kind"] == "barrier_io"
            assert shown["in-io"]["health"] != "unknown"  # its driver's own state (degraded on a busy machine)

            state = ok(await console.get("/state"))
            (alert,) = [a for a in state["lane_alerts"] if a["details"].get("device") == "in-cam"]
            assert (alert["kind"], alert["lane"], alert["acknowledged_by"]) == ("device_offline", "in-1", None)

            refused = await console.post("/lanes/in-1/report-fault", json={"device": "out-io", "note": NOTE})
            assert refused.status_code == 422
            assert refused.json()["error"]["code"] == "fault.unknown_device"
            assert (await console.post("/lanes/in-1/report-fault", json={"device": "in-cam"})).status_code == 422
            reported = ok(await console.post("/lanes/in-1/report-fault", json={"device": "in-cam", "note": NOTE}))
            ok(await console.post(f"/alerts/{alert['id']}/acknowledge", json={}))
            again = await console.post(f"/alerts/{alert['id']}/acknowledge", json={})
            assert again.status_code == 404

        (row,) = daemon.journal.rows("SELECT lane, operator, reason FROM manual_actions WHERE action = 'fault_report'")
        assert row == ("in-1", "c01", NOTE)
        faults: list[dict[str, Any]] = []

        def at_central() -> bool:
            faults[:] = ok(office.get("/api/v1/fault-reports", headers=admin, params={"car_park": "lakeview"}))
            return bool(faults)

        await until(at_central, within=15, what="the fault report at central")
        (fault,) = faults
        assert (fault["record_id"], fault["lane"], fault["device"], fault["operator"], fault["booth"]) == (
            reported["record"], "in-1", "in-cam", "c01", "B1"
        )  # fmt: skip
        assert fault["note"] == NOTE
    finally:
        await daemon.stop()

    sign_in(office, "admin", PASSWORD)
    page = office.get("/office/supervisor")
    assert page.status_code == 200, page.text
    assert f'data-fault="{reported["record"]}"' in page.text
    assert NOTE in page.text
