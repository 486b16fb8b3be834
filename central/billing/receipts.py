"""The receipt (收据) for a payment as PDF, in zh-CN or English, set in the same CJK font as the booth's PDFs
(looked for the same way: ``PARKGATE_CJK_FONT``, the ``pylopdf-fonts-zh-cn`` or ``noto-cjk-sans-otc`` package,
Debian's Noto CJK or WenQuanYi). Every print after the first is marked as a reprint and counted."""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fpdf import FPDF
from sqlalchemy.orm import Session

from central.audit import record_change, snapshot
from central.billing.errors import BillingError, MissingRecordError
from central.billing.invoices import invoice_items
from central.models import Holder, Invoice, Payment, Unit, User
from central.renewal import OPERATOR_ZONE
from parking.amount_words import AmountWordsError, amount_in_words
from parking.money import format_amount

FONT_ENV = "PARKGATE_CJK_FONT"
_SC_FACE = 2  # Noto Sans CJK collections hold JP, KR, SC, TC, HK in that order
_DEBIAN = (
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", _SC_FACE),
    ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", 0),
    ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", 0),
)

LABELS = {
    "zh-CN": {
        "title": "收据",
        "reprint": "重印",
        "number": "收据号",
        "date": "日期",
        "payer": "交款人",
        "unit": "单元",
        "invoice": "账单号",
        "item": "项目",
        "method": "付款方式",
        "reference": "参考号",
        "amount": "金额",
        "words": "大写",
        "applied": "本次冲抵",
        "credit": "转入余额",
        "owed": "尚欠",
        "cashier": "收款人",
    },
    "en": {
        "title": "Receipt",
        "reprint": "REPRINT",
        "number": "Receipt no.",
        "date": "Date",
        "payer": "Received from",
        "unit": "Unit",
        "invoice": "Invoice",
        "item": "Item",
        "method": "Method",
        "reference": "Reference",
        "amount": "Amount",
        "words": "In words",
        "applied": "Applied",
        "credit": "To credit",
        "owed": "Still owed",
        "cashier": "Cashier",
    },
}
METHODS = {
    "zh-CN": {
        "cash": "现金",
        "bank_transfer": "银行转账",
        "bank_card": "银行卡",
        "epay": "电子支付",
        "direct_debit": "银行代扣",
        "credit": "余额抵扣",
    },
    "en": {
        "cash": "cash",
        "bank_transfer": "bank transfer",
        "bank_card": "bank card",
        "epay": "e-payment",
        "direct_debit": "direct debit",
        "credit": "account credit",
    },
}


class MissingFontError(RuntimeError):
    """No CJK font found to set Chinese text in a PDF."""


@dataclass(frozen=True, slots=True)
class CjkFont:
    path: Path
    face: int = 0


def find_cjk_font() -> CjkFont:
    """The first CJK font available, in the order the module's docstring gives."""
    configured = os.environ.get(FONT_ENV)
    if configured:
        text, _, index = configured.partition("#")
        if not Path(text).is_file():
            raise MissingFontError(f"{FONT_ENV}={configured!r}: no such font file")
        return CjkFont(Path(text), int(index or 0))
    for module, attribute, face in (("pylopdf_fonts_zh_cn", "sans_path", 0), ("noto_cjk_sans_otc", "FONT_PATH", 2)):
        if importlib.util.find_spec(module) is not None:
            found: Any = getattr(importlib.import_module(module), attribute)
            path = Path(str(found() if callable(found) else found))
            if path.is_file():
                return CjkFont(path, face)
    for debian_path, debian_face in _DEBIAN:
        if Path(debian_path).is_file():
            return CjkFont(Path(debian_path), debian_face)
    raise MissingFontError("no CJK font for PDFs: pip install pylopdf-fonts-zh-cn or set " + FONT_ENV)


def receipt_pdf(session: Session, actor: User | None, payment_id: int, language: str = "zh-CN") -> bytes:
    """The payment's receipt as PDF; prints after the first say so. Audited as a print."""
    if language not in LABELS:
        raise BillingError("receipt.language", f"no receipt in {language!r}: zh-CN or en", status=422)
    payment = session.get(Payment, payment_id, with_for_update=True)
    if payment is None or payment.receipt_number is None:
        raise MissingRecordError("receipt", payment_id)
    invoice = session.get_one(Invoice, payment.invoice_id)
    holder = session.get_one(Holder, invoice.holder_id)
    unit = session.get(Unit, holder.unit_id) if holder.unit_id else None
    cashier = session.get(User, payment.received_by) if payment.received_by else None
    before = snapshot(payment)
    payment.receipt_prints += 1
    record_change(session, actor, "receipt.print", "payment", payment.receipt_number, before, snapshot(payment))
    label, method = LABELS[language], METHODS[language]

    def money(minor: int) -> str:
        return f"{format_amount(minor, payment.currency)} {payment.currency}"

    rows = [
        (label["number"], payment.receipt_number),
        (label["date"], payment.received_at.astimezone(OPERATOR_ZONE).strftime("%Y-%m-%d %H:%M")),
        (label["payer"], holder.name),
        (label["unit"], f"{unit.building}-{unit.room}" if unit else "-"),
        (label["invoice"], invoice.number),
        *((label["item"], item.description) for item in invoice_items(session, invoice.id)),
        (label["method"], method.get(payment.method, payment.method)),
        (label["reference"], payment.reference or "-"),
        (label["amount"], money(payment.amount_minor)),
    ]
    if payment.currency == "CNY":
        with contextlib.suppress(AmountWordsError):  # too large for capitals: the figures stand alone
            rows.append((label["words"], amount_in_words(payment.amount_minor)))
    rows += [
        (label["applied"], money(payment.applied_minor)),
        (label["credit"], money(payment.credit_minor)),
        (label["owed"], money(max(invoice.total_minor - invoice.paid_minor, 0))),
        (label["cashier"], cashier.full_name or cashier.username if cashier else "-"),
    ]
    font = find_cjk_font()
    pdf = FPDF(format="A5")
    pdf.set_margins(10, 10, 10)
    pdf.add_font("cjk", "", str(font.path), collection_font_number=font.face)
    pdf.add_page()
    width = pdf.epw
    pdf.set_font("cjk", size=16)
    title = label["title"] + (
        f"  ({label['reprint']} {payment.receipt_prints - 1})" if payment.receipt_prints > 1 else ""
    )
    pdf.cell(width, 10, title, align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("cjk", size=10)
    for name, value in rows:
        pdf.cell(width * 0.3, 6.5, name)
        pdf.multi_cell(width * 0.7, 6.5, value, align="L", new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())
