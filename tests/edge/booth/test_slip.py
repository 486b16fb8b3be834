"""The internal payment slip of issue 7's shift, as PDF (text read back with pypdf) and as ESC/POS."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from pypdf import PdfReader

from drivers.escpos.decode import Command, decode, printed_text
from edge.booth.booth import Booth
from edge.booth.fonts import FONT_ENV, MissingFontError, find_cjk_font
from edge.booth.handover import handover_escpos
from edge.booth.slip import PaymentSlip, slip_escpos, slip_pdf
from tests.edge.booth.test_shift import Clock, run_the_day

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture(scope="module")
def slip() -> PaymentSlip:
    clock = Clock()
    shift, _ = run_the_day(Booth("B1", "lakeview", clock=clock), clock)
    assert shift.report is not None
    return PaymentSlip.from_report(
        shift.report, number="JK-20261127-B1-01", zone=SHANGHAI, car_park_name="湖景花园停车场",
        operator_name="李收费(c01)", closing_bag="TB-0002",
    )  # fmt: skip


def pdf_text(data: bytes) -> str:
    """The PDF's text with pypdf, whitespace removed.

    fpdf2 embeds CFF (OpenType) fonts with a two-byte CMap given as a stream; pypdf reads its codes one byte at
    a time and yields a NUL before each character (poppler's pdftotext reads the same file exactly), so NULs go.
    """
    reader = PdfReader(io.BytesIO(data))
    return re.sub(r"[\s\x00]+", "", "".join(page.extract_text() for page in reader.pages))


def test_slip_figures(slip: PaymentSlip) -> None:
    assert slip.total == 10500  # bag TB-0001 100.00 + closing cash 505.00 - float 500.00
    assert slip.total_in_words == "人民币壹佰零伍元整"
    assert [(b.bag, b.amount) for b in slip.bags] == [("TB-0001", 10000), ("TB-0002", 500)]
    assert [(i.label, i.count, i.amount) for i in slip.items] == [
        ("停车费(现金)", 2, 11500),
        ("停车费(电子支付, 不在缴款内)", 1, 1000),
        ("短款", None, -1000),
    ]
    assert slip.shift_times == "2026-11-27 08:00 至 2026-11-27 15:57"


def test_slip_pdf_text(slip: PaymentSlip, artefacts_dir: Path) -> None:
    data = slip_pdf(slip)
    (artefacts_dir / "internal-payment-slip.pdf").write_bytes(data)
    assert data.startswith(b"%PDF-")
    text = pdf_text(data)
    for expected in (
        "内部缴款单", "JK-20261127-B1-01", "湖景花园停车场", "李收费(c01)", "2026-11-2708:00至2026-11-2715:57",
        "停车费(现金)", "115.00", "短款", "-10.00", "TB-0001", "100.00", "TB-0002", "5.00",
        "缴款合计(小写):¥105.00", "缴款合计(大写):人民币壹佰零伍元整", "缴款人(签字)", "收款人(签字)", "主管(签字)",
    ):  # fmt: skip
        assert expected in text, expected
    if shutil.which("pdftotext"):  # a second, independent reader where Debian's poppler-utils is installed
        path = artefacts_dir / "internal-payment-slip.pdf"
        poppler = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout
        assert "缴款合计(大写): 人民币壹佰零伍元整" in poppler


def test_slip_escpos(slip: PaymentSlip) -> None:
    job = slip_escpos(slip)
    items = decode(job)
    assert items[:2] == [Command("init"), Command("chinese_on")]
    assert Command("cut", b"\x41\x30") == items[-1]
    text = printed_text(items)
    assert "人民币壹佰零伍元整" in text
    assert "投包 TB-0001" in text
    assert re.search(r"缴款合计 +￥105\.00\n", text)
    assert re.search(r"短款 +-10\.00\n", text)
    for line in text.splitlines():
        assert sum(2 if ord(c) >= 0x80 else 1 for c in line) <= 32, line


def test_font_lookup(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    found = find_cjk_font()
    assert found.path.is_file()
    monkeypatch.setenv(FONT_ENV, str(found.path) + "#0")
    assert find_cjk_font().path == found.path
    monkeypatch.setenv(FONT_ENV, str(tmp_path / "nope.ttf"))
    with pytest.raises(MissingFontError, match="no such font file"):
        find_cjk_font()


def test_handover_printout() -> None:
    clock = Clock()
    shift, _ = run_the_day(Booth("B1", "lakeview", clock=clock), clock)
    assert shift.report is not None
    job = handover_escpos(shift.report, zone=SHANGHAI, car_park_name="湖景花园停车场")
    items = decode(job)
    assert items[:2] == [Command("init"), Command("chinese_on")]
    assert items[-1].name == "cut"  # type: ignore[union-attr]
    text = printed_text(items)
    assert "交接班记录\n湖景花园停车场\n" in text
    assert "11-27 08:00 至 11-27 15:57" in text
    for pattern in (
        r"小型车 缴费 +2\n", r"小型车 月租车 +1\n", r"小型车 遗失卡 +1\n", r"现金 ×2 +115\.00\n",
        r"电子支付 ×1 +10\.00\n",
        r"收费合计 +125\.00\n", r"免费车 police +1\n", r"手动开闸 +1\n", r"异常事件 +1\n", r"道闸起落/交易 +6/6\n",
        r"应有现金 +515\.00\n", r"清点现金 +505\.00\n", r"短款 +-10\.00\n", r"临时卡 应有/实有 +199/199\n",
        r"交接说明:\n3号岗亭打印机缺纸\n",
    ):  # fmt: skip
        assert re.search(pattern, text), pattern
