"""The report pages in Debian's Chromium (Playwright) against a real central (uvicorn) on PostgreSQL, after a day
driven through the real lanes was ingested: the supervisor opens each report in both languages, the charts are
drawn (SVG, nothing fetched from elsewhere), an export link downloads its table; screenshots of each page go to the
artefacts."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from playwright.sync_api import expect, sync_playwright

from tests.central import test_office_browser
from tests.central.conftest import Operators
from tests.central.test_office_browser import CHROMIUM_ARGS, _sign_in
from tests.central.test_reports import send_day

pytestmark = [pytest.mark.browser, pytest.mark.postgres]
served = test_office_browser.served  # central on a free port (a fixture)

REPORTS = {
    "revenue": ("营收", "Revenue"),
    "traffic": ("车流与占用", "Traffic and occupancy"),
    "exceptions": ("异常", "Exceptions"),
    "vehicle-log": ("免费与特殊车辆", "Free and special vehicles"),
    "device-faults": ("设备故障", "Device faults"),
}
CHARTS = {"revenue": 1, "traffic": 1, "exceptions": 1, "vehicle-log": 0, "device-faults": 0}


def test_each_report_in_both_languages_with_its_charts(
    app: FastAPI,
    served: str,
    as_role: Operators,
    tmp_path: Path,
    chromium_path: str,
    artefacts_dir: Path,
) -> None:
    with TestClient(app) as api:
        send_day(api, as_role.admin, tmp_path)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="zh-CN",
                                          accept_downloads=True)  # fmt: skip
            page = context.new_page()
            outside: list[str] = []
            page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(served) else None)
            _sign_in(page, served, "supervisor")
            expect(page.locator('nav.side a[href="/office/reports/revenue"]')).to_have_text("营收")
            for language, link in (("zh", None), ("en", "English")):
                if link:
                    page.locator("nav.languages a", has_text=link).click()
                for slug, titles in REPORTS.items():
                    params = "day=2026-11-27" if slug in ("revenue", "traffic", "device-faults") else "month=2026-11"
                    page.goto(f"{served}/office/reports/{slug}?car_park=lakeview&{params}")
                    expect(page.locator("h1")).to_have_text(titles[0 if language == "zh" else 1])
                    expect(page.locator("figure.chart svg")).to_have_count(CHARTS[slug])
                    page.evaluate("document.fonts.ready.then(() => true)")
                    page.screenshot(path=str(artefacts_dir / f"report-{slug}-{language}.png"), full_page=True)
                    for index in range(CHARTS[slug]):
                        page.locator("figure.chart").nth(index).screenshot(
                            path=str(artefacts_dir / f"report-{slug}-chart-{language}.png")
                        )
            page.goto(f"{served}/office/reports/revenue?car_park=lakeview&day=2026-11-27")
            expect(page.locator('[data-table="by_method"] td[data-column="taken"]').first).to_have_text("15.00")
            with page.expect_download() as download:
                page.locator("#table-by_method a[data-export=xlsx]").click()
            assert download.value.suggested_filename == "revenue-by_method-2026-11-27.xlsx"
            assert outside == []
        finally:
            browser.close()
