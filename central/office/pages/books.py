"""The cashier's books: the arrears ledger (欠费台账) with its ageing buckets and the dunning list (催缴), the month's
collection statistics (billed, collected, outstanding and rate by car park and fee item, the temporary-parking
takings beside), each with its CSV and XLSX export. Reads only: the figures are billing's."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request
from fastapi.responses import Response

from central.api.deps import SessionDep
from central.api.routes.billing_common import table_file
from central.billing.arrears import BUCKETS, ageing_totals, arrears_ledger, dunning_list
from central.billing.exports import ledger_table, statistics_table
from central.billing.statistics import collection_statistics, temporary_takings
from central.office.deps import PagesDep, page
from central.office.forms import Form
from central.office.navigation import N_
from central.office.sessions import Operator
from central.renewal import OPERATOR_ZONE

router = APIRouter()
Arrears = page("arrears")
Statistics = page("statistics")


@router.get("/arrears")
def arrears(request: Request, session: SessionDep, pages: PagesDep, min_days: str = "30",
            _operator: Operator = Arrears) -> Response:  # fmt: skip
    """The ledger, oldest debt first, with the ageing per currency; the dunning list past ``min_days``."""
    filters = Form({"min_days": min_days[:6]})
    days = filters.integer("min_days", low=0, high=3650, required=False)
    rows = arrears_ledger(session)
    dunning = dunning_list(session, days or 0) if "min_days" not in filters.errors else []
    context = {"filters": filters, "rows": rows, "totals": ageing_totals(rows), "buckets": BUCKETS,
               "dunning": dunning}  # fmt: skip
    return pages.render(request, "arrears.html", context)


@router.get("/arrears/export")
def arrears_export(session: SessionDep, format: str = "csv", _operator: Operator = Arrears) -> Response:
    return table_file(ledger_table(session), "arrears", "xlsx" if format == "xlsx" else "csv")


def _month(filters: Form) -> str:
    text = filters.raw("month").strip()
    ok = len(text) == 7 and text.isascii() and text[4] == "-" and text[:4].isdigit() and text[5:].isdigit()
    if not ok or not (2000 <= int(text[:4]) < 2200 and 1 <= int(text[5:]) <= 12):
        filters.refuse("month", N_("Enter a month as YYYY-MM."))
        return datetime.now(OPERATOR_ZONE).strftime("%Y-%m")
    return text


@router.get("/statistics")
def statistics(request: Request, session: SessionDep, pages: PagesDep, month: str = "",
               _operator: Operator = Statistics) -> Response:  # fmt: skip
    """One month's collection by car park and fee item, and the temporary-parking takings of its shift reports."""
    filters = Form({"month": month[:7] or datetime.now(OPERATOR_ZONE).strftime("%Y-%m")})
    chosen = _month(filters)
    context = {"filters": filters, "month": chosen, "rows": collection_statistics(session, chosen, chosen),
               "takings": temporary_takings(session, chosen, chosen)}  # fmt: skip
    return pages.render(request, "statistics.html", context)


@router.get("/statistics/export")
def statistics_export(session: SessionDep, month: str = "", format: str = "csv",
                      _operator: Operator = Statistics) -> Response:  # fmt: skip
    chosen = _month(Form({"month": month[:7]}))
    table = statistics_table(session, chosen, chosen)
    return table_file(table, f"collection-{chosen}", "xlsx" if format == "xlsx" else "csv")
