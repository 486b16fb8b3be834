"""The internal payment slip (内部缴款单): the cash a collector hands in at the end of a shift.

Made from the shift report: the items (cash fees, e-payments and bank card for the record, the difference), the
sealed bags dropped (投包) and the closing cash handed in, the total in figures and in Chinese capitals, the
operator and the shift's times, and lines for the signatures. Rendered as PDF (A5) and for an ESC/POS printer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from drivers.escpos.commands import Align, EscPos, Mode
from edge.booth.fonts import FAMILY, CjkFont, cjk_document
from edge.booth.report import ShiftReport
from parking.amount_words import amount_in_words
from parking.money import format_amount

METHOD_LABELS = {"cash": "现金", "epay": "电子支付", "bank_card": "银行卡"}
SIGNATURES = ("缴款人", "收款人", "主管")


@dataclass(frozen=True, slots=True)
class SlipItem:
    label: str
    count: int | None
    amount: int


@dataclass(frozen=True, slots=True)
class SlipBag:
    bag: str
    amount: int


@dataclass(frozen=True, slots=True)
class PaymentSlip:
    number: str
    car_park: str
    booth: str
    operator: str
    shift: str
    opened_at: datetime
    closed_at: datetime
    zone: ZoneInfo
    currency: str
    items: tuple[SlipItem, ...]
    bags: tuple[SlipBag, ...]
    total: int  # cash handed in
    difference: int

    @classmethod
    def from_report(
        cls,
        report: ShiftReport,
        *,
        number: str,
        zone: ZoneInfo,
        car_park_name: str | None = None,
        operator_name: str | None = None,
        closing_bag: str | None = None,
    ) -> PaymentSlip:
        """The slip for a closed shift. ``closing_bag`` is the bag the closing cash goes into, if sealed."""
        cash = report.cash
        items = [SlipItem("停车费(现金)", report.by_method["cash"].count, cash.taken)]
        for method in ("epay", "bank_card"):
            total = report.by_method[method]
            if total.count:
                items.append(SlipItem(f"停车费({METHOD_LABELS[method]}, 不在缴款内)", total.count, total.amount))
        if cash.difference:
            label = "长款" if cash.difference > 0 else "短款"
            items.append(SlipItem(label, None, cash.difference))
        bags = [SlipBag(b.bag, b.amount) for b in cash.drop_bags]
        closing = cash.counted_amount - cash.float_left
        if closing:
            bags.append(SlipBag(closing_bag or "交班现金", closing))
        return cls(
            number=number, car_park=car_park_name or report.car_park, booth=report.booth,
            operator=operator_name or report.operator, shift=report.shift,
            opened_at=datetime.fromisoformat(report.opened_at), closed_at=datetime.fromisoformat(report.closed_at),
            zone=zone, currency=report.currency, items=tuple(items), bags=tuple(bags), total=cash.handed_in,
            difference=cash.difference,
        )  # fmt: skip

    def money(self, minor: int) -> str:
        return format_amount(minor, self.currency)

    def local(self, at: datetime) -> str:
        return at.astimezone(self.zone).strftime("%Y-%m-%d %H:%M")

    @property
    def total_in_words(self) -> str:
        return amount_in_words(self.total, self.currency)

    @property
    def shift_times(self) -> str:
        return f"{self.local(self.opened_at)} 至 {self.local(self.closed_at)}"


def slip_pdf(slip: PaymentSlip, *, font: CjkFont | None = None) -> bytes:
    """The slip as a PDF (A5 portrait)."""
    pdf = cjk_document(page=(148.0, 210.0), font=font)  # A5
    width = pdf.epw
    pdf.set_font(FAMILY, size=16)
    pdf.cell(width, 10, "内部缴款单", align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FAMILY, size=9)
    for left, right in (
        (f"单号: {slip.number}", f"停车场: {slip.car_park}"),
        (f"岗亭: {slip.booth}", f"收费员: {slip.operator}"),
        (f"班次: {slip.shift_times}", ""),
    ):
        pdf.cell(width / 2, 6, left)
        pdf.cell(width / 2, 6, right, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    columns = (width * 0.55, width * 0.15, width * 0.30)
    _row(pdf, columns, ("项目", "笔数", f"金额({slip.currency})"), header=True)
    for item in slip.items:
        _row(pdf, columns, (item.label, "" if item.count is None else str(item.count), slip.money(item.amount)))
    pdf.ln(3)
    bag_columns = (width * 0.70, width * 0.30)
    _row(pdf, bag_columns, ("投包 / 包号", f"金额({slip.currency})"), header=True)
    for bag in slip.bags:
        _row(pdf, bag_columns, (bag.bag, slip.money(bag.amount)))
    pdf.ln(3)
    pdf.set_font(FAMILY, size=11)
    pdf.cell(width, 7, f"缴款合计(小写): ¥{slip.money(slip.total)}", new_x="LMARGIN", new_y="NEXT")
    pdf.cell(width, 7, f"缴款合计(大写): {slip.total_in_words}", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(8)
    pdf.set_font(FAMILY, size=10)
    third = width / 3
    for role in SIGNATURES:
        pdf.cell(third, 7, f"{role}(签字): ________")
    pdf.ln(10)
    pdf.cell(width, 7, "日期: ____年____月____日", new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def _row(pdf: Any, widths: tuple[float, ...], cells: tuple[str, ...], *, header: bool = False) -> None:
    if header:
        pdf.set_fill_color(230, 230, 230)
    for index, (width, text) in enumerate(zip(widths, cells, strict=True)):
        last = index == len(cells) - 1
        pdf.cell(width, 7, text, border=1, align="L" if index == 0 else "R", fill=header,
                 new_x="LMARGIN" if last else "RIGHT", new_y="NEXT" if last else "TOP")  # fmt: skip


def slip_escpos(slip: PaymentSlip, *, columns: int = 32, encoding: str = "gb18030") -> bytes:
    """The slip for an ESC/POS printer (58 mm paper: 32 columns; 80 mm: 48)."""
    job = EscPos(encoding=encoding, columns=columns).init().align(Align.CENTER).size(2, 2).line("内部缴款单")
    job.size().align(Align.LEFT).line(f"单号: {slip.number}").line(f"停车场: {slip.car_park}")
    job.line(f"岗亭: {slip.booth}  收费员: {slip.operator}").line(f"班次: {slip.local(slip.opened_at)}")
    job.line(f"   至 {slip.local(slip.closed_at)}").rule()
    for item in slip.items:
        count = "" if item.count is None else f" ×{item.count}"
        job.columns_line(f"{item.label}{count}", slip.money(item.amount))
    job.rule()
    for bag in slip.bags:
        job.columns_line(f"投包 {bag.bag}", slip.money(bag.amount))
    job.rule().mode(Mode.BOLD).columns_line("缴款合计", f"￥{slip.money(slip.total)}").mode()
    job.line("大写:").line(slip.total_in_words).feed(1)
    for role in SIGNATURES:
        job.line(f"{role}(签字):").feed(1)
    return job.cut().build()
