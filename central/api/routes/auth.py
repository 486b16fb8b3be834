"""Logging in and out: a random bearer token, stored as a digest, valid for ``PARKGATE_SESSION_HOURS``."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from fastapi import APIRouter
from pydantic import Field
from sqlalchemy import delete, select

from central.api.deps import ALL_STAFF, Credentials, SessionDep, SettingsDep, allow
from central.api.errors import ApiError
from central.api.fields import RequestModel, ResponseModel
from central.api.routes import API_PREFIX
from central.core.db import utcnow
from central.core.security import new_token, token_digest, verify_password
from central.models import User, UserSession

router = APIRouter(prefix=API_PREFIX + "/auth", tags=["auth"])
Staff = allow(*ALL_STAFF)


class Login(RequestModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


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


@router.post("/login", response_model=LoginToken, summary="Log in: answers a bearer token")
def login(body: Login, session: SessionDep, settings: SettingsDep) -> LoginToken:
    user = session.scalars(select(User).where(User.username == body.username)).first()
    if not verify_password(body.password, user.password_hash if user else None) or user is None or not user.active:
        raise ApiError(401, "auth.bad_credentials", "unknown user, wrong password, or user disabled")
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
