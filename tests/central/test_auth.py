"""Logging in and out, sessions that expire, disabled users, and the admin managing operators (audited)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, update

from central.core.security import Role
from central.models import UserSession
from tests.central.conftest import Operators
from tests.central.scenario import ok

pytestmark = pytest.mark.postgres


def test_login_me_logout(client: TestClient, as_role: Operators) -> None:
    new = {"username": "li", "full_name": "李雷", "role": "collector", "password": "booth-3-night"}
    ok(client.post("/api/v1/users", headers=as_role.admin, json=new), 201)
    bad = client.post("/api/v1/auth/login", json={"username": "li", "password": "wrong-password"})
    assert (bad.status_code, bad.json()["code"]) == (401, "auth.bad_credentials")
    nobody = client.post("/api/v1/auth/login", json={"username": "nobody", "password": "wrong-password"})
    assert nobody.json()["code"] == "auth.bad_credentials"
    login = ok(client.post("/api/v1/auth/login", json={"username": "li", "password": "booth-3-night"}))
    headers = {"Authorization": f"Bearer {login['token']}"}
    assert ok(client.get("/api/v1/auth/me", headers=headers))["role"] == "collector"
    ok(client.post("/api/v1/auth/logout", headers=headers), 204)
    assert client.get("/api/v1/auth/me", headers=headers).json()["code"] == "auth.invalid_token"


def test_expired_sessions_and_disabled_users_are_refused(
    client: TestClient, as_role: Operators, central_engine: Engine
) -> None:
    new = {"username": "zhao", "full_name": "Zhao", "role": "office", "password": "ledger-2026"}
    user = ok(client.post("/api/v1/users", headers=as_role.admin, json=new), 201)
    token = ok(client.post("/api/v1/auth/login", json={"username": "zhao", "password": "ledger-2026"}))["token"]
    headers = {"Authorization": f"Bearer {token}"}
    with central_engine.begin() as conn:
        conn.execute(update(UserSession).where(UserSession.user_id == user["id"])
                     .values(expires_at=datetime.now(UTC) - timedelta(minutes=1)))  # fmt: skip
    assert client.get("/api/v1/auth/me", headers=headers).json()["code"] == "auth.expired_token"
    token = ok(client.post("/api/v1/auth/login", json={"username": "zhao", "password": "ledger-2026"}))["token"]
    ok(client.patch(f"/api/v1/users/{user['id']}", headers=as_role.admin, json={"active": False}))
    assert client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    refused = client.post("/api/v1/auth/login", json={"username": "zhao", "password": "ledger-2026"})
    assert refused.json()["code"] == "auth.bad_credentials"
    trail = ok(client.get(f"/api/v1/audit?entity=user&entity_id={user['id']}", headers=as_role[Role.SUPERVISOR]))
    assert [e["action"] for e in trail] == ["user.change", "user.create"]
    assert trail[0]["before"]["active"] is True
    assert trail[0]["after"]["active"] is False
    assert "password_hash" not in trail[1]["after"]


def test_unknown_routes_and_methods_answer_error_bodies(client: TestClient) -> None:
    missing = client.get("/api/v1/nothing-here")
    assert (missing.status_code, missing.json()["code"]) == (404, "http.not_found")
    wrong = client.delete("/api/v1/auth/me")
    assert (wrong.status_code, wrong.json()["code"]) == (405, "http.method_not_allowed")


def test_an_unexpected_failure_still_answers_an_error_body(app: FastAPI) -> None:
    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("disk on fire")

    with TestClient(app, raise_server_exceptions=False) as client:
        answer = client.get("/boom")
    assert (answer.status_code, answer.json()["code"]) == (500, "internal.error")
    assert "disk on fire" not in answer.text
