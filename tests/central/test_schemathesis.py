"""Schemathesis against the app's own OpenAPI document: generated requests (valid and invalid) as the admin, a
bounded number per operation; no answer may be a server error, and answers must match the documented schemas."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance
from sqlalchemy import Engine, delete, insert, update
from starlette.types import Receive, Scope, Send

from central.core.config import Settings
from central.main import create_app
from central.models import SignInAttempt, User
from tests.central.conftest import PASSWORD, empty_tables, password_hash
from tests.central.scenario import make_holder, make_plan, make_site, ok

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


class CurrentApp:
    """Schemathesis loads the schema when this module is imported, before the test database exists: it talks to
    this stand-in, which forwards to the app of the running test."""

    def __init__(self) -> None:
        # The OpenAPI document does not depend on the database: an in-memory SQLite app serves it for loading.
        self.target: FastAPI = create_app(Settings(database_url="sqlite://"))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.target(scope, receive, send)


current = CurrentApp()
FUZZ_ADMIN = "fuzz-admin"
schema = schemathesis.openapi.from_asgi("/openapi.json", current)
# The coverage phase (every boundary of every parameter) takes minutes on 56 operations; the bounded fuzzing phase
# (valid and invalid requests) keeps this under a minute.
schema.config.phases.coverage.enabled = False


@pytest.fixture(scope="module")
def fuzz_app(central_settings: Settings, central_engine: Engine) -> Iterator[FastAPI]:
    """One app and one database state for the whole run (the check is "no server error", not a result), with a
    few records so some generated ids hit something."""
    empty_tables(central_engine)
    app = create_app(central_settings)
    current.target = app
    yield app
    app.state.engine.dispose()


class FuzzAdmin:
    """An admin of its own, brought back to life when a generated call logs it out, disables or re-passwords it."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.password_hash = password_hash()
        self.headers: dict[str, str] = {}
        with engine.begin() as conn:
            conn.execute(insert(User).values(username=FUZZ_ADMIN, full_name="Fuzz", role="admin",
                                             password_hash=self.password_hash, active=True))  # fmt: skip

    def ensure(self, client: TestClient) -> dict[str, str]:
        if self.headers and client.get("/api/v1/auth/me", headers=self.headers).status_code == 200:
            return self.headers
        with self.engine.begin() as conn:
            conn.execute(update(User).where(User.username == FUZZ_ADMIN)
                         .values(role="admin", active=True, password_hash=self.password_hash))  # fmt: skip
            # Generated logins fail from this client's address: forget them, or the login limits refuse it.
            conn.execute(delete(SignInAttempt))
        token = ok(client.post("/api/v1/auth/login", json={"username": FUZZ_ADMIN, "password": PASSWORD}))["token"]
        self.headers = {"Authorization": f"Bearer {token}"}
        return self.headers


@pytest.fixture(scope="module")
def fuzz_admin(fuzz_app: FastAPI, central_engine: Engine) -> FuzzAdmin:
    admin = FuzzAdmin(central_engine)
    with TestClient(fuzz_app) as client:
        headers = admin.ensure(client)
        make_site(client, headers)
        make_holder(client, headers)
        make_plan(client, headers)
    return admin


@pytest.fixture
def admin_headers(fuzz_app: FastAPI, fuzz_admin: FuzzAdmin) -> dict[str, str]:
    current.target = fuzz_app
    return fuzz_admin.ensure(TestClient(fuzz_app))


@schema.parametrize()
@settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors(case: Any, admin_headers: dict[str, str]) -> None:
    case.call_and_validate(headers=admin_headers, checks=[not_a_server_error, response_schema_conformance])
