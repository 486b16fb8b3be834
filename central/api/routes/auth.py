"""Logging in and out: a random bearer token, stored as a digest, valid for ``PARKGATE_SESSION_HOURS``.

Every login attempt is limited per source and per account (:mod:`central.sign_in_limits`), audited with its source
address (``login``, ``login_failed``, ``login_refused`` in the audit log) and counted in the metrics.
"""

from __future__ import annotations

import logging
import math
from datetime import datetime, timedelta
from typing import Literal

from fastapi import APIRouter, Request
from pydantic import Field
from sqlalchemy import delete, select

from central.api.deps import ALL_STAFF, Credentials, MetricsDep, SessionDep, SettingsDep, allow
from central.api.errors import ApiError
from central.api.fields import RequestModel, ResponseModel
from central.api.routes import API_PREFIX
from central.audit import record_login
from central.core.db import utcnow
from central.core.security import new_token, token_digest, verify_password
from central.models import User, UserSession
from central.sign_in_limits import record_attempt, refusal
from parking.wire import ErrorBody, StorableText

_LOGGER = logging.getLogger(__name__)

router = APIRouter(prefix=API_PREFIX + "/auth", tags=["auth"])
Staff = allow(*ALL_STAFF)


class Login(RequestModel):
    username: StorableText = Field(min_length=1, max_length=64)
    password: StorableText = Field(min_length=1, max_length=256)


class LoginToken(ResponseModel):
    token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 (the scheme, not a secret)
    expires_at: datetime
    username: str
    role: str


class Me(ResponseModel):
    id: int
    username: str
    full_name: str
    role: str


@router.post(
    "/login", response_model=LoginToken, summary="Log in: answers a bearer token",
    responses={429: {"model": ErrorBody, "description": "too many failed logins from this source or for this "
                                                       "account: wait (Retry-After)"}},
)  # fmt: skip
def login(body: Login, request: Request, session: SessionDep, settings: SettingsDep, metrics: MetricsDep) -> LoginToken:
    source = (request.client.host if request.client else "unknown")[:64]
    username = body.username
    now = utcnow()
    user = session.scalars(select(User).where(User.username == username)).first()
    refused = refusal(session, username, source, now)
    if refused is not None:  # before the password is checked: a refused attempt moves no account's count
        record_attempt(session, username, source, "refused", now)
        record_login(session, user, username, "refused", source, refused.code)
        session.commit()
        metrics.logins.labels("refused").inc()
        _LOGGER.warning("login for %r from %s refused: %s", username, source, refused.code)
        wait = max(1, math.ceil((refused.until - now).total_seconds()))
        raise ApiError(429, refused.code, refused.message, {"retry_after_s": wait}, {"Retry-After": str(wait)})
    if not verify_password(body.password, user.password_hash if user else None) or user is None or not user.active:
        reason = "unknown user" if user is None else "user disabled" if not user.active else "wrong password"
        record_attempt(session, username, source, "failed", now)
        record_login(session, user, username, "failed", source, reason)
        session.commit()
        metrics.logins.labels("failed").inc()
        raise ApiError(401, "auth.bad_credentials", "unknown user, wrong password, or user disabled")
    record_attempt(session, username, source, "ok", now)
    record_login(session, user, username, "ok", source)
    metrics.logins.labels("ok").inc()
    token = new_token("pgu")
    expires = utcnow() + timedelta(hours=settings.session_hours)
    session.execute(delete(UserSession).where(UserSession.user_id == user.id, UserSession.expires_at < utcnow()))
    session.add(UserSession(token_hash=token_digest(token), user_id=user.id, expires_at=expires))
    session.commit()
    return LoginToken(token=token, expires_at=expires, username=user.username, role=user.role)


@router.post("/logout", status_code=204, summary="End this session")
def logout(session: SessionDep, credentials: Credentials, _user: User = Staff) -> None:
    if credentials is not None:
        session.execute(delete(UserSession).where(UserSession.token_hash == token_digest(credentials.credentials)))
        session.commit()


@router.get("/me", response_model=Me, summary="Who the token belongs to")
def me(user: User = Staff) -> User:
    return user
