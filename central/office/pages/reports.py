"""The report pages: revenue, traffic and occupancy, exceptions, the free and special vehicle log, device faults.
Each shows its tables and charts for a car park (or all) and a local day or month, and exports any of its tables
as CSV or XLSX (``?format=csv&table=by_lane``)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from central.api.deps import SessionDep
from central.models import CarPark
from central.office.catalogues import compile_catalogue
from central.office.deps import PagesDep, page
from central.office.forms import Form
from central.office.sessions import Operator
from central.renewal import OPERATOR_ZONE
from central.reports.charts import bar_chart, line_chart
from central.reports.device_faults import device_faults
from central.reports.exceptions import exceptions, vehicle_log
from central.reports.export import to_csv, to_xlsx
from central.reports.revenue import revenue
from central.reports.tables import Period, PeriodError, Report
from central.reports.traffic import traffic

router = APIRouter()
Builder = Callable[[Session, str, Period, str, Any], Report]
_XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@functools.cache
def _gettext(locale: str) -> Callable[[str], str]:
    translations = compile_catalogue(locale)
    return translations.gettext


def _car_park(session: Session, code: str) -> tuple[list[str], str, Any]:
    """The car parks to choose from, and the chosen one's currency and zone (CNY and the operator's for all)."""
    parks = {p.id: p for p in session.scalars(select(CarPark).order_by(CarPark.id).limit(1000))}
    chosen = parks.get(code)
    if chosen is None:
        return sorted(parks), "CNY", OPERATOR_ZONE
    try:
        zone: Any = ZoneInfo(chosen.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        zone = OPERATOR_ZONE
    return sorted(parks), chosen.currency or "CNY", zone


def _show(request: Request, session: Session, pages: PagesDep, key: str, builder: Builder, car_park: str,
          month: str, day: str, format: str, table: str) -> Response:  # fmt: skip
    filters = Form({"car_park": car_park[:64], "month": month[:7], "day": day[:10]})
    parks, currency, zone = _car_park(session, filters.raw("car_park"))
    code = filters.raw("car_park") if filters.raw("car_park") in parks else ""
    try:
        period = Period.parse(filters.raw("month"), filters.raw("day"), datetime.now(zone).date())
    except PeriodError as exc:
        filters.refuse("day" if filters.raw("day") else "month", str(exc))
        period = Period.parse("", "", datetime.now(zone).date())
    report = builder(session, code, period, currency, zone)
    locale = getattr(request.state, "office_locale", None) or pages.locales[0]
    if format in ("csv", "xlsx") and (chosen := report.table(table)) is not None:
        translate = _gettext(locale)
        name = f"{report.key}-{chosen.key}-{period.label}.{format}"
        if format == "csv":
            body, media = to_csv(chosen, currency, zone, translate), "text/csv; charset=utf-8"
        else:
            body, media = to_xlsx(chosen, translate(chosen.title), currency, zone, translate), _XLSX
        headers = {"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"}
        return Response(body, media_type=media, headers=headers)
    query = {"car_park": code, **period.query()}

    def export(table_key: str, kind: str) -> str:
        return f"{request.url.path}?{urlencode({**query, 'format': kind, 'table': table_key})}"

    context = {"report": report, "filters": filters, "car_parks": parks, "export": export, "bar_chart": bar_chart,
               "line_chart": line_chart, "period": period, "page_key": key, "translate": _gettext(locale)}  # fmt: skip
    return pages.render(request, f"reports_{key}.html", context)


def _route(key: str, path: str, builder: Builder) -> None:
    guard = page(f"reports_{key}")

    def show(request: Request, session: SessionDep, pages: PagesDep, car_park: str = "", month: str = "",
             day: str = "", format: str = "", table: str = "", _operator: Operator = guard) -> Response:  # fmt: skip
        return _show(request, session, pages, key, builder, car_park, month, day, format, table)

    show.__doc__ = builder.__doc__
    router.add_api_route(path, show, methods=["GET"], name=f"reports_{key}")


for _key, _path, _builder in (
    ("revenue", "/reports/revenue", revenue),
    ("traffic", "/reports/traffic", traffic),
    ("exceptions", "/reports/exceptions", exceptions),
    ("vehicle_log", "/reports/vehicle-log", vehicle_log),
    ("device_faults", "/reports/device-faults", device_faults),
):
    _route(_key, _path, _builder)
