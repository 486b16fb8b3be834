"""Schemathesis against the app's own OpenAPI document: generated requests (valid and invalid) as the admin, a
bounded number per operation; no answer may be a server error, and answers must match the documented schemas."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, settings
from hypothesis.errors import Flaky
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance
from sqlalchemy import Engine, delete, insert, update
from starlette.types import Receive, Scope, Send

from central.core.config import Settings
from central.main import create_app
from central.models import SignInAttempt, User
from tests.central.conftest import PASSWORD, empty_tables, password_hash
from tests.central.scenario import make_holder, make_plan, make_site, ok
from tests.soak_summary import Row, record

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
    case.call_and_validate(
        headers=admin_headers, checks=[not_a_server_error, response_schema_conformance, specific_refusal]
    )


# ---------------------------------------------------------------------------------------------------- stateful
# FastAPI writes no OpenAPI links, but schemathesis infers them by dependency analysis (a POST /passes answer's id
# feeds GET/renew/suspend/cancel /passes/{pass_id}, an invoice's id its payments and refunds, and so on: 64 of the
# 126 operations get incoming links), so its state machine walks create -> read -> change -> delete sequences with
# real ids, which plain per-operation fuzzing (ids made up) reaches only by luck.


def specific_refusal(ctx: Any, response: Any, case: Any) -> bool | None:
    """A refusal (4xx) is central's error body with a code and a message; a 422 names the field(s) it refuses."""
    if not 400 <= response.status_code < 500 or response.status_code == 429:
        return None
    try:
        body = response.json()
    except ValueError:
        raise AssertionError(f"{response.status_code} without a JSON error body: {response.text[:200]!r}") from None
    if not (isinstance(body, dict) and body.get("code") and body.get("message")):
        raise AssertionError(f"{response.status_code} without a code and a message: {str(body)[:200]}")
    if body["code"] == "request.invalid":
        detail = body.get("detail")
        if not detail or not all(isinstance(p, dict) and p.get("loc") for p in detail):
            raise AssertionError(f"422 without the refused field's location: {str(body)[:300]}")
    if body["code"] == "db.unstorable":  # the database refused a value the request validation let through
        raise AssertionError(f"422 from the database, no field named: {str(case.body)[:200]}")
    return True


STATEFUL_CHECKS = [not_a_server_error, response_schema_conformance, specific_refusal]


class CentralWorkflow(schema.as_state_machine()):  # type: ignore[misc]
    """The checks' failures are counted here, not raised: hypothesis would replay the sequence to shrink it, and a
    replay against a database the first run changed draws differently (a flaky definition, not a finding)."""

    admin: FuzzAdmin | None = None
    headers: dict[str, str] = {}  # noqa: RUF012 (one admin's headers for the whole run)
    calls = 0
    sequences = 0
    server_errors = 0
    failures: list[str] = []  # noqa: RUF012

    def setup(self) -> None:
        assert self.admin is not None
        type(self).sequences += 1
        type(self).headers = self.admin.ensure(TestClient(current.target))

    def get_call_kwargs(self, case: Any) -> dict[str, Any]:
        return {"headers": type(self).headers}

    def validate_response(self, response: Any, case: Any, additional_checks: Any = None, **kwargs: Any) -> None:
        cls = type(self)
        cls.calls += 1
        cls.server_errors += response.status_code >= 500
        try:
            case.validate_response(response, checks=STATEFUL_CHECKS, transport_kwargs=kwargs)
        except Exception as err:  # schemathesis' FailureGroup: counted, shown at the end
            cls.failures.append(f"{case.method} {case.formatted_path} -> {response.status_code}: {err}"[:600])


def run_workflow(fuzz_app: FastAPI, fuzz_admin: FuzzAdmin, examples: int, target: str) -> None:
    """Run ``examples`` sequences. Like schemathesis' own runner, a run that hypothesis ends as flaky (its
    preconditions read the server's answers, so a replayed prefix can draw differently) is started again."""
    current.target = fuzz_app
    workflow = CentralWorkflow
    workflow.admin, workflow.calls, workflow.sequences, workflow.server_errors = fuzz_admin, 0, 0, 0
    workflow.failures = []
    started, restarts = time.perf_counter(), 0
    while workflow.sequences < examples and restarts <= 20:
        try:
            workflow.run(settings=settings(max_examples=examples - workflow.sequences, stateful_step_count=8,
                                           deadline=None, database=None, phases=[Phase.generate],
                                           suppress_health_check=list(HealthCheck)))  # fmt: skip
        except Flaky:
            restarts += 1
        else:
            break
    rate = workflow.calls / (time.perf_counter() - started)
    record(Row(target=target, inputs=workflow.calls, crashes=workflow.server_errors + len(workflow.failures),
               detail=f"{workflow.sequences} sequences of up to 8 linked calls, {restarts} restarts after a flaky "
               f"replay; {rate:,.0f} calls/s"))  # fmt: skip
    assert workflow.calls > examples
    assert not workflow.server_errors, "\n".join(workflow.failures[:5])
    assert not workflow.failures, "\n".join(workflow.failures[:5])


def test_stateful_workflows_get_no_server_errors(fuzz_app: FastAPI, fuzz_admin: FuzzAdmin) -> None:
    run_workflow(fuzz_app, fuzz_admin, 10, "fuzz: central API, stateful (short)")


@pytest.mark.fuzz
@pytest.mark.timeout(3600)
def test_stateful_workflows_long(fuzz_app: FastAPI, fuzz_admin: FuzzAdmin) -> None:
    run_workflow(fuzz_app, fuzz_admin, 1_000, "fuzz: central API, stateful")
