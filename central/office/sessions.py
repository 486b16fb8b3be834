"""Signing in to the office console: a random token in an HttpOnly, SameSite=Lax cookie, kept at central as its
digest in ``user_sessions`` (so any central process behind a load balancer knows it), ending after
``PARKGATE_OFFICE_IDLE_MINUTES`` without a request and at the latest after ``PARKGATE_SESSION_HOURS``.

Every POST form carries a CSRF token derived from the cookie it came with (the session's, or before signing in a
random pre-session cookie's); a POST without the right one is refused with 403.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

from fastapi import Request, Response
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from central.core.config import Settings
from central.core.db import utcnow
from central.core.security import Role, new_token, token_digest
from central.models import User, UserSession

SESSION_COOKIE = "parkgate_office"
PRE_SESSION_COOKIE = "parkgate_office_pre"
CSRF_FIELD = "csrf_token"
# Moving the idle deadline costs a write; do it at most this often per session.
_SLIDE_STEP = timedelta(seconds=60)


class SignInRequiredError(Exception):
    """No valid session: the page redirects to the sign-in form."""


class ForbiddenPageError(Exception):
    """The operator's role may not open this page (403)."""


class CsrfRefusedError(Exception):
    """A POST without the CSRF token of its session (403)."""


@dataclass(frozen=True)
class Operator:
    """The signed-in operator of one request."""

    id: int
    username: str
    full_name: str
    role: Role
    user: User


def csrf_for(cookie_value: str) -> str:
    """The CSRF token for forms sent with this cookie value (a digest of it: not guessable without the cookie)."""
    return hashlib.sha256(b"parkgate-office-csrf:" + cookie_value.encode("utf-8")).hexdigest()[:40]


def csrf_ok(request: Request, posted: str | None) -> bool:
    cookie = request.cookies.get(SESSION_COOKIE) or request.cookies.get(PRE_SESSION_COOKIE)
    return bool(cookie and posted) and hmac.compare_digest(csrf_for(str(cookie)), str(posted))


def pre_session_value(request: Request) -> tuple[str, bool]:
    """The pre-session cookie's value, and whether it is new (to be set on the response)."""
    value = request.cookies.get(PRE_SESSION_COOKIE)
    if value and 20 <= len(value) <= 100:
        return value, False
    return secrets.token_urlsafe(24), True


def set_cookie(response: Response, settings: Settings, name: str, value: str, max_age: int | None = None) -> None:
    response.set_cookie(name, value, max_age=max_age, path="/office", httponly=True, samesite="lax",
                        secure=settings.office_secure_cookies)  # fmt: skip


def open_session(session: Session, settings: Settings, user: User) -> str:
    """A new sign-in for ``user``; answers the cookie's token. The caller commits."""
    token = new_token("pgo")
    now = utcnow()
    session.execute(delete(UserSession).where(UserSession.user_id == user.id, UserSession.expires_at < now))
    session.add(UserSession(token_hash=token_digest(token), user_id=user.id, created_at=now,
                            expires_at=now + timedelta(minutes=settings.office_idle_minutes)))  # fmt: skip
    return token


def close_session(session: Session, token: str | None) -> None:
    if token:
        session.execute(delete(UserSession).where(UserSession.token_hash == token_digest(token)))


def operator_of(session: Session, settings: Settings, token: str | None) -> Operator:
    """The operator behind the session cookie, moving its idle deadline on; else :class:`SignInRequiredError`."""
    if not token or len(token) > 100:
        raise SignInRequiredError
    row = session.execute(
        select(User, UserSession).join(UserSession, UserSession.user_id == User.id)
        .where(UserSession.token_hash == token_digest(token))
    ).one_or_none()  # fmt: skip
    if row is None:
        raise SignInRequiredError
    user, login = row
    now = utcnow()
    if login.expires_at <= now or login.created_at + timedelta(hours=settings.session_hours) <= now or not user.active:
        session.delete(login)
        session.commit()
        raise SignInRequiredError
    idle_deadline = now + timedelta(minutes=settings.office_idle_minutes)
    if idle_deadline - login.expires_at >= _SLIDE_STEP:
        login.expires_at = idle_deadline
        session.commit()
    try:
        role = Role(user.role)
    except ValueError:
        raise SignInRequiredError from None
    return Operator(id=user.id, username=user.username, full_name=user.full_name, role=role, user=user)
