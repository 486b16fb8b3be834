"""The driver's page in Debian's Chromium (Playwright) at a phone's size (390×844), against the real central
(uvicorn, PostgreSQL) and the provider simulator: the lane's QR page shows the plate, entry time, breakdown and a
button per provider, in Chinese and in English; paying with WeChat Pay (H5) and Alipay (wap) goes through the
provider's checkout to "paid". Screenshots of every step go to the artefacts."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, ViewportSize, expect, sync_playwright
from sqlalchemy import Engine

from central.core.security import Role
from tests.central.payment_rig import PaymentRig, payment_rig
from tests.central.test_office_browser import CHROMIUM_ARGS

pytestmark = [pytest.mark.browser, pytest.mark.postgres]
PHONE: ViewportSize = {"width": 390, "height": 844}


@pytest.fixture
def rig(central_engine: Engine, postgres_sqlalchemy_url: str, role_tokens: dict[Role, str],
        tmp_path: Path) -> Iterator[PaymentRig]:  # fmt: skip
    with payment_rig(central_engine, postgres_sqlalchemy_url, role_tokens, tmp_path / "keys") as built:
        yield built


def _shot(page: Page, folder: Path, name: str) -> None:
    page.evaluate("document.fonts.ready.then(() => true)")
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


def test_the_driver_pays_from_the_lane_qr_page_in_both_languages(
    rig: PaymentRig, chromium_path: str, artefacts_dir: Path
) -> None:
    rig.quote("out-1", "S-1", 1500, entry="2026-12-01T01:05:00Z")
    rig.quote("out-2", "S-2", 800, plate="粤AD10086", entry="2026-12-01T02:00:00Z")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        try:
            for language, locale, provider, lane in (("zh", "zh-CN", "wechat", "out-1"),
                                                     ("en", "en-US", "alipay", "out-2")):  # fmt: skip
                context = browser.new_context(viewport=PHONE, locale=locale, is_mobile=True, has_touch=True)
                page = context.new_page()
                page.goto(f"{rig.central}/pay/lane/lakeview/{lane}")
                plate = "粤B3R7K2" if lane == "out-1" else "粤AD10086"
                expect(page.locator("[data-plate]")).to_have_text(plate)
                assert "粤B3R7K2" not in page.content() or lane == "out-1"  # only this lane's vehicle
                if language == "zh":
                    expect(page.locator("caption")).to_have_text("费用明细")
                    expect(page.locator("[data-total]")).to_have_text("15.00 CNY")
                    expect(page.get_by_text("入场时间")).to_be_visible()
                    expect(page.locator("button.wechat")).to_have_text("使用微信支付付款")
                else:
                    expect(page.locator("caption")).to_have_text("Breakdown")
                    expect(page.locator("[data-total]")).to_have_text("8.00 CNY")
                    expect(page.locator("button.alipay")).to_have_text("Pay with Alipay")
                _shot(page, artefacts_dir, f"lane-{language}")
                page.click(f"button.{provider}")
                expect(page.locator("[data-state=waiting]")).to_be_visible()
                _shot(page, artefacts_dir, f"order-{language}")
                page.click(f"a.provider.{provider}")  # the provider's checkout on the phone
                page.click("#confirm")
                expect(page.locator("#result")).to_have_attribute("data-central", "200")
                page.go_back()
                page.go_back()
                page.reload()
                expect(page.locator("[data-state=paid]")).to_be_visible()
                _shot(page, artefacts_dir, f"paid-{language}")
                page.goto(f"{rig.central}/pay/lane/lakeview/out-9")
                expect(page.locator(".note")).to_contain_text("此出口当前没有" if language == "zh" else "No vehicle")
                _shot(page, artefacts_dir, f"no-vehicle-{language}")
                context.close()
        finally:
            browser.close()
    assert len(rig.settlements()) == 2
