"""Central's test fixtures: a PostgreSQL database per module migrated with Alembic, emptied between tests; one
operator per role, logged in once per module."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, insert, text

from central.core.config import Settings
from central.core.db import make_engine
from central.core.migrate import upgrade
from central.core.security import Role, hash_password, new_token, token_digest
from central.main import create_app
from central.models import Base, User, UserSession

PASSWORD = "correct horse battery"
# Kept between the tests of a module (logging in costs an argon2 hash); everything else is emptied.
KEPT_TABLES = {"users", "user_sessions", "alembic_version"}


@pytest.fixture(scope="module")
def central_engine(postgres_sqlalchemy_url: str) -> Iterator[Engine]:
    engine = make_engine(postgres_sqlalchemy_url, pool_size=2)
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def central_settings(postgres_sqlalchemy_url: str, central_engine: Engine) -> Settings:
    return Settings(database_url=postgres_sqlalchemy_url, db_pool_size=4, bootstrap_admin_password=None)


@functools.cache
def password_hash() -> str:
    """One argon2 hash for every test user (hashing is deliberately slow)."""
    return hash_password(PASSWORD)


@pytest.fixture(scope="module")
def role_tokens(central_engine: Engine) -> dict[Role, str]:
    """One user per role (named after it) with a session made directly in the database (logging in through the API
    costs an argon2 verification per user; ``test_auth`` covers that path)."""
    tokens = {role: new_token("pgu") for role in Role}
    with central_engine.begin() as conn:
        for role in Role:
            user_id = conn.execute(
                insert(User).values(username=role.value, full_name=role.value.title(), role=role.value,
                                    password_hash=password_hash(), active=True).returning(User.id)
            ).scalar_one()  # fmt: skip
            conn.execute(insert(UserSession).values(token_hash=token_digest(tokens[role]), user_id=user_id,
                                                    expires_at=datetime.now(UTC) + timedelta(hours=2)))  # fmt: skip
    return tokens


def empty_tables(engine: Engine) -> None:
    names = [t.name for t in Base.metadata.sorted_tables if t.name not in KEPT_TABLES]
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {', '.join(names)} RESTART IDENTITY CASCADE"))
        conn.execute(text("INSERT INTO sync_clock (id, version, purged_through) VALUES (1, 0, 0)"))


@pytest.fixture
def app(central_settings: Settings, central_engine: Engine, role_tokens: dict[Role, str]) -> Iterator[FastAPI]:
    empty_tables(central_engine)
    central = create_app(central_settings)
    yield central
    central.state.engine.dispose()


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client


class Operators:
    """Headers for each role's session."""

    def __init__(self, tokens: dict[Role, str]) -> None:
        self.tokens = tokens

    def __getitem__(self, role: Role) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}

    @property
    def admin(self) -> dict[str, str]:
        return self[Role.ADMIN]


@pytest.fixture
def as_role(role_tokens: dict[Role, str]) -> Operators:
    return Operators(role_tokens)
