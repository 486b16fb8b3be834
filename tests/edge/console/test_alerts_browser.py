"""Alerts at the booth console, in Debian's Chromium against a real edge (the lanes' barriers and loops played by
the I/O-module simulator over Modbus, the lists synced from the wire-contract central): a blacklisted vehicle at
the entry raises an alert that stays through a reload of the page until the collector acknowledges it; the
acknowledgement is journaled with the collector, the time and the alert, and reaches central through the outbox."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from playwright.async_api import async_playwright, expect

from edge.console.views import state_view
from parking.wire import RecordKind, VehicleList
from tests.edge.console.test_api import until
from tests.edge.console.test_browser import CHROMIUM_ARGS, Site, key, shot
from tests.edge.console.test_browser import site as site
from tests.edge.kit import a_vehicle

pytestmark = pytest.mark.browser
STOLEN = "粤B66666"


async def test_a_blacklist_alert_stays_until_the_collector_acknowledges_it(
    site: Site, chromium_path: str, artefacts_dir: Path
) -> None:
    daemon, desk = site.daemon, site.daemon.desk
    assert desk is not None
    assert daemon.sync is not None
    site.central.publish(a_vehicle(STOLEN, VehicleList.BLACKLIST, "stolen"))
    daemon.sync.wake()
    await until(lambda: bool(daemon.holder.directory.vehicles.exact(STOLEN)), within=10, what="blacklist synced")

    site.read("in-1", STOLEN, "entry")
    site.entry.drive_up()
    await until(lambda: any(a["kind"] == "blacklist" for a in desk.lane_alerts), what="the blacklist alert")
    assert site.entry.model.passed == 0

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        page = await browser.new_page(viewport={"width": 1366, "height": 768})
        failures: list[str] = []
        page.on("pageerror", lambda err: failures.append(str(err)))
        try:
            await page.goto(f"http://127.0.0.1:{daemon.metrics_port}/console/")
            await page.fill("#sign-in-operator", "c01")
            await page.fill("#sign-in-pin", "2468")
            await key(page, "Enter")
            item = page.locator('#alert-list li[data-kind="blacklist"]')
            await expect(item).to_contain_text("黑名单车辆")
            await expect(item).to_contain_text(STOLEN)
            await expect(page.locator("#lane-alert")).to_contain_text("1 条警报待确认")
            await shot(page, artefacts_dir / "blacklist-alert-zh.png")

            await page.reload()  # the alert is the edge's, not the page's: it is still there
            await expect(item).to_contain_text(STOLEN)
            await page.click("#lang")  # (the G key would go to the float's first field, which has the focus)
            await expect(item).to_contain_text("Blacklisted vehicle")
            await shot(page, artefacts_dir / "blacklist-alert-en.png")
            await item.locator("button.ack").click()
            await expect(page.locator("#toast")).to_contain_text("Alert acknowledged")
            await expect(page.locator("#alerts")).to_be_hidden()
            await expect(page.locator("#lane-alert")).to_be_hidden()
            await page.reload()
            await expect(page.locator("#open-view")).to_be_visible()
            await expect(page.locator("#alerts")).to_be_hidden()

            # the exit lane's barrier I/O module, with its kind and state; a fault reported on it with a note
            await page.fill("#float-10000", "1")
            await key(page, "Enter")
            await expect(page.locator("#desk-view")).to_be_visible()
            await expect(page.locator("#dev-out-io")).to_contain_text("Barrier I/O out-io")
            await expect(page.locator("#dev-out-io")).to_contain_text("online")
            await page.locator("#dev-out-io").click()  # the focus off the float fields (the keys are the desk's)
            await key(page, "t")
            await page.select_option("#f-device", "out-io")
            await page.fill("#f-note", "boom arm scraped, still works")
            await page.click("#dialog-ok")
            await expect(page.locator("#dialog")).to_be_hidden()
            await expect(page.locator("#toast")).to_contain_text("Fault reported")
            assert failures == []
        finally:
            await browser.close()

    (alert,) = [a for a in state_view(desk)["lane_alerts"] if a["kind"] == "blacklist"]
    assert alert["acknowledged_by"] == "c01"
    rows = daemon.journal.rows("SELECT lane, operator, action, payload FROM manual_actions")
    acks = [(lane, who, json.loads(payload)) for lane, who, action, payload in rows if action == "acknowledge_alert"]
    assert len(acks) == 1
    lane, who, payload = acks[0]
    assert (lane, who, payload["alert"], payload["alert_kind"], payload["booth"]) == (
        "in-1", "c01", alert["id"], "blacklist", "B1"
    )  # fmt: skip
    assert STOLEN in payload["reason"]

    def at_central() -> bool:
        return any(r.kind is RecordKind.MANUAL_ACTION and r.payload.get("alert") == alert["id"]
                   for r in site.central.records.values())  # fmt: skip

    await until(at_central, within=10, what="the acknowledgement at central")
    (fault,) = daemon.journal.rows(
        "SELECT lane, operator, reason, payload FROM manual_actions WHERE action = 'fault_report'"
    )
    assert fault[:3] == ("out-1", "c01", "boom arm scraped, still works")
    assert json.loads(fault[3])["device"] == "out-io"
