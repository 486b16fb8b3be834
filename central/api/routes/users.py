"""Operators and their roles: the admin's business."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import Field
from sqlalchemy import delete, select

from central.api.deps import SessionDep, allow
from central.api.errors import conflict, not_found
from central.api.fields import Limit, Name, Offset, RequestModel, ResponseModel, RowId
from central.api.routes import API_PREFIX
from central.audit import record_change, snapshot
from central.core.security import Role, hash_password
from central.models import User, UserSession

router = APIRouter(prefix=API_PREFIX + "/users", tags=["users"])
Admin = allow(Role.ADMIN)


class UserIn(RequestModel):
    username: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    full_name: Name
    role: Role
    password: str = Field(min_length=8, max_length=256)


class UserChange(RequestModel):
    full_name: Name | None = None
    role: Role | None = None
    active: bool | None = None
    password: str | None = Field(default=None, min_length=8, max_length=256)


class UserOut(ResponseModel):
    id: int
    username: str
    full_name: str
    role: str
    active: bool
    created_at: datetime


@router.get("", response_model=list[UserOut], summary="List operators")
def list_users(session: SessionDep, limit: Limit = 100, offset: Offset = 0, _user: User = Admin) -> list[User]:
    return list(session.scalars(select(User).order_by(User.id).limit(limit).offset(offset)))


@router.post("", response_model=UserOut, status_code=201, summary="Create an operator")
def create_user(body: UserIn, session: SessionDep, user: User = Admin) -> User:
    if session.scalars(select(User).where(User.username == body.username)).first() is not None:
        raise conflict("user.exists", f"user {body.username!r} exists")
    created = User(username=body.username, full_name=body.full_name, role=body.role.value,
                   password_hash=hash_password(body.password))  # fmt: skip
    session.add(created)
    session.flush()
    record_change(session, user, "user.create", "user", created.id, None, snapshot(created))
    session.commit()
    return created


@router.patch("/{user_id}", response_model=UserOut, summary="Change an operator's name, role, password or state")
def change_user(user_id: RowId, body: UserChange, session: SessionDep, user: User = Admin) -> User:
    target = session.get(User, user_id)
    if target is None:
        raise not_found("user", user_id)
    before = snapshot(target)
    if body.full_name is not None:
        target.full_name = body.full_name
    if body.role is not None:
        target.role = body.role.value
    if body.active is not None:
        target.active = body.active
    if body.password is not None:
        target.password_hash = hash_password(body.password)
    if body.active is False or body.password is not None or body.role is not None:
        session.execute(delete(UserSession).where(UserSession.user_id == target.id))  # log them out everywhere
    record_change(session, user, "user.change", "user", target.id, before, snapshot(target))
    session.commit()
    return target
