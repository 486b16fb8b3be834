"""The office console: server-rendered pages (Jinja2, Babel catalogues) served by central at ``/office/`` for the
front desk, the cashier, the supervisor, the finance office, the admin and the auditor.

:func:`install_office` mounts it on central's app: the pages, their static files, and the handlers that turn a
missing sign-in into a redirect and a forbidden page or a refused form into a 403 page.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable
from pathlib import Path
from urllib.parse import quote

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from central.core.config import Settings
from central.office.deps import request_locale
from central.office.pages import (
    assets,
    back_office,
    bags,
    books,
    debit,
    desk,
    drawer,
    invoices,
    issuing,
    lists,
    mandates,
    plate_records,
    reconciliation,
    refunds,
    remote_vends,
    reports,
    signin,
    supervision,
)
from central.office.rendering import Pages
from central.office.sessions import CsrfRefusedError, ForbiddenPageError, SignInRequiredError
from central.office.throttle import SignInThrottle

STATIC = Path(__file__).resolve().parent / "static"
PREFIX = "/office"


def install_office(app: FastAPI, settings: Settings) -> None:
    """Serve the office console at ``/office/`` on ``app``."""
    app.state.office_pages = Pages()
    app.state.office_throttle = SignInThrottle(settings.office_sign_in_attempts,
                                               settings.office_sign_in_window_minutes * 60)  # fmt: skip
    router = APIRouter(prefix=PREFIX, include_in_schema=False, dependencies=[Depends(request_locale)])
    for module in (signin, desk, issuing, lists, supervision, reconciliation, bags, invoices, refunds, mandates, debit,
                   books, drawer, back_office, reports, remote_vends, plate_records, assets):  # fmt: skip
        router.include_router(module.router)
    app.include_router(router)
    app.mount(f"{PREFIX}/static", StaticFiles(directory=STATIC), name="office-static")

    _pages_for_office_errors(app)

    @app.exception_handler(SignInRequiredError)
    async def _sign_in(request: Request, _exc: SignInRequiredError) -> Response:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"{PREFIX}/sign-in?next={quote(target, safe='')}", status_code=303)

    @app.exception_handler(ForbiddenPageError)
    async def _forbidden(request: Request, _exc: ForbiddenPageError) -> Response:
        pages: Pages = request.app.state.office_pages
        return pages.render(request, "forbidden.html", {"csrf": False}, 403)

    @app.exception_handler(CsrfRefusedError)
    async def _csrf(request: Request, _exc: CsrfRefusedError) -> Response:
        pages: Pages = request.app.state.office_pages
        return pages.render(request, "forbidden.html", {"csrf": True}, 403)


def _pages_for_office_errors(app: FastAPI) -> None:
    """Under ``/office/`` a malformed address (a page number that is not a number) or an unknown path answers a
    page, not the API's JSON error; everywhere else the API's handlers answer as before."""
    api_validation = app.exception_handlers[RequestValidationError]
    api_http = app.exception_handlers[StarletteHTTPException]

    async def validation(request: Request, exc: Exception) -> Response:
        if not request.url.path.startswith(f"{PREFIX}/"):
            return await _answer(api_validation(request, exc))
        pages: Pages = request.app.state.office_pages
        return pages.render(request, "not_found.html", {}, 404)

    async def http(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, StarletteHTTPException) else 500
        if (
            not request.url.path.startswith(f"{PREFIX}/")
            or request.url.path.startswith(f"{PREFIX}/static/")
            or (status not in (404, 405))
        ):
            return await _answer(api_http(request, exc))
        pages: Pages = request.app.state.office_pages
        return pages.render(request, "not_found.html", {}, 404)

    app.add_exception_handler(RequestValidationError, validation)
    app.add_exception_handler(StarletteHTTPException, http)


async def _answer(result: Response | Awaitable[Response]) -> Response:
    return await result if inspect.isawaitable(result) else result
