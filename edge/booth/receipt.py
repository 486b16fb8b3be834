"""The driver's receipt (停车收费凭证): the fee with its breakdown, for an ESC/POS printer and as PDF.

Made from a :class:`~edge.booth.records.PaymentTaken`: entry and exit time, the duration, the tariff lines, the
total, what was paid and the change, the method (and reference), plate, lane and the receipt number. Times are
shown in the car park's zone. An optional QR code (e.g. a link to an e-invoice) goes at the foot of the printout.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from drivers.escpos.commands import Align, EscPos, Mode
from edge.booth.fonts import FAMILY, CjkFont, cjk_document
from edge.booth.records import PaymentTaken
from parking.money import format_amount

METHOD_LABELS = {"cash": "现金", "epay": "电子支付", "bank_card": "银行卡"}


def duration_text(duration: timedelta) -> str:
    """``2小时05分`` (days shown as hours past 24: ``26小时00分``); under a minute is ``0分``."""
    minutes = int(duration.total_seconds() // 60)
    hours, minutes = divmod(max(minutes, 0), 60)
    return f"{hours}小时{minutes:02d}分" if hours else f"{minutes}分"


@dataclass(frozen=True, slots=True)
class DriverReceipt:
    number: str
    car_park: str
    lane: str | None
    plate: str | None
    entry_at: datetime | None
    exit_at: datetime
    lines: tuple[tuple[str, int], ...]
    total: int
    paid: int
    change: int
    method: str
    reference: str | None
    currency: str
    operator: str
    zone: ZoneInfo
    lost_card: bool = False

    @classmethod
    def from_payment(cls, payment: PaymentTaken, *, car_park_name: str, zone: ZoneInfo) -> DriverReceipt:
        return cls(
            number=payment.receipt_no, car_park=car_park_name, lane=payment.lane, plate=payment.plate,
            entry_at=payment.entry_at, exit_at=payment.exit_at or payment.at,
            lines=tuple((line.label, line.amount) for line in payment.lines), total=payment.amount,
            paid=payment.tendered, change=payment.change, method=payment.method, reference=payment.reference,
            currency=payment.currency, operator=payment.operator, zone=zone, lost_card=payment.lost_card,
        )  # fmt: skip

    def money(self, minor: int) -> str:
        return format_amount(minor, self.currency)

    def local(self, at: datetime) -> str:
        return at.astimezone(self.zone).strftime("%Y-%m-%d %H:%M")

    @property
    def duration(self) -> str | None:
        return duration_text(self.exit_at - self.entry_at) if self.entry_at else None

    def rows(self) -> list[tuple[str, str]]:
        """The receipt's label/value rows, in print order (shared by the printout and the PDF)."""
        rows = [("凭证号", self.number), ("车牌", self.plate or "-"), ("车道", self.lane or "-")]
        rows.append(("入场时间", self.local(self.entry_at) if self.entry_at else "-"))
        rows.append(("出场时间", self.local(self.exit_at)))
        if self.duration:
            rows.append(("停车时长", self.duration))
        if self.lost_card:
            rows.append(("备注", "遗失卡"))
        return rows

    def payment_rows(self) -> list[tuple[str, str]]:
        method = METHOD_LABELS.get(self.method, self.method)
        rows = [("应收", self.money(self.total)), ("实收", self.money(self.paid))]
        if self.change:
            rows.append(("找零", self.money(self.change)))
        rows.append(("支付方式", method))
        if self.reference:
            rows.append(("交易号", self.reference))
        rows.append(("收费员", self.operator))
        return rows


def receipt_escpos(
    receipt: DriverReceipt, *, columns: int = 32, encoding: str = "gb18030", qr: str | None = None
) -> bytes:
    """The receipt for an ESC/POS printer (58 mm paper: 32 columns; 80 mm: 48)."""
    job = EscPos(encoding=encoding, columns=columns).init()
    job.align(Align.CENTER).size(2, 2).line(receipt.car_park).size().line("停车收费凭证").align(Align.LEFT).rule()
    for label, value in receipt.rows():
        job.columns_line(label, value)
    job.rule()
    for label, amount in receipt.lines:
        job.columns_line(label, receipt.money(amount))
    job.rule()
    for label, value in receipt.payment_rows():
        if label == "实收":
            job.mode(Mode.BOLD, Mode.DOUBLE_HEIGHT).columns_line(label, value).mode()
        else:
            job.columns_line(label, value)
    if qr:
        job.feed(1).align(Align.CENTER).qr(qr).align(Align.LEFT)
    job.feed(1).align(Align.CENTER).line("谢谢惠顾 一路平安")
    return job.cut().build()


def receipt_pdf(receipt: DriverReceipt, *, font: CjkFont | None = None) -> bytes:
    """The receipt as a PDF on an 80 mm wide page."""
    pdf = cjk_document(page=(80, 170), font=font)
    width = pdf.epw
    pdf.set_font(FAMILY, size=13)
    pdf.cell(width, 8, receipt.car_park, align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FAMILY, size=10)
    pdf.cell(width, 6, "停车收费凭证", align="C", new_x="LMARGIN", new_y="NEXT")
    sections = (receipt.rows(), [(label, receipt.money(amount)) for label, amount in receipt.lines])
    for rows in (*sections, receipt.payment_rows()):
        pdf.line(pdf.l_margin, pdf.get_y() + 1, pdf.l_margin + width, pdf.get_y() + 1)
        pdf.ln(2)
        for label, value in rows:
            pdf.cell(width * 0.4, 5.5, label)
            pdf.cell(width * 0.6, 5.5, value, align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    pdf.cell(width, 6, "谢谢惠顾 一路平安", align="C", new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())
