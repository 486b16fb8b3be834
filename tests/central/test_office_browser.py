"""The office console in Debian's Chromium (Playwright) against a real central (uvicorn on a free port) on
PostgreSQL: the front desk signs in, registers a unit and a holder, sells a pass with a card read by the desk's
keyboard-wedge reader, marks the card lost (the dialog closes on Esc, asks for a reason) and replaces it; a
forbidden page answers 403 and its link is hidden; a form posted without its CSRF token is refused. The supervisor
opens a shift with a cash shortage and a fee re-check difference (journals the real edge code wrote), flags it with
a note and signs off another; the cashier records a bag's pick-up. The cashier takes a partial payment with a note and
prints its receipt, records a mandate, runs the month's debit batch and downloads its file, imports the bank's result
(a bad file first, named by line and column) and sees the failed line with the bank's reason. One Chromium for the
module. Screenshots of each main page in both languages go to the artefacts, with the printed reconciliation and
receipt as PDFs."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from playwright.sync_api import Browser, Page, expect, sync_playwright
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from central.models import AccessCard, Invoice, MonthlyPass, ShiftReview
from simulators.camera import render_plate
from tests import services
from tests.central.billing_scenario import sell_pass
from tests.central.conftest import PASSWORD, Operators
from tests.central.edge_site import DAY, EdgeSite
from tests.central.scenario import make_plan, make_site, ok
from tests.central.test_billing_debit import RULE, mandate, result_file
from tests.central.test_reconciliation import plain_shift
from tests.services import serving

pytestmark = [pytest.mark.browser, pytest.mark.postgres]

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One Chromium for the module's tests (each test opens its own contexts in it)."""
    services.require(services.chromium_available(), f"Chromium not found at {services.CHROMIUM}")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=services.CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def served(app: FastAPI) -> Iterator[str]:
    with serving(app) as url:
        yield url


def _sign_in(page: Page, base: str, username: str) -> None:
    page.goto(f"{base}/office/sign-in")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.press("#password", "Enter")


def _shots(page: Page, base: str, folder: Path, name: str, paths: list[str]) -> list[Path]:
    """Each page in Chinese and in English (switched by the language link), at 1366x768, full page: the files."""
    taken = []
    for language, link in (("zh", "中文"), ("en", "English")):
        page.goto(f"{base}{paths[0]}")
        switch = page.locator("nav.languages a", has_text=link)
        if switch.count():
            switch.click()
        for path in paths:
            page.goto(f"{base}{path}")
            slug = path.strip("/").replace("/", "-").split("?")[0] or "office"
            page.evaluate("document.fonts.ready.then(() => true)")  # the CJK font central serves
            taken.append(folder / f"{name}-{slug}-{language}.png")
            page.screenshot(path=str(taken[-1]), full_page=True)
    return taken


def test_the_front_desk_sells_a_pass_with_a_card_then_the_card_is_lost_and_replaced(
    app: FastAPI, served: str, as_role: Operators, central_engine: Engine, browser: Browser, artefacts_dir: Path
) -> None:
    with TestClient(app) as api:
        make_plan(api, as_role.admin, price=30000)
    context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="zh-CN")
    page = context.new_page()
    page.goto(f"{served}/office/sign-in")
    page.evaluate("document.fonts.ready.then(() => true)")
    page.screenshot(path=str(artefacts_dir / "sign-in-zh.png"))
    _sign_in(page, served, "front_desk")
    expect(page).to_have_url(f"{served}/office/desk")
    expect(page.locator("h1")).to_have_text("查找持卡人")
    # The supervisor's pages are not in the front desk's navigation, and answer 403.
    expect(page.locator('nav.side a[href="/office/audit"]')).to_have_count(0)
    refused = page.goto(f"{served}/office/audit")
    assert refused is not None
    assert refused.status == 403
    expect(page.locator("p.problem")).to_contain_text("您的角色无权打开此页面")

    page.goto(f"{served}/office/units")
    page.fill("#building", "3")
    page.fill("#room", "1201")
    page.press("#room", "Enter")
    expect(page.locator("p.notice")).to_be_visible()

    page.goto(f"{served}/office/holders/new")
    page.click("button[type=submit] >> text=登记")  # empty name: refused beside the field
    expect(page.locator("#name-error")).to_have_text("此项必填。")
    page.fill("#name", "王小明")
    page.fill("#phone", "13800000000")
    page.select_option("#unit_id", label="3-1201")
    page.press("#name", "Enter")
    expect(page.locator("p.notice")).to_have_text("持卡人已登记。")

    # The sale: the card number comes from the desk reader, which types it and presses Enter.
    page.fill("#sale-plates", "粤B·3R7K2")
    page.fill("#sale-months", "3")
    page.fill("#sale-reason", "新住户")
    page.focus("#sale-card_number")
    page.keyboard.type("0012345678", delay=5)
    page.keyboard.press("Enter")
    expect(page.locator("p.notice")).to_contain_text("月租卡已办理")
    expect(page.locator("tr[data-pass] td").first).to_have_text("粤B3R7K2")
    expect(page.locator('tr[data-card="0012345678"] .status')).to_have_text("有效")

    # Lost: the dialog opens, Esc closes it; a reason is asked for, then the card is lost.
    card_row = page.locator('tr[data-card="0012345678"]')
    card_row.locator("button[data-dialog]", has_text="挂失").click()
    dialog = page.locator("dialog[open]")
    expect(dialog).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.locator("dialog[open]")).to_have_count(0)
    card_row.locator("button[data-dialog]", has_text="挂失").click()
    page.locator("dialog[open] button[type=submit]").click()
    expect(page.locator("dialog[open] p.error")).to_have_text("请填写原因：原因将记入审计日志。")
    page.locator("dialog[open] input[name=reason]").fill("电梯里丢失")
    page.locator("dialog[open] input[name=reason]").press("Enter")
    expect(page.locator("p.notice")).to_contain_text("卡已挂失")
    expect(page.locator('tr[data-card="0012345678"] .status')).to_have_text("已挂失")

    # Replace the lost card with a new one read at the desk.
    page.locator('tr[data-card="0012345678"] button[data-dialog]', has_text="换卡").click()
    page.locator("dialog[open] input[name=reason]").fill("补办新卡")
    page.locator("dialog[open] input[name=number]").focus()
    page.keyboard.type("0087654321", delay=5)
    page.keyboard.press("Enter")
    expect(page.locator("p.notice")).to_have_text("已换发新卡。")
    expect(page.locator('tr[data-card="0087654321"] .status')).to_have_text("有效")
    holder_path = page.url.split(served, 1)[1].split("?")[0]

    # A POST without the CSRF token is refused with a page that says why.
    answer = page.evaluate(
        """async () => { const r = await fetch('/office/units', {method: 'POST',
               body: new URLSearchParams({building: '9', room: '9'})}); return [r.status, await r.text()]; }"""
    )
    assert answer[0] == 403
    assert "安全令牌" in answer[1]

    taken = _shots(page, served, artefacts_dir, "front-desk",
                   ["/office/desk?q=王", holder_path, "/office/holders/new", "/office/units", "/office/vehicles",
                    "/office/reminders", "/office/renewals/today"])  # fmt: skip
    context.close()
    context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="en-US")
    page = context.new_page()
    page.goto(f"{served}/office/sign-in")  # English from the browser's Accept-Language
    expect(page.locator("h1")).to_have_text("Sign in")
    page.evaluate("document.fonts.ready.then(() => true)")
    page.screenshot(path=str(artefacts_dir / "sign-in-en.png"))
    context.close()

    for role, paths in (("supervisor", ["/office/supervisor", "/office/audit", "/office/chain-breaks"]),
                        ("office", ["/office/finance"]),
                        ("admin", ["/office/users"])):  # fmt: skip
        context = browser.new_context(viewport={"width": 1366, "height": 768})
        page = context.new_page()
        _sign_in(page, served, role)
        expect(page).to_have_url(f"{served}{paths[0]}")
        taken += _shots(page, served, artefacts_dir, role, paths)
        context.close()

    with Session(central_engine) as session:
        cards = {card.number: card.status for card in session.scalars(select(AccessCard))}
        assert cards == {"0012345678": "lost", "0087654321": "active"}
        assert session.scalars(select(MonthlyPass.card_number)).one() == "0087654321"
    # This test's own pages, each in both languages (the folder holds other tests' pictures and earlier runs' too).
    assert all(path.exists() for path in taken)
    zh = {path.name.removesuffix("-zh.png") for path in taken if path.name.endswith("-zh.png")}
    en = {path.name.removesuffix("-en.png") for path in taken if path.name.endswith("-en.png")}
    assert zh == en
    assert len(zh) == 12  # seven front-desk pages, three supervisor, one office, one admin


def test_the_supervisor_flags_a_short_shift_and_signs_off_another(
    app: FastAPI, served: str, as_role: Operators, central_engine: Engine, browser: Browser, artefacts_dir: Path,
    tmp_path: Path,
) -> None:  # fmt: skip
    app.state.settings.edge_images_dir = str(tmp_path / "images")
    picture = "2026-11-27/0193f1c2-entry-plate.jpg"
    with TestClient(app) as api:
        lakeview = make_site(api, as_role.admin)
        (tmp_path / "lakeview").mkdir()
        edge = EdgeSite(tmp_path / "lakeview", lakeview, cut_rate=True)  # fees cut below the tariff
        edge.open_shift("c01")
        edge.enter("粤B10001", image=picture)
        edge.tick(2 * 3600)
        edge.leave_paying("粤B10001", "c01", "cash", 2000)
        short = edge.close("c01", short=1000)
        edge.push(api)
        ok(api.post(f"/api/v1/edges/images/{picture}", content=render_plate("粤B10001"),
                    headers=lakeview.edge_headers))  # fmt: skip
        (tmp_path / "harbour").mkdir()
        harbour = EdgeSite(tmp_path / "harbour", make_site(api, as_role.admin, car_park="harbour"))
        clean = plain_shift(harbour, "c02", bag="TB-0001")
        harbour.push(api)
    context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="zh-CN")
    page = context.new_page()
    _sign_in(page, served, "supervisor")
    expect(page).to_have_url(f"{served}/office/supervisor")
    page.click('nav.side a[href="/office/reconciliation"]')
    expect(page.locator("h1")).to_have_text("对账队列")
    page.fill("#day", DAY)
    page.press("#day", "Enter")
    to_review = page.locator('section[data-state="to_review"]')
    expect(to_review.locator("tr[data-shift]")).to_have_count(2)
    to_review.locator(f'tr[data-shift="{short.id}"] a').click()

    # One page: the figures side by side, the shortage, both fee breakdowns, the entry picture.
    expect(page.locator('article[data-finding="cash.shortage"]')).to_contain_text("短款 10.00 CNY。")
    expect(page.locator('tr[data-figure="difference"] td.attention')).to_have_text("-10.00")
    recheck = page.locator('article[data-finding="fee.charged_below_tariff"]')
    expect(recheck.locator('table[data-breakdown="edge"]')).to_be_visible()
    expect(recheck.locator('table[data-breakdown="central"] tbody tr').first).to_be_visible()
    image = recheck.locator("figure.evidence img")
    expect(image).to_be_visible()
    assert image.evaluate("img => img.naturalWidth") > 0

    page.click("button[value=flagged]")  # no note: refused beside the field
    expect(page.locator("#note-error")).to_have_text("请填写备注：标记待查、或签核有异常的班次需要备注。")
    page.fill("#note", "短款10元，收费低于标准，约谈收费员")
    page.click("button[value=flagged]")
    expect(page.locator("p.notice")).to_have_text("班次已标记待查，并附您的备注。")
    expect(page.locator("span[data-state]")).to_have_text("已标记待查")
    expect(page.locator('article[data-finding="cash.shortage"]')).to_be_visible()  # still shown
    shift_path = f"/office/reconciliation/shifts/{short.id}"
    page.emulate_media(media="print")
    page.pdf(path=str(artefacts_dir / "reconciliation-shift-print.pdf"), format="A4")
    page.emulate_media(media="screen")

    page.goto(f"{served}/office/reconciliation/shifts/{clean.id}")
    # Its cash balances and its fees agree; only its bag waits for the cashier (days ago): a note says so.
    expect(page.locator("article.finding.exception")).to_have_attribute("data-finding", "bag.not_picked_up")
    page.fill("#note", "现金无误，款包由出纳今日取包")
    page.click("button[value=signed_off]")
    expect(page.locator("p.notice")).to_have_text("班次已签核。")
    day_path = f"/office/reconciliation/days/harbour/{DAY}"
    page.goto(f"{served}{day_path}")
    expect(page.locator("ul.why li")).to_have_text("款包 TB-0001：已投包，待取包。")  # open: the bag
    _shots(
        page,
        served,
        artefacts_dir,
        "supervisor",
        [f"/office/reconciliation?day={DAY}", shift_path, day_path, "/office/bags/harbour/TB-0001"],
    )
    context.close()

    context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="zh-CN")
    page = context.new_page()
    _sign_in(page, served, "cashier")
    page.click('nav.side a[href="/office/bags"]')
    page.locator('tr[data-bag="TB-0001"] a').click()
    page.fill("#witness", "supervisor")
    page.press("#witness", "Enter")
    expect(page.locator("p.notice")).to_have_text("取包已登记。")
    expect(page.locator("#d10000")).to_be_visible()  # the count comes next
    _shots(page, served, artefacts_dir, "cashier", ["/office/bags", "/office/bags/harbour/TB-0001"])
    context.close()
    with Session(central_engine) as session:
        reviews = {r.shift: (r.state, r.decided_by) for r in session.scalars(select(ShiftReview))}
        assert reviews == {short.id: ("flagged", "supervisor"), clean.id: ("signed_off", "supervisor")}


def test_the_cashier_takes_a_partial_payment_then_runs_a_debit_batch_and_sees_its_failure(
    app: FastAPI, served: str, as_role: Operators, central_engine: Engine, browser: Browser, artefacts_dir: Path,
) -> None:  # fmt: skip
    with TestClient(app) as api:
        sales = [sell_pass(api, as_role, rule=RULE, price=30000 + index * 100, name=name, plate=plate)
                 for index, (name, plate) in enumerate([("王小明", "粤B3R7K2"), ("李华", "粤B5K8M1"),
                                                        ("张伟", "粤BD12345")])]  # fmt: skip
        for index, sale in enumerate(sales[:2]):
            ok(mandate(api, as_role, sale.holder, "cn", f"6222 0202 0000 123{index}", f"ICBC-M-{index}",
                       ["王小明", "李华"][index]), 201)  # fmt: skip
    context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="zh-CN", accept_downloads=True)
    page = context.new_page()
    _sign_in(page, served, "cashier")
    expect(page).to_have_url(f"{served}/office/cashier")

    # A partial payment by bank transfer, with a note, then its receipt printed and as PDF.
    page.click('nav.side a[href="/office/invoices"]')
    page.locator(f'tr[data-invoice="{sales[0].invoice["number"]}"] a').click()
    page.select_option("#method", "bank_transfer")
    page.fill("#amount", "100.00")
    page.fill("#reference", "TRF-20261201")
    page.fill("#note", "业主子女代付")
    page.press("#note", "Enter")
    expect(page.locator("p.notice")).to_have_text("付款已记录：请打印收据。")
    expect(page.locator("main")).to_contain_text("100.00 CNY")
    receipt_path = page.url.split(served, 1)[1].split("?")[0]
    page.emulate_media(media="print")
    page.pdf(path=str(artefacts_dir / "receipt-print.pdf"), format="A5")
    page.emulate_media(media="screen")
    pdf = page.request.get(served + str(page.locator("a[data-pdf]").get_attribute("href")))
    assert pdf.ok
    assert pdf.body().startswith(b"%PDF")
    (artefacts_dir / "receipt.pdf").write_bytes(pdf.body())
    page.goto(f"{served}/office/invoices/{sales[0].invoice['id']}")
    expect(page.locator("dd[data-owed]")).to_have_text("200.00 CNY")
    expect(page.locator('tr[data-action="payment.take"]')).to_contain_text("业主子女代付")
    invoice_path = f"/office/invoices/{sales[0].invoice['id']}"

    # The third holder's mandate at the desk: a mistyped account is refused beside the field.
    holder_path = f"/office/mandates/holders/{sales[2].holder}"
    page.click('nav.side a[href="/office/mandates"]')
    page.fill("#q", "张伟")
    page.press("#q", "Enter")
    page.locator(f'a[href="{holder_path}"]').first.click()
    page.fill("#bank", "中国工商银行")
    page.fill("#account_number", "6222 0202")
    page.fill("#reference", "ICBC-M-2")
    page.press("#reference", "Enter")
    expect(page.locator("#account_number-error")).to_have_text("国内银行账号为 12 至 25 位数字。")
    page.fill("#account_number", "6222 0202 0000 1232")
    page.press("#account_number", "Enter")
    expect(page.locator("p.notice")).to_contain_text("代扣协议已登记")

    # The month's run, its file downloaded; the bank's answer: one debited, one failed, one line unknown.
    page.click('nav.side a[href="/office/debit-runs"]')
    page.select_option("#profile", "cn-icbc-gbk")
    page.click("button >> text=生成批次")
    expect(page.locator("p.notice")).to_have_text("批次已生成：请下载文件并发送给银行。")
    batch_path = page.url.split(served, 1)[1].split("?")[0]
    with page.expect_download() as download:
        page.click("a[data-download]")
    rows = list(csv.reader(io.StringIO(Path(download.value.path()).read_bytes().decode("gbk"))))
    assert [(row[2], row[3]) for row in rows[1:]] == [("王小明", "200.00"), ("李华", "301.00"), ("张伟", "302.00")]
    refs = [row[0] for row in rows[1:]]
    answer = result_file([[refs[0], rows[1][1], "200.00", "0000", ""],
                          [refs[1], rows[2][1], "301.00", "3008", "余额不足"],
                          ["DD20999999999999", "6222000000000000", "5.00", "0000", ""]])  # fmt: skip
    page.click('nav.side a[href="/office/debit-runs"]')
    page.select_option("#result_profile", "cn-icbc-gbk")
    bad = result_file([[refs[0], rows[1][1], "200.01", "0000", ""]])
    page.set_input_files("#result_file", {"name": "icbc-bad.csv", "mimeType": "text/csv", "buffer": bad})
    page.click("button >> text=导入")
    expect(page.locator("#result_file-error")).to_contain_text("icbc-bad.csv，第 2 行，列 金额：")
    page.set_input_files("#result_file", {"name": "icbc-result.csv", "mimeType": "text/csv", "buffer": answer})
    page.click("button >> text=导入")
    expect(page.locator("p.notice")).to_have_text("回盘文件已导入。")
    failed = page.locator(f'tr[data-line="{refs[1]}"]')
    expect(failed.locator(".status")).to_have_text("失败")
    expect(failed.locator("td.reason")).to_have_text("3008 · 余额不足")
    expect(page.locator(f'tr[data-line="{refs[0]}"] .status')).to_have_text("扣款成功")
    expect(page.locator('tr[data-unmatched="DD20999999999999"]')).to_be_visible()
    result_path = page.url.split(served, 1)[1].split("?")[0]
    page.goto(f"{served}{batch_path}")
    expect(page.locator("dd[data-credited]")).to_have_text("1 · 200.00 CNY")
    expect(page.locator("dd[data-failed]")).to_have_text("1 · 301.00 CNY")
    _shots(page, served, artefacts_dir, "cashier",
           ["/office/cashier", "/office/invoices", invoice_path, receipt_path, "/office/mandates", holder_path,
            "/office/debit-runs", batch_path, result_path, "/office/drawer", "/office/refunds", "/office/arrears",
            "/office/statistics"])  # fmt: skip
    context.close()
    with Session(central_engine) as session:
        invoices = {i.id: (i.status, i.paid_minor) for i in session.scalars(select(Invoice))}
    assert invoices == {sales[0].invoice["id"]: ("paid", 30000), sales[1].invoice["id"]: ("open", 0),
                        sales[2].invoice["id"]: ("open", 0)}  # fmt: skip


def test_the_supervisor_answers_a_data_subject_request_and_downloads_it(
    app: FastAPI, served: str, as_role: Operators, browser: Browser, artefacts_dir: Path, tmp_path: Path
) -> None:
    app.state.settings.edge_images_dir = str(tmp_path / "images")
    picture = "2026-11-27/0193f1c3-entry-plate.jpg"
    with TestClient(app) as api:
        site = make_site(api, as_role.admin)
        edge = EdgeSite(tmp_path, site)
        edge.open_shift("c01")
        edge.enter("粤B10001", image=picture)
        edge.tick(3600)
        edge.leave_paying("粤B10001", "c01", "cash", 1000)
        edge.close("c01")
        edge.push(api)
        ok(api.post(f"/api/v1/edges/images/{picture}", content=render_plate("粤B10001"), headers=site.edge_headers))
    context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="zh-CN")
    page = context.new_page()
    _sign_in(page, served, "supervisor")
    page.click('nav.side a[href="/office/plate-records"]')
    page.fill("#plate", "粤b10001")
    page.fill("#reason", "DSR-7: the owner asked by mail")
    page.click("form.record button[type=submit]")
    expect(page.locator("section.plate-found h2")).to_have_text("车牌 粤B10001")
    expect(page.locator("table.plate-records")).to_contain_text("中心已保存")
    page.screenshot(path=str(artefacts_dir / "office-plate-records-zh.png"), full_page=True)
    with page.expect_download() as download:
        page.click('form.downloads button[value="json"]')
    exported = json.loads(Path(download.value.path()).read_bytes())
    assert exported["plate"] == "粤B10001"
    assert len(exported["transactions"]) == 1
    context.close()
