"""A whole booth shift in the console, driven by Playwright in Debian's Chromium, against a real edge: the daemon
with its lanes, journal and console server, the barriers and loops of both lanes played by the I/O-module simulator
over Modbus, plate reads with images given to the lanes' device adapters, and central played by the wire-contract
server (:mod:`tests.edge.central_double`), which receives the shift report through the outbox.

Sign in, open with a float of 500.00, a pass holder, a free vehicle (police), three temporary vehicles (cash with
change, e-payment, lost card), a manual open for a car without an entry record, a cash drop of 100.00, and close
with 10.00 short. Screenshots of the lane screen and the closing report, in both languages, go to the artefacts.
"""

from __future__ import annotations

import io
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page, async_playwright, expect
from pypdf import PdfReader

from edge.booth.operators import Role
from edge.daemon import EdgeDaemon
from edge.devices.wiring import LaneDevices
from edge.site import load_site
from parking.wire import PassRecord, RecordKind
from simulators.camera import render_vehicle
from tests.edge.central_double import CentralDouble
from tests.edge.console.test_api import MovableClock, site_text, until, write_site
from tests.edge.test_daemon import SimLane, start_sim

pytestmark = pytest.mark.browser

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]  # fmt: skip
PASS_PLATE, POLICE, CASH, EPAY, LOST, NO_ENTRY = "粤B3R7K2", "粤B11000", "粤B12345", "粤BD12345", "粤A88888", "粤B55555"


@dataclass
class Read:
    """A plate camera's normalised read, as the LPR drivers give it to the lane's device adapter."""

    plate: str
    confidence: float
    image: str | None
    colour: str = "blue"


@dataclass
class Site:
    daemon: EdgeDaemon
    clock: MovableClock
    entry: SimLane
    exit: SimLane
    central: CentralDouble
    images: Path

    def port(self, lane: str) -> LaneDevices:
        port = self.daemon.runners[lane].port
        assert isinstance(port, LaneDevices)
        return port

    def read(self, lane: str, plate: str, kind: str) -> None:
        name = f"{kind}-{plate}.jpg"
        (self.images / name).write_bytes(render_vehicle(plate.encode("ascii", "replace").decode(), size=(640, 360)))
        self.port(lane).plate_read(Read(plate, 0.94, name))

    async def enter(self, plate: str) -> None:
        passed = self.entry.model.passed
        self.read("in-1", plate, "entry")
        self.entry.drive_up()
        await until(lambda: self.entry.model.passed == passed + 1, what=f"{plate} through the entry")

    def arrive(self, plate: str) -> int:
        """A vehicle drives up to the exit with its plate read; answers how many had passed before."""
        passed = self.exit.model.passed
        self.read("out-1", plate, "exit")
        self.exit.drive_up()
        return passed

    async def left(self, before: int, plate: str) -> None:
        # Conditions, not timings: the allowance covers a CI machine running four test workers on two cores.
        await until(lambda: self.exit.model.passed == before + 1, within=15, what=f"{plate} through the exit")
        await until(lambda: self.exit.model.barrier.closed_limit, within=15, what="exit barrier closed")
        await until(lambda: self.daemon.lanes["out-1"].phase.value == "idle", within=15, what="exit lane idle")


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[Site]:
    entry, exit_ = await start_sim(), await start_sim()
    central = CentralDouble()
    await central.start()
    now = datetime.now(UTC)
    central.publish(PassRecord(id="pass-1", holder="王先生", plates=[PASS_PLATE], valid_from=now - timedelta(days=30),
                               valid_to=now + timedelta(days=30)))  # fmt: skip
    site_file = write_site(tmp_path, site_text(entry.port, exit_.port, central.url))
    clock = MovableClock()
    daemon = EdgeDaemon(load_site(site_file), site_file, clock=clock, metrics_listen="127.0.0.1:0",
                        synchronous="NORMAL", drain_timeout_s=2)  # fmt: skip
    assert daemon.desk is not None
    daemon.desk.operators.add("c01", "李收费", Role.COLLECTOR, "2468", by="test")
    daemon.desk.operators.add("s01", "王主管", Role.SUPERVISOR, "1357", by="test")
    images = daemon.desk.image_roots[0]
    images.mkdir(parents=True, exist_ok=True)
    await daemon.start()
    try:
        devices = daemon.devices
        assert devices is not None
        await until(lambda: all(io.inputs is not None for io in devices.io_modules.values()), what="devices online")
        await until(lambda: daemon.holder.directory.version > 0, what="lists from central")
        yield Site(daemon, clock, entry, exit_, central, images)
    finally:
        await daemon.stop()
        await central.stop()
        await entry.serving.stop()
        await exit_.serving.stop()


async def key(page: Page, name: str) -> None:
    await page.keyboard.press(name)


async def shot(page: Page, path: Path) -> None:
    await page.evaluate("document.fonts.ready.then(() => true)")  # the CJK font is served by the edge
    await page.screenshot(path=str(path))


async def confirm(page: Page) -> None:
    """Enter in a dialog, and wait until the edge answered and the dialog closed."""
    await page.keyboard.press("Enter")
    await expect(page.locator("#dialog")).to_be_hidden()


async def due_is(page: Page, amount: str) -> None:
    await expect(page.locator("#due-amount")).to_have_text(f"¥ {amount}", timeout=8000)


def pdf_text(data: bytes) -> str:
    reader = PdfReader(io.BytesIO(data))
    return re.sub(r"[\s\x00]+", "", "".join(page.extract_text() for page in reader.pages))


async def test_a_whole_shift_in_the_console(site: Site, chromium_path: str, artefacts_dir: Path) -> None:
    started = time.monotonic()
    for plate in (PASS_PLATE, POLICE, CASH, EPAY, LOST):
        await site.enter(plate)
    site.clock.advance(hours=1, minutes=50)  # they stay under two hours: 5.00 + 2.00

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        page = await browser.new_page(viewport={"width": 1366, "height": 768})
        failures: list[str] = []
        page.on("pageerror", lambda err: failures.append(str(err)))
        page.on("requestfailed", lambda request: failures.append(request.url))
        try:
            await page.goto(f"http://127.0.0.1:{site.daemon.metrics_port}/console/")
            await page.fill("#sign-in-operator", "c01")
            await page.fill("#sign-in-pin", "1111")
            await key(page, "Enter")
            await expect(page.locator("#toast")).to_contain_text("工号或密码错误")
            await page.fill("#sign-in-pin", "2468")
            await key(page, "Enter")

            # open: float 500.00 by denomination, 200 temporary cards
            await expect(page.locator("#open-view")).to_be_visible()
            for denomination, count in {10000: 2, 5000: 2, 2000: 5, 1000: 5, 500: 6, 100: 15, 50: 8, 10: 10}.items():
                await page.fill(f"#float-{denomination}", str(count))
            await expect(page.locator("#open-total")).to_have_text("500.00")
            await page.fill("#open-cards", "200")
            await key(page, "Enter")
            await expect(page.locator("#desk-view")).to_be_visible()

            # a pass holder leaves by itself
            before = site.arrive(PASS_PLATE)
            await site.left(before, PASS_PLATE)

            # a police car, let through free
            before = site.arrive(POLICE)
            await due_is(page, "7.00")
            await key(page, "f")
            await expect(page.locator("#f-reason")).to_have_value("警车")
            await confirm(page)
            await site.left(before, POLICE)

            # temporary vehicle 1: cash, 10.00 tendered, 3.00 change; the lane screen in both languages
            before = site.arrive(CASH)
            await due_is(page, "7.00")
            await expect(page.locator("#plate")).to_have_text(CASH)
            await expect(page.locator("#entry-image")).to_be_visible()
            await expect(page.locator("#exit-image")).to_be_visible()
            await shot(page, artefacts_dir / "lane-zh.png")
            await key(page, "g")
            await expect(page.locator("#key-c")).to_contain_text("Cash")
            await shot(page, artefacts_dir / "lane-en.png")
            await key(page, "g")
            await key(page, "F1")
            await page.fill("#f-tendered", "10")
            await expect(page.locator("#change-line")).to_contain_text("3.00")
            await confirm(page)
            await expect(page.locator("#toast")).to_contain_text("3.00")
            await site.left(before, CASH)

            # temporary vehicle 2: a shop validation takes an hour off (quoted again), then e-payment by reference
            before = site.arrive(EPAY)
            await due_is(page, "7.00")
            await key(page, "o")
            await page.fill("#f-coupon", "1h")
            await page.fill("#f-reason", "超市购物满200元")
            await confirm(page)
            await due_is(page, "5.00")
            await key(page, "e")
            await key(page, "Enter")  # no reference: refused, the dialog stays
            await expect(page.locator("#dialog-error")).to_contain_text("交易号")
            await page.fill("#f-reference", "WX4200001234")
            await confirm(page)
            await site.left(before, EPAY)

            # temporary vehicle 3: lost card, 50.00 in cash
            before = site.arrive(LOST)
            await due_is(page, "7.00")
            await key(page, "l")
            await due_is(page, "50.00")
            await key(page, "c")
            await page.fill("#f-tendered", "50.00")
            await confirm(page)
            await site.left(before, LOST)

            # a car with no entry record: searched for, not found, opened by hand with the reason
            before = site.arrive(NO_ENTRY)
            await expect(page.locator("#plate")).to_have_text(NO_ENTRY)
            await expect(page.locator("#lane-status")).to_contain_text("等待处理")
            await key(page, "q")
            await page.fill("#f-plate", "55555")
            await key(page, "Enter")
            await expect(page.locator("#search-results")).to_contain_text("无匹配入场记录")
            await key(page, "Escape")
            await expect(page.locator("#dialog")).to_be_hidden()
            await key(page, "m")
            await key(page, "Enter")  # no reason: refused
            await expect(page.locator("#dialog-error")).not_to_be_empty()
            await page.fill("#f-reason", "无入场记录, 核实后放行")
            await confirm(page)
            await site.left(before, NO_ENTRY)

            # running totals, then a cash drop of 100.00 into bag TB-0001
            await expect(page.locator("#total-t_expected")).to_have_text("557.00")
            await key(page, "d")
            await page.fill("#f-bag", "TB-0001")
            await page.fill("#drop-10000", "1")
            await confirm(page)
            await expect(page.locator("#total-t_expected")).to_have_text("457.00")

            # close: 447.00 counted (10.00 short), 200 cards on hand, none collected
            await key(page, "k")
            await expect(page.locator("#close-view")).to_be_visible()
            await expect(page.locator("#close-expected")).to_have_text("457.00")
            for denomination, count in {10000: 2, 5000: 2, 2000: 5, 1000: 2, 500: 3, 100: 10, 50: 4}.items():
                await page.fill(f"#count-{denomination}", str(count))
            await expect(page.locator("#close-total")).to_have_text("447.00")
            await expect(page.locator("#close-diff")).to_have_text("-10.00 短款")
            await page.fill("#close-note", "3号岗亭打印机缺纸")
            await page.fill("#close-cards-hand", "200")
            await shot(page, artefacts_dir / "close-count-zh.png")
            await page.press("#close-cards-collected", "Enter")
            await expect(page.locator("#report")).to_be_visible()
            await expect(page.locator("#report-r_difference")).to_contain_text("-10.00 短款")
            await expect(page.locator("#report-r_expected")).to_contain_text("457.00")
            await expect(page.locator("#report-r_counted")).to_contain_text("447.00")
            await expect(page.locator("#report-t_cash")).to_contain_text("2 · 57.00")
            await expect(page.locator("#report-t_epay")).to_contain_text("1 · 5.00")
            await expect(page.locator("#report-r_vehicles")).to_contain_text("6")
            await shot(page, artefacts_dir / "close-zh.png")
            await key(page, "g")
            await expect(page.locator("#report-r_difference")).to_contain_text("-10.00 short")
            await shot(page, artefacts_dir / "close-en.png")

            # the internal payment slip, as the console downloads it
            href = await page.get_attribute("#slip-download", "href")
            assert href is not None
            slip = await page.request.get(f"http://127.0.0.1:{site.daemon.metrics_port}{href}")
            assert slip.status == 200
            (artefacts_dir / "slip.pdf").write_bytes(await slip.body())
            text = pdf_text(await slip.body())
            for expected in ("内部缴款单", "李收费(c01)", "短款", "-10.00", "TB-0001", "人民币壹佰元整"):
                assert expected in text, expected
            assert failures == []
        finally:
            await browser.close()

    # the shift report reached central, with exactly those figures
    def central_report() -> dict[str, Any] | None:
        for record in site.central.records.values():
            if record.kind is RecordKind.SHIFT_REPORT:
                report: dict[str, Any] = record.payload["report"]  # type: ignore[assignment]
                return report
        return None

    await until(lambda: central_report() is not None, within=10, what="shift report at central")
    report = central_report()
    assert report is not None
    assert report["vehicles"] == {  # the green 8-character plate is a new-energy vehicle
        "small": {"free": 1, "lost_card": 1, "manual_open": 1, "paid": 1, "pass": 1}, "new_energy": {"paid": 1},
    }  # fmt: skip
    assert {m: (t["count"], t["amount"]) for m, t in report["by_method"].items()} == {
        "cash": (2, 5700), "epay": (1, 500), "bank_card": (0, 0),
    }  # fmt: skip
    assert report["waivers"] == {"free": {"police": 1}}
    assert report["waived_amount"] == 700
    assert [m["reason"] for m in report["manual_opens"]] == ["无入场记录, 核实后放行"]
    assert report["abnormal_by_kind"] == {"no_entry_record": 1}
    assert (report["barrier_cycles"], report["transactions"], report["unexplained_cycles"]) == (6, 6, 0)
    cash = report["cash"]
    assert (cash["float_amount"], cash["tendered"], cash["change"], cash["taken"]) == (50000, 6000, 300, 5700)
    assert (cash["drops"], cash["expected"], cash["counted_amount"], cash["difference"]) == (10000, 45700, 44700, -1000)
    assert report["handover_note"] == "3号岗亭打印机缺纸"
    assert site.central.chain().value == "ok"
    # one journal record per booth payment: no lane-made transaction beside the booth's
    journal = site.daemon.journal
    assert journal.count("transactions", "lane = 'out-1' AND kind = 'payment'") == 3
    assert journal.count("transactions", "lane = 'out-1' AND json_extract(payload, '$.shift') IS NULL "
                                         "AND kind IN ('payment', 'waiver')") == 0  # fmt: skip
    assert time.monotonic() - started < 60
