"""The driver's receipt: ESC/POS bytes checked against the command set, sent over a real socket, and as PDF."""

from __future__ import annotations

import asyncio
import io
import re
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from pypdf import PdfReader

from drivers.escpos.decode import Command, Text, decode, printed_text
from drivers.escpos.transport import NetworkPrinter
from edge.booth.booth import Booth
from edge.booth.receipt import DriverReceipt, duration_text, receipt_escpos, receipt_pdf
from edge.booth.records import PaymentTaken
from tests.edge.booth.test_shift import T0, Clock, open_shift

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def payment() -> PaymentTaken:
    clock = Clock(T0 + timedelta(hours=2, minutes=5))
    shift = open_shift(Booth("B1", "lakeview", clock=clock))
    return shift.take_payment(
        operator="c01", lane="X1 东门出口", amount=1500, method="cash", tendered=2000, plate="粤B3R7K2",
        entry_at=T0, tariff_id="standard", lines=[("首小时", 500), ("续时 2小时 × 5.00", 1000)],
    )  # fmt: skip


@pytest.fixture
def receipt(payment: PaymentTaken) -> DriverReceipt:
    return DriverReceipt.from_payment(payment, car_park_name="湖景花园停车场", zone=SHANGHAI)


def test_receipt_rows(receipt: DriverReceipt) -> None:
    assert receipt.number == "B1-20261127-0001"
    assert receipt.rows() == [
        ("凭证号", "B1-20261127-0001"), ("车牌", "粤B3R7K2"), ("车道", "X1 东门出口"),
        ("入场时间", "2026-11-27 08:00"), ("出场时间", "2026-11-27 10:05"), ("停车时长", "2小时05分"),
    ]  # fmt: skip
    assert receipt.payment_rows() == [
        ("应收", "15.00"), ("实收", "20.00"), ("找零", "5.00"), ("支付方式", "现金"), ("收费员", "c01"),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("duration", "text"),
    [(timedelta(seconds=59), "0分"), (timedelta(minutes=45), "45分"), (timedelta(days=1, minutes=3), "24小时03分")],
)
def test_duration_text(duration: timedelta, text: str) -> None:
    assert duration_text(duration) == text


def test_receipt_escpos_command_stream(receipt: DriverReceipt) -> None:
    job = receipt_escpos(receipt, qr="https://invoice.example/B1-20261127-0001")
    assert job.startswith(b"\x1b\x40\x1c\x26")  # ESC @, then FS & (Chinese mode) before any text
    assert job.endswith(b"\x1d\x56\x41\x30")  # GS V 65 48: feed and full cut, last
    items = decode(job)
    names = [i.name for i in items if isinstance(i, Command)]
    assert names.count("init") == 1
    assert ("align", b"\x01") in [(i.name, i.args) for i in items if isinstance(i, Command)]
    assert Command("size", b"\x11") in items  # the car park's name at double width and height
    assert Command("mode", b"\x18") in items  # 实收 in bold, double height
    assert Command("qr_store", b"https://invoice.example/B1-20261127-0001") in items
    assert names.index("qr_store") < names.index("qr_print") < names.index("cut")
    first_text = next(index for index, item in enumerate(items) if isinstance(item, Text))
    assert items.index(Command("chinese_on")) < first_text
    text = printed_text(items)
    assert "湖景花园停车场\n停车收费凭证\n" in text
    for pattern in (
        r"车牌 +粤B3R7K2\n", r"入场时间 +2026-11-27 08:00\n", r"出场时间 +2026-11-27 10:05\n",
        r"停车时长 +2小时05分\n", r"续时 2小时 × 5.00 +10\.00\n", r"应收 +15\.00\n", r"实收 +20\.00\n",
        r"找零 +5\.00\n", r"支付方式 +现金\n", r"凭证号 +B1-20261127-0001\n",
    ):  # fmt: skip
        assert re.search(pattern, text), pattern
    assert "粤B3R7K2".encode("gb18030") in job


def test_epayment_receipt_shows_the_reference(payment: PaymentTaken) -> None:
    epay = payment.model_copy(update={"method": "epay", "tendered": 1500, "change": 0, "reference": "WX42000"})
    text = printed_text(decode(receipt_escpos(DriverReceipt.from_payment(epay, car_park_name="P", zone=SHANGHAI))))
    assert re.search(r"支付方式 +电子支付\n", text)
    assert re.search(r"交易号 +WX42000\n", text)
    assert "找零" not in text


async def test_receipt_reaches_a_printer_over_tcp(receipt: DriverReceipt) -> None:
    received: asyncio.Queue[bytes] = asyncio.Queue()

    async def printer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await received.put(await reader.read())
        writer.close()

    server = await asyncio.start_server(printer, "127.0.0.1", 0)
    async with server:
        job = receipt_escpos(receipt, columns=48)
        await NetworkPrinter("booth-printer", "127.0.0.1", server.sockets[0].getsockname()[1]).print_job(job)
        got = await asyncio.wait_for(received.get(), 5)
    assert got == job
    assert "粤B3R7K2" in printed_text(decode(got))


def test_receipt_pdf(receipt: DriverReceipt, artefacts_dir: Path) -> None:
    data = receipt_pdf(receipt)
    (artefacts_dir / "driver-receipt.pdf").write_bytes(data)
    reader = PdfReader(io.BytesIO(data))
    # see test_booth_slip.pdf_text for why NULs are removed
    text = re.sub(r"[\s\x00]+", "", "".join(page.extract_text() for page in reader.pages))
    for expected in (
        "湖景花园停车场", "停车收费凭证", "凭证号B1-20261127-0001", "车牌粤B3R7K2", "停车时长2小时05分",
        "首小时5.00", "应收15.00", "实收20.00", "找零5.00", "支付方式现金",
    ):  # fmt: skip
        assert expected in text, expected
