"""What the billing routes share: the roles of billing, the client request id that makes money-creating calls
idempotent, and file answers (CSV, XLSX, PDF)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Header
from fastapi.responses import Response

from central.api.deps import allow
from central.billing.exports import Table, to_csv, to_xlsx
from central.core.security import Role

Sellers = allow(Role.ADMIN, Role.FRONT_DESK, Role.OFFICE)  # front desk sells (invoices of fee items)
Cashiers = allow(Role.ADMIN, Role.CASHIER)  # payments, receipts, refunds, drawer, direct debit
Approvers = allow(Role.ADMIN, Role.SUPERVISOR)  # refund decisions
Finance = allow(Role.ADMIN, Role.OFFICE)  # fee items, plan rules
Dunning = allow(Role.ADMIN, Role.CASHIER, Role.SUPERVISOR)  # arrears actions
Readers = allow(Role.ADMIN, Role.OFFICE, Role.CASHIER, Role.SUPERVISOR, Role.AUDITOR, Role.FRONT_DESK)
BookReaders = allow(Role.ADMIN, Role.OFFICE, Role.CASHIER, Role.SUPERVISOR, Role.AUDITOR)
Reminders = allow(Role.ADMIN, Role.FRONT_DESK, Role.COLLECTOR, Role.CASHIER)

ClientRequestId = Annotated[
    str | None,
    Header(
        alias="Client-Request-Id",
        max_length=64,
        pattern=r"^[A-Za-z0-9._:-]{1,64}$",
        description="the client's id for this request: a retry with the same id answers the first result",
    ),
]

CSV_XLSX: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {"text/csv": {}, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {}},
        "description": "the table as a file",
    }
}
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def request_id(header: str | None, field: str | None) -> str | None:
    return header or field


def table_file(table: Table, name: str, file_format: str) -> Response:
    if file_format == "xlsx":
        return Response(
            to_xlsx(table), media_type=XLSX_TYPE, headers={"Content-Disposition": f'attachment; filename="{name}.xlsx"'}
        )
    return Response(
        to_csv(table),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )
