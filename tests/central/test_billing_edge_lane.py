"""An overdue pass at a running edge: real central (uvicorn, PostgreSQL) and a real edge daemon with simulated
devices (barrier I/O modules over Modbus TCP, plate cameras pushing over HTTP, the entry's LED display over TCP).
The invoice goes overdue, billing suspends the pass after its grace, the edge's list sync brings the suspension and
its reason, and the lane refuses the pass — the vehicle is charged as a temporary one — with "月租卡已暂停：欠费" on
the display and "pass suspended: arrears" in the journal (which reaches central); once the invoice is paid and the
edge has synced again the same plate enters as a pass holder."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from central.core.security import Role
from edge.daemon import EdgeDaemon
from edge.lanes.lane import Phase
from parking.wire import PassStatus
from simulators.display import DisplaySimulator
from tests.central.billing_scenario import Sale, sell_pass
from tests.central.conftest import Operators
from tests.central.office import sign_in
from tests.central.scenario import ok
from tests.central.test_billing_arrears import move_due
from tests.edge.central_double import TOKEN
from tests.edge.test_daemon import SimLane, daemon_for, free_port, online, push_isapi, push_json, start_sim, until
from tests.edge.test_daemon import write_site as daemon_site
from tests.services import serving

pytestmark = pytest.mark.postgres
PLATE = "粤B3R7K2"


@pytest.fixture
def central_url(app: FastAPI) -> Iterator[str]:
    """The test's central app served by uvicorn, for the edge daemon to reach over HTTP."""
    with serving(app) as url:
        yield url


@pytest.fixture
async def devices() -> AsyncIterator[tuple[SimLane, SimLane, DisplaySimulator, int]]:
    entry, out, display = await start_sim(), await start_sim(), DisplaySimulator()
    display_port = await display.server.serve_tcp("127.0.0.1", 0)
    yield entry, out, display, display_port
    await entry.serving.stop()
    await out.serving.stop()
    await display.server.stop()


def edge_site(tmp_path: Path, url: str, sale: Sale, lanes: tuple[SimLane, SimLane], display: int, cameras: int) -> Path:
    """The daemon's site file with central's address and this edge's id and token, the LED on the entry lane."""
    entry, out = lanes
    path = daemon_site(tmp_path, entry.port, out.port, url, cameras)
    text = path.read_text()
    # The same car comes back within minutes: a repeat window of 0 lets its new read count.
    lane = 'camera = "in-cam", display = "in-led" }\nrepeat_window_ms = 0'
    replacements = (
        ('edge_id = "lakeview-edge"', f'edge_id = "{sale.site.edge}"'),
        (TOKEN, sale.site.edge_token),
        ('camera = "in-cam" }', lane),
    )
    for old, new in replacements:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    text += (
        f'\n[devices.in-led]\nkind = "display"\ndriver = "serial_text"\n'
        f'connection = {{ type = "tcp", host = "127.0.0.1", port = {display} }}\n'
    )
    path.write_text(text)
    return path


async def synced(daemon: EdgeDaemon, pass_id: str, status: PassStatus) -> None:
    """Wake the edge's list sync (as its timer would) until the lanes' lists hold the pass in ``status``."""
    assert daemon.sync is not None
    daemon.sync.wake()

    def holds() -> bool:
        found = [p for p in daemon.holder.directory.passes_by_plate.exact(PLATE) if p.id == pass_id]
        return bool(found) and found[0].status is status

    await until(holds, within=10, what=f"pass {pass_id} {status.value} at the edge")


def sessions(daemon: EdgeDaemon) -> list[dict[str, Any]]:
    rows = daemon.journal.rows("SELECT payload FROM records WHERE kind = 'session' ORDER BY seq")
    return [json.loads(payload) for (payload,) in rows]


async def drive_through(daemon: EdgeDaemon, lane: SimLane, lane_id: str, plate: str, cameras: int) -> None:
    """A vehicle the lane lets through by itself: the read, the vehicle over the loops, the barrier down behind."""
    passed = lane.model.passed
    if lane_id == "in-1":
        await push_isapi(cameras, plate, 96)
    else:
        await push_json(cameras, plate, 0.96)
    lane.drive_up()
    await until(lambda: lane.model.passed == passed + 1, within=10, what=f"{plate} through {lane_id}")
    await until(lambda: lane.model.barrier.closed_limit, what=f"{lane_id} barrier closed")
    await until(lambda: daemon.lanes[lane_id].phase is Phase.IDLE, what=f"{lane_id} idle")


async def test_an_overdue_pass_is_refused_at_a_running_lane_with_the_reason_and_admitted_once_paid(
    tmp_path: Path,
    client: TestClient,
    as_role: Operators,
    central_url: str,
    devices: tuple[SimLane, SimLane, DisplaySimulator, int],
) -> None:
    entry, out, display, display_port = devices
    sale = sell_pass(client, as_role, rule={"activate_on": "invoice", "suspend_after_days": 7}, plate=PLATE)
    pass_id = sale.monthly["id"]
    cameras = free_port()
    daemon = daemon_for(edge_site(tmp_path, central_url, sale, (entry, out), display_port, cameras))
    await daemon.start()
    try:
        await until(lambda: online(daemon), what="devices online")
        await synced(daemon, pass_id, PassStatus.ACTIVE)

        move_due(client, sale.invoice["id"], days_ago=8)  # a week's grace is over
        supervisor = as_role[Role.SUPERVISOR]
        assert ok(client.post("/api/v1/billing/arrears/suspend", headers=supervisor)) == {"suspended": [pass_id]}
        await synced(daemon, pass_id, PassStatus.SUSPENDED)

        await drive_through(daemon, entry, "in-1", PLATE, cameras)
        refused = sessions(daemon)[-1]
        assert (refused["session_kind"], refused["pass_id"]) == ("temporary", None)
        assert refused["decision"] == "pass suspended: arrears"
        assert refused["identity"]["pass_id"] == pass_id
        assert "expired_pass" in refused["flags"]
        await until(lambda: "月租卡已暂停：欠费" in display.text(), what="the reason on the entry display")
        assert display.text() == [PLATE, "月租卡已暂停：欠费", "按临时车收费", "临时车 欢迎光临"]
        await drive_through(daemon, out, "out-1", PLATE, cameras)  # within the free half hour: nothing due

        ok(
            client.post(
                f"/api/v1/billing/invoices/{sale.invoice['id']}/payments",
                headers=as_role[Role.CASHIER],
                json={"method": "bank_transfer", "amount_minor": 30000, "reference": "TRF-77"},
            ),
            201,
        )
        await synced(daemon, pass_id, PassStatus.ACTIVE)
        await drive_through(daemon, entry, "in-1", PLATE, cameras)
        admitted = sessions(daemon)[-1]
        assert (admitted["session_kind"], admitted["pass_id"], admitted["decision"]) == (
            "pass",
            pass_id,
            "monthly pass",
        )
        assert admitted["flags"] == []
        await until(lambda: display.text()[:1] == [PLATE] and "月租车" in display.text()[1], what="pass on display")

        # The journal reached central: the refusal is there with its reason.
        await until(lambda: daemon.journal.backlog() == 0, within=10, what="the journal delivered to central")
        records = ok(client.get(f"/api/v1/records?edge_id={sale.site.edge}&kind=session", headers=supervisor))
        decisions = [r["payload"]["decision"] for r in records if r["payload"].get("event") == "opened"]
        assert decisions == ["pass suspended: arrears", "monthly pass"]
        # ... and the front desk sees where the suspended pass was presented (the API and the holder's page)
        seen = ok(client.get(f"/api/v1/passes/{pass_id}/presentations", headers=as_role[Role.FRONT_DESK]))
        assert [(s["lane"], s["plate"], s["reason"]) for s in seen] == [("in-1", PLATE, "pass suspended: arrears")]
        holder = ok(client.get(f"/api/v1/passes/{pass_id}", headers=as_role[Role.FRONT_DESK]))["holder_id"]
        sign_in(client, Role.FRONT_DESK)
        page = client.get(f"/office/holders/{holder}")
        assert page.status_code == 200, page.text
        assert "已暂停或注销的月租卡在车道出现" in page.text
        assert f'data-presentation="{seen[0]["record"]}"' in page.text
    finally:
        await daemon.stop()
