"""A tariff version published at central reaches a running edge through the list sync and quotes the vehicles that
enter after it takes effect, while a vehicle that entered before is still charged by the site file's tariff (the
version in effect at entry decides), here with coupons the collector enters at the booth. Real central (uvicorn,
PostgreSQL), a real edge daemon with simulated devices; central's fee re-check recomputes every fee with the version
the transaction names, and the coupons, and finds no difference."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from drivers.lpr import encode_isapi_xml, encode_milesight
from edge.daemon import EdgeDaemon
from edge.lanes.fees import TariffFees
from edge.lanes.lane import Phase
from edge.site import load_site
from tests.central.scenario import make_site, ok
from tests.edge.test_daemon import REPO, SimLane, free_port, online, sims, until, write_site
from tests.edge.test_with_central import central

pytestmark = pytest.mark.postgres
__all__ = ["central", "sims"]  # fixtures: the real central service, the lanes' I/O modules

FLOAT = {10000: 2, 1000: 10, 100: 20}
SITE_TEXT = (REPO / "config" / "tariffs" / "residential.toml").read_text()
# The next version: the first hour 8.00, then 3.00 per started hour.
DEARER = SITE_TEXT.replace('price = "5.00"', 'price = "8.00"').replace('price = "2.00"', 'price = "3.00"')


class Clock:
    """Real time moved ahead by hand while the lanes are idle: hours of parking in seconds."""

    def __init__(self) -> None:
        self.ahead = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.ahead


async def read(cameras: int, lane_id: str, plate: str, at: datetime) -> None:
    """The lane's camera pushes its read, stamped with the edge's time (a stale read would be refused)."""
    if lane_id == "in-1":
        body = encode_isapi_xml(plate=plate, confidence=96, at=at, event_id=uuid.uuid4().hex)
        where, kind = "/isapi/in", "application/xml"
    else:
        body = encode_milesight(plate=plate, confidence=0.96, direction="Approach", at=at, device="out-cam")
        where, kind = "/lpr/out", "application/json"
    async with httpx.AsyncClient() as client:
        answer = await client.post(f"http://127.0.0.1:{cameras}{where}", content=body, headers={"Content-Type": kind})
    assert answer.status_code == 200


async def through(
    daemon: EdgeDaemon, lane: SimLane, lane_id: str, plate: str, cameras: int, coupons: tuple[str, ...] = ()
) -> None:
    passed = lane.model.passed
    await read(cameras, lane_id, plate, daemon.clock())
    lane.drive_up()
    if lane_id == "out-1":  # something is due: the collector takes it at the booth, after the driver's coupons
        await until(lambda: daemon.lanes["out-1"].phase is Phase.WAITING, what=f"{plate}'s fee quoted")
        assert daemon.desk is not None
        for coupon in coupons:
            await daemon.desk.apply_coupon("out-1", "c01", coupon, "商场停车券")
        await daemon.desk.take_payment("out-1", "c01", "epay", reference=f"wx-{plate[-3:]}")
    await until(lambda: lane.model.passed == passed + 1, within=10, what=f"{plate} through {lane_id}")
    await until(lambda: daemon.lanes[lane_id].phase is Phase.IDLE, what=f"{lane_id} idle")


def paid(daemon: EdgeDaemon, plate: str) -> tuple[int, str]:
    (row,) = daemon.journal.rows(
        "SELECT json_extract(payload, '$.amount'), json_extract(payload, '$.tariff_hash') FROM records "
        "WHERE kind = 'transaction' AND json_extract(payload, '$.plate') = ?", (plate,)
    )  # fmt: skip
    return int(row[0]), str(row[1])


async def test_a_published_tariff_quotes_after_sync_and_the_earlier_version_still_reproduces(
    tmp_path: Path, sims: tuple[SimLane, SimLane], central: tuple[str, TestClient, dict[str, str]]
) -> None:
    url, office, admin = central
    site = make_site(office, admin)
    entry, out = sims
    cameras = free_port()
    site_file = write_site(tmp_path, entry.port, out.port, url, cameras)
    site_file.write_text(re.sub(r'(?m)^token = ".*"$', f'token = "{site.edge_token}"', site_file.read_text(), count=1))
    clock = Clock()
    daemon = EdgeDaemon(load_site(site_file), site_file, metrics_listen="127.0.0.1:0", synchronous="NORMAL",
                        drain_timeout_s=10, clock=clock)  # fmt: skip
    assert isinstance(daemon.fees, TariffFees)
    site_hash = daemon.fees.tariffs["hourly"].content_hash
    await daemon.start()
    try:
        await until(lambda: online(daemon), what="devices online")
        assert daemon.desk is not None
        shift = await daemon.desk.open_shift("c01", FLOAT, 100, acknowledge_handover=False)
        await through(daemon, entry, "in-1", "粤A10001", cameras)
        await through(daemon, entry, "in-1", "粤C30003", cameras)
        clock.ahead = timedelta(hours=2, minutes=10)
        await through(daemon, out, "out-1", "粤A10001", cameras)
        assert paid(daemon, "粤A10001") == (900, site_hash)  # 5.00 + 2 × 2.00: the site file's tariff

        # Central refuses a file the edge could not load, naming the key; then publishes the dearer version.
        bad = office.put("/api/v1/tariffs/residential", headers=admin,
                         json={"content": DEARER.replace('currency = "CNY"', 'currency = "CN"')})  # fmt: skip
        assert bad.status_code == 422, bad.text
        assert bad.json()["code"] == "tariff.invalid"
        assert [p["path"] for p in bad.json()["detail"]] == ["currency"]
        effective = clock() + timedelta(minutes=5)
        published = ok(office.put("/api/v1/tariffs/residential", headers=admin,
                                  json={"content": DEARER, "effective_from": effective.isoformat()}))  # fmt: skip
        assert [v["id"] for v in published["versions"]] == ["residential@1"]
        assert daemon.sync is not None
        daemon.sync.wake()
        await until(lambda: bool(daemon.fees.published) if isinstance(daemon.fees, TariffFees) else False,
                    within=10, what="the published version at the edge")  # fmt: skip
        new_hash = published["sha256"]
        sent = daemon.journal.rows(
            "SELECT json_extract(payload, '$.sha256') FROM records WHERE kind = 'tariff_version'"
        )
        assert {row[0] for row in sent} == {site_hash, new_hash}  # the text of each version, for central's re-check

        clock.ahead = timedelta(hours=2, minutes=20)  # past the version's effective time
        await through(daemon, entry, "in-1", "粤B20002", cameras)
        clock.ahead = timedelta(hours=4, minutes=30)
        await through(daemon, out, "out-1", "粤B20002", cameras)
        assert paid(daemon, "粤B20002") == (1400, new_hash)  # entered under the new version: 8.00 + 2 × 3.00
        # Entered before it: the site file's tariff, with the shop's coupons handed over at the booth: two hours
        # free (4 h 30 min charged as 2 h 30 min: 5.00 + 2 × 2.00) and 3.00 off.
        await through(daemon, out, "out-1", "粤C30003", cameras, coupons=("2h", "3.00"))
        assert paid(daemon, "粤C30003") == (600, site_hash)
        coupons = daemon.journal.rows(
            "SELECT json_extract(payload, '$.operator'), json_extract(payload, '$.coupon.minutes'), "
            "json_extract(payload, '$.coupon.amount'), json_extract(payload, '$.due_before') FROM records "
            "WHERE kind = 'manual_action' AND json_extract(payload, '$.action') = 'coupon' ORDER BY seq"
        )  # fmt: skip
        assert coupons == [("c01", 120, 0, 1300), ("c01", 0, 300, 900)]

        await daemon.desk.close_shift("c01", {10000: 2, 1000: 10, 100: 20}, 100, 0, "交接正常")
        await until(lambda: daemon.journal.backlog() == 0, within=15, what="the journal delivered to central")
    finally:
        await daemon.stop()

    result = ok(office.get(f"/api/v1/reconciliation/shifts/{shift.id}", headers=admin))
    assert result["figures"]["fee_recheck"] == {"checked": 3, "equal": 3, "different": 0}
    assert [f for f in result["findings"] if f["code"].startswith(("fee.", "tariff."))] == []
