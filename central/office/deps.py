"""The office console's request dependencies: the signed-in operator, the page's roles, the posted form with its
CSRF token checked, and the language of the request."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request
from starlette.datastructures import UploadFile

from central.api.deps import SessionDep, SettingsDep
from central.office.catalogues import LANGUAGE_COOKIE, choose_locale
from central.office.forms import MAX_UPLOAD_BYTES, Form
from central.office.navigation import PAGES, navigation_for
from central.office.rendering import Pages
from central.office.sessions import (
    CSRF_FIELD,
    PRE_SESSION_COOKIE,
    SESSION_COOKIE,
    CsrfRefusedError,
    ForbiddenPageError,
    Operator,
    csrf_for,
    csrf_ok,
    operator_of,
)


def get_pages(request: Request) -> Pages:
    pages: Pages = request.app.state.office_pages
    return pages


PagesDep = Annotated[Pages, Depends(get_pages)]


def request_locale(request: Request, pages: PagesDep) -> str:
    """The request's language (cookie, Accept-Language, default), kept on the request for rendering."""
    locale = choose_locale(request.cookies.get(LANGUAGE_COOKIE), request.headers.get("accept-language"), pages.locales)
    request.state.office_locale = locale
    return locale


def office_operator(request: Request, session: SessionDep, settings: SettingsDep) -> Operator:
    """The signed-in operator; a request without a valid session is sent to the sign-in page."""
    token = request.cookies.get(SESSION_COOKIE)
    operator = operator_of(session, settings, token)
    request.state.office_operator = operator
    request.state.office_navigation = navigation_for(operator.role)
    request.state.office_csrf = csrf_for(str(token))
    return operator


OperatorDep = Annotated[Operator, Depends(office_operator)]


def page(key: str) -> Any:
    """A dependency answering the operator when their role may open page ``key``, else 403."""
    roles = PAGES[key].roles

    def check_page(operator: OperatorDep) -> Operator:
        if operator.role not in roles:
            raise ForbiddenPageError
        return operator

    return Depends(check_page)


async def posted_form(request: Request) -> Form:
    """The POSTed form once its CSRF token matches the cookie it came with; else 403."""
    data = await request.form(max_files=0, max_fields=200)
    token = data.get(CSRF_FIELD)
    if not csrf_ok(request, token if isinstance(token, str) else None):
        raise CsrfRefusedError
    return Form(data)


PostedForm = Annotated[Form, Depends(posted_form)]


async def posted_upload(request: Request) -> Form:
    """A POSTed form carrying one file (multipart), once its CSRF token matches; else 403. The file is the
    form's value under its field name (an ``UploadFile``)."""
    data = await request.form(max_files=1, max_fields=20)
    token = data.get(CSRF_FIELD)
    if not csrf_ok(request, token if isinstance(token, str) else None):
        raise CsrfRefusedError
    form = Form(data)
    for name, value in data.multi_items():
        if isinstance(value, UploadFile):  # read here, bounded: one byte over the cap tells it is too large
            form.files[name] = (value.filename or "", await value.read(MAX_UPLOAD_BYTES + 1))
    return form


PostedUpload = Annotated[Form, Depends(posted_upload)]


__all__ = ["PRE_SESSION_COOKIE", "OperatorDep", "PagesDep", "PostedForm", "PostedUpload", "page", "request_locale"]
