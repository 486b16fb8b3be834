"""Reading a bank's result file into rows: the profile's CSV result layout (encoding checked, columns found by
their header titles or by position) or ISO 20022 pain.002 (read with expat, so every error names its line). Every
problem names the file, the line and the column."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from xml.parsers import expat

from central.billing.debit_profiles import DebitProfile, ResultColumn
from central.billing.errors import FileRejectedError

MAX_LINES = 1_000_000


@dataclass(frozen=True, slots=True)
class ResultRow:
    line: int
    reference: str
    amount_minor: int
    code: str
    reason: str
    amount_column: str = "amount"
    code_column: str = "code"


def parse_result_file(profile: DebitProfile, file_name: str, content: bytes) -> list[ResultRow]:
    """The rows of a result file; a duplicated reference is refused with both lines named."""
    if profile.result.format == "pain.002":
        rows = _parse_pain002(profile, file_name, content)
    else:
        rows = _parse_csv(profile, file_name, _decode(profile, file_name, content))
    seen: dict[str, int] = {}
    for row in rows:
        if row.reference in seen:
            raise FileRejectedError(
                file_name,
                row.line,
                _title(profile, "reference"),
                f"line {row.reference} appears twice (first on line {seen[row.reference]})",
            )
        seen[row.reference] = row.line
    return rows


def _title(profile: DebitProfile, name: str) -> str:
    return next((c.title for c in profile.result.columns if c.field == name), name)


def _decode(profile: DebitProfile, file_name: str, content: bytes) -> str:
    encoding = profile.result.encoding
    if encoding == "gbk" and not content.isascii():
        # GBK text is almost never valid UTF-8, while UTF-8 text often decodes as (wrong) GBK: catch it here.
        try:
            content.decode("utf-8")
        except UnicodeDecodeError:
            pass
        else:
            line, column = _position(content, next(i for i, b in enumerate(content) if b >= 0x80))
            raise FileRejectedError(file_name, line, str(column), "the file is UTF-8, the profile expects GBK")
    try:
        text = content.decode(encoding)
    except UnicodeDecodeError as err:
        line, column = _position(content, err.start)
        raise FileRejectedError(
            file_name,
            line,
            str(column),
            f"not {encoding.upper()} text (byte {content[err.start : err.start + 1].hex()})",
        ) from err
    return text.removeprefix("\ufeff")


def _position(content: bytes, offset: int) -> tuple[int, int]:
    line = content.count(b"\n", 0, offset) + 1
    start = content.rfind(b"\n", 0, offset) + 1
    return line, offset - start + 1


def _parse_csv(profile: DebitProfile, file_name: str, text: str) -> list[ResultRow]:
    layout = profile.result
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=layout.delimiter)
    titles: dict[str, str] = {c.field: c.title for c in layout.columns}
    positions: dict[str, int] = {} if layout.header else {c.field: i for i, c in enumerate(layout.columns)}
    for cells in reader if layout.header else ():
        if "".join(cells).strip():
            positions = _header(layout.columns, cells, file_name, reader.line_num)
            break
    else:
        if layout.header:
            raise FileRejectedError(file_name, 1, None, "the file is empty: no header line")
    ref_at, amount_at, code_at = positions["reference"], positions["amount"], positions["code"]
    reason_at = positions.get("reason")
    widest = max(positions.values())
    amounts: dict[str, int] = {}  # a month's lines share a few amounts: each text is checked once
    rows: list[ResultRow] = []
    for cells in reader:
        line = reader.line_num
        if not "".join(cells).strip():
            continue
        if len(rows) >= MAX_LINES:
            raise FileRejectedError(file_name, line, None, f"more than {MAX_LINES} lines")
        if len(cells) <= widest:
            missing = min((i, f) for f, i in positions.items() if i >= len(cells))[1]
            raise FileRejectedError(file_name, line, titles[missing], "the line has no value in this column")
        reference, amount_text, code = cells[ref_at].strip(), cells[amount_at].strip(), cells[code_at].strip()
        if not reference:
            raise FileRejectedError(file_name, line, titles["reference"], "the line reference is empty")
        amount = amounts.get(amount_text)
        if amount is None:
            try:
                amount = amounts[amount_text] = profile.parse_amount(amount_text)
            except ValueError as err:
                raise FileRejectedError(file_name, line, titles["amount"], str(err)) from err
        if not code:
            raise FileRejectedError(file_name, line, titles["code"], "the result code is empty")
        reason = cells[reason_at].strip() if reason_at is not None else ""
        rows.append(ResultRow(line, reference, amount, code, reason, titles["amount"], titles["code"]))
    return rows


def _header(columns: Sequence[ResultColumn], cells: list[str], file_name: str, line: int) -> dict[str, int]:
    """Where each of the layout's columns is, by its title in the header line."""
    found = {cell.strip(): i for i, cell in enumerate(cells)}
    for column in columns:
        if column.title not in found:
            raise FileRejectedError(file_name, line, column.title, "the column is missing from the header")
    return {column.field: found[column.title] for column in columns}


@dataclass
class _Tx:
    line: int
    fields: dict[str, str] = field(default_factory=dict)


def _parse_pain002(profile: DebitProfile, file_name: str, content: bytes) -> list[ResultRow]:
    """Each ``TxInfAndSts``: OrgnlEndToEndId, TxSts, StsRsnInf/Rsn/Cd and AddtlInf, OrgnlTxRef/Amt/InstdAmt."""
    parser = expat.ParserCreate()
    stack: list[str] = []
    txs: list[_Tx] = []
    current: list[_Tx] = []
    text: list[str] = []
    wanted = {"OrgnlEndToEndId", "TxSts", "Cd", "AddtlInf", "InstdAmt"}

    def start(name: str, _attrs: dict[str, str]) -> None:
        local = name.rsplit(":", 1)[-1]
        stack.append(local)
        text.clear()
        if local == "TxInfAndSts":
            current.append(_Tx(parser.CurrentLineNumber))

    def end(name: str) -> None:
        local = stack.pop()
        if current and local in wanted:
            key = "Rsn" if local == "Cd" and "Rsn" in stack else local
            if local != "Cd" or key == "Rsn":
                current[-1].fields.setdefault(key, "".join(text).strip())
        if local == "TxInfAndSts":
            txs.append(current.pop())

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = text.append
    try:
        parser.Parse(content, True)
    except expat.ExpatError as err:
        raise FileRejectedError(
            file_name, err.lineno, str(err.offset + 1), f"not well-formed XML: {expat.errors.messages[err.code]}"
        ) from err
    if "CstmrPmtStsRpt" not in _root_children(content):
        raise FileRejectedError(file_name, 1, None, "not a pain.002 payment status report (no CstmrPmtStsRpt)")
    rows = []
    for tx in txs:
        for name in ("OrgnlEndToEndId", "TxSts", "InstdAmt"):
            if not tx.fields.get(name):
                raise FileRejectedError(file_name, tx.line, name, "missing in this TxInfAndSts")
        try:
            amount = _decimal_minor(profile, tx.fields["InstdAmt"])
        except ValueError as err:
            raise FileRejectedError(file_name, tx.line, "InstdAmt", str(err)) from err
        reason = " ".join(part for part in (tx.fields.get("Rsn", ""), tx.fields.get("AddtlInf", "")) if part)
        rows.append(
            ResultRow(tx.line, tx.fields["OrgnlEndToEndId"], amount, tx.fields["TxSts"], reason, "InstdAmt", "TxSts")
        )
    return rows


def _decimal_minor(profile: DebitProfile, text: str) -> int:
    from parking.money import parse_amount

    return parse_amount(text, profile.currency)


def _root_children(content: bytes) -> str:
    return content[:4096].decode("utf-8", "replace")
