"""A report table as CSV (UTF-8 with a byte-order mark, so spreadsheet programs read the Chinese right) and as
XLSX (openpyxl): a header row, money as numbers in major units with their decimals, days and times as real date
and datetime cells in the car park's zone."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import date, datetime, tzinfo
from decimal import Decimal
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from central.reports.tables import Column, ColumnType, Table
from parking.money import minor_digits


def major(minor: int, currency: str) -> Decimal:
    """Minor units as an exact decimal in major units: ``major(123456, "CNY") == Decimal("1234.56")``."""
    digits = minor_digits(currency)
    return Decimal(minor).scaleb(-digits).quantize(Decimal(1).scaleb(-digits))


def _cell(column: Column, value: Any, currency: str, zone: tzinfo, translate: Callable[[str], str]) -> Any:
    if value is None:
        return None
    if column.type is ColumnType.MONEY:
        return major(int(value), currency)
    if column.type is ColumnType.DATETIME and isinstance(value, datetime):
        return value.astimezone(zone).replace(tzinfo=None)
    if column.labels is not None and isinstance(value, str) and value in column.labels:
        return translate(column.labels[value])
    return value


def to_csv(table: Table, currency: str, zone: tzinfo, translate: Callable[[str], str]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([translate(c.label) + (f" ({currency})" if c.type is ColumnType.MONEY else "")
                     for c in table.columns])  # fmt: skip
    for row in table.rows:
        cells = [_cell(c, v, currency, zone, translate) for c, v in zip(table.columns, row, strict=True)]
        writer.writerow(["" if v is None else v.strftime("%Y-%m-%d %H:%M:%S") if isinstance(v, datetime)
                         else v.isoformat() if isinstance(v, date) else v for v in cells])  # fmt: skip
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def to_xlsx(table: Table, title: str, currency: str, zone: tzinfo, translate: Callable[[str], str]) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = title[:31] or "report"
    sheet.append([translate(c.label) + (f" ({currency})" if c.type is ColumnType.MONEY else "")
                  for c in table.columns])  # fmt: skip
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    decimals = minor_digits(currency)
    money_format = "#,##0" + ("." + "0" * decimals if decimals else "")
    formats = {
        ColumnType.MONEY: money_format, ColumnType.DATE: "yyyy-mm-dd", ColumnType.DATETIME: "yyyy-mm-dd hh:mm:ss",
        ColumnType.COUNT: "#,##0", ColumnType.MINUTES: "0",
    }  # fmt: skip
    for row in table.rows:
        sheet.append([_cell(c, v, currency, zone, translate) for c, v in zip(table.columns, row, strict=True)])
    for index, column in enumerate(table.columns, start=1):
        letter = get_column_letter(index)
        sheet.column_dimensions[letter].width = max(12, len(translate(column.label)) * 2)
        if column.type in formats:
            for (cell,) in sheet.iter_rows(min_row=2, min_col=index, max_col=index):
                cell.number_format = formats[column.type]
    sheet.freeze_panes = "A2"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
