"""Signing in and out, the language links, and the landing page each role starts from."""

from __future__ import annotations

import logging
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select

from central.api.deps import SessionDep, SettingsDep
from central.audit import record_change
from central.core.security import Role, verify_password
from central.models import User
from central.office.catalogues import LANGUAGE_COOKIE
from central.office.deps import OperatorDep, PagesDep, PostedForm
from central.office.forms import Form
from central.office.navigation import N_, landing_path
from central.office.sessions import (
    PRE_SESSION_COOKIE,
    SESSION_COOKIE,
    close_session,
    csrf_for,
    open_session,
    pre_session_value,
    set_cookie,
)
from central.office.throttle import SignInThrottle

_LOGGER = logging.getLogger(__name__)

router = APIRouter()


def safe_next(target: str | None) -> str:
    """A path inside the console to go back to; anything else (another site, a scheme) becomes the landing page."""
    if not target or len(target) > 500:
        return ""
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/office/") or "\\" in target:
        return ""
    return target


def _throttle(request: Request) -> SignInThrottle:
    throttle: SignInThrottle = request.app.state.office_throttle
    return throttle


ThrottleDep = Annotated[SignInThrottle, Depends(_throttle)]


def _address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _sign_in_page(request: Request, pages: PagesDep, settings: SettingsDep, form: Form, status: int = 200,
                  next_path: str = "") -> Response:  # fmt: skip
    value, new = pre_session_value(request)
    request.state.office_csrf = csrf_for(request.cookies.get(SESSION_COOKIE) or value)
    response = pages.render(request, "sign_in.html", {"form": form, "next": next_path}, status)
    if new and not request.cookies.get(SESSION_COOKIE):
        set_cookie(response, settings, PRE_SESSION_COOKIE, value)
    return response


@router.get("/", include_in_schema=False)
def office_root(request: Request) -> RedirectResponse:
    return RedirectResponse("/office/home", status_code=303)


@router.get("/sign-in", response_class=HTMLResponse)
def sign_in_form(request: Request, pages: PagesDep, settings: SettingsDep, next: str = "") -> Response:
    return _sign_in_page(request, pages, settings, Form(), next_path=safe_next(next))


@router.post("/sign-in", response_class=HTMLResponse)
def sign_in(
    request: Request, form: PostedForm, session: SessionDep, settings: SettingsDep, pages: PagesDep,
    throttle: ThrottleDep,
) -> Response:  # fmt: skip
    """Check the password; a failure is audited and counted per account and per address."""
    username = form.text("username", max_length=64, required=True)
    password = form.raw("password")
    if not password:
        form.refuse("password", N_("This field is required."))
    if len(password) > 256:
        form.refuse("password", N_("At most %(max)s characters, not %(length)s."), max=256, length=len(password))
    next_path = safe_next(form.raw("next"))
    if not form.ok:
        return _sign_in_page(request, pages, settings, form, 422, next_path)
    address = _address(request)
    wait = throttle.retry_after(username, address)
    if wait > 0:
        _audit_failure(session, username, address, "throttled")
        form.refuse("username", N_("Too many failed sign-ins: try again in %(minutes)s minutes."),
                    minutes=int(wait // 60) + 1)  # fmt: skip
        return _sign_in_page(request, pages, settings, form, 429, next_path)
    user = session.scalars(select(User).where(User.username == username)).first()
    valid = verify_password(password, user.password_hash if user else None)
    if user is None or not valid or not user.active or user.role not in set(Role):
        throttle.failed(username, address)
        _audit_failure(session, username, address, "unknown_user" if user is None else
                       ("disabled" if valid else "bad_password"))  # fmt: skip
        form.refuse("password", N_("Unknown user, wrong password, or the user is disabled."))
        return _sign_in_page(request, pages, settings, form, 401, next_path)
    throttle.succeeded(username)
    token = open_session(session, settings, user)
    record_change(session, user, "office.sign_in", "user", user.id, None, {"address": address})
    session.commit()
    response = RedirectResponse(next_path or landing_path(Role(user.role)), status_code=303)
    set_cookie(response, settings, SESSION_COOKIE, token)
    response.delete_cookie(PRE_SESSION_COOKIE, path="/office")
    return response


def _audit_failure(session: SessionDep, username: str, address: str, why: str) -> None:
    _LOGGER.info("office sign-in refused for %r from %s: %s", username[:64], address, why)
    record_change(session, None, "office.sign_in_failed", "user", username[:64], None,
                  {"address": address, "why": why})  # fmt: skip
    session.commit()


@router.post("/sign-out")
def sign_out(request: Request, _form: PostedForm, session: SessionDep, operator: OperatorDep) -> Response:
    close_session(session, request.cookies.get(SESSION_COOKIE))
    record_change(session, operator.user, "office.sign_out", "user", operator.id, None, None)
    session.commit()
    response = RedirectResponse("/office/sign-in", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/office")
    return response


@router.get("/language/{locale}")
def choose_language(locale: str, request: Request, pages: PagesDep, settings: SettingsDep, next: str = "") -> Response:
    """Remember the language in a cookie (a year) and go back where the link was."""
    response = RedirectResponse(safe_next(next) or "/office/home", status_code=303)
    if locale in pages.locales:
        set_cookie(response, settings, LANGUAGE_COOKIE, locale, max_age=365 * 24 * 3600)
    return response


@router.get("/home")
def home(operator: OperatorDep) -> RedirectResponse:
    """Each role's own work page."""
    return RedirectResponse(landing_path(operator.role), status_code=303)
