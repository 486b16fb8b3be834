"""The office console through its routes (TestClient against central on PostgreSQL): signing in and out, each
role's landing page and navigation, 403 for a forbidden page and for a POST without the CSRF token, sessions that
expire when idle, failed sign-ins audited and throttled, the languages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from central.core.config import Settings
from central.core.security import Role
from central.main import create_app
from central.models import AuditEntry, User, UserSession
from central.office.navigation import PAGES, landing_path
from tests.central.conftest import PASSWORD
from tests.central.office import csrf_of, post, sign_in

pytestmark = pytest.mark.postgres


@pytest.mark.parametrize("role", list(Role))
def test_each_role_lands_on_its_work_and_sees_only_its_pages(client: TestClient, role: Role) -> None:
    assert sign_in(client, role) == landing_path(role)
    page = client.get(landing_path(role))
    assert page.status_code == 200, page.text
    for office_page in PAGES.values():
        link = f'href="{office_page.path}"'
        if role in office_page.roles and office_page.available and office_page.in_navigation:
            assert link in page.text, f"{role} should see {office_page.key}"
        elif role not in office_page.roles:
            assert link not in page.text, f"{role} must not see {office_page.key}"
            if office_page.available and office_page.in_navigation:
                assert client.get(office_page.path).status_code == 403, office_page.key


def test_a_forbidden_page_answers_403_with_a_page_and_its_link_is_hidden(client: TestClient) -> None:
    sign_in(client, Role.FRONT_DESK)
    desk = client.get("/office/desk")
    assert 'href="/office/audit"' not in desk.text
    assert 'href="/office/desk"' in desk.text
    refused = client.get("/office/audit", headers={"Accept-Language": "en"})
    assert refused.status_code == 403
    assert "Your role may not open this page" in refused.text
    assert 'href="/office/desk"' in refused.text  # the navigation of the operator's own work is still there


def test_a_post_without_its_csrf_token_is_refused(client: TestClient, central_engine: Engine) -> None:
    sign_in(client, Role.FRONT_DESK)
    for data in ({"name": "王小明"}, {"name": "王小明", "csrf_token": "0" * 40}):
        refused = client.post("/office/holders/new", data=data, headers={"Accept-Language": "en"},
                              follow_redirects=False)  # fmt: skip
        assert refused.status_code == 403
        assert "security token" in refused.text
    # Nor is the sign-in form accepted without the token of its pre-session cookie.
    other = TestClient(client.app)
    assert other.post("/office/sign-in", data={"username": "admin", "password": "x"}).status_code == 403
    with Session(central_engine) as session:
        assert session.scalar(select(AuditEntry).where(AuditEntry.action == "holder.create")) is None


def test_not_signed_in_goes_to_the_sign_in_page_and_back(client: TestClient) -> None:
    answer = client.get("/office/vehicles?kind=free", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/office/sign-in?next=%2Foffice%2Fvehicles%3Fkind%3Dfree"
    token = csrf_of(client, answer.headers["location"])
    back = client.post("/office/sign-in", data={"csrf_token": token, "username": "supervisor",
                                                "password": PASSWORD, "next": "/office/vehicles?kind=free"},
                       follow_redirects=False)  # fmt: skip
    assert back.headers["location"] == "/office/vehicles?kind=free"
    # A next that leaves the console is ignored.
    client.cookies.clear()
    token = csrf_of(client, "/office/sign-in")
    away = client.post("/office/sign-in", data={"csrf_token": token, "username": "supervisor",
                                                "password": PASSWORD, "next": "//evil.example/"},
                       follow_redirects=False)  # fmt: skip
    assert away.headers["location"] == landing_path(Role.SUPERVISOR)


def test_the_session_cookie_is_httponly_lax_and_signing_out_ends_it(client: TestClient) -> None:
    token = csrf_of(client, "/office/sign-in")
    answer = client.post("/office/sign-in", data={"csrf_token": token, "username": "cashier",
                                                  "password": PASSWORD}, follow_redirects=False)  # fmt: skip
    cookie = next(v for k, v in answer.headers.multi_items() if k == "set-cookie" and v.startswith("parkgate_office="))
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    assert "Path=/office" in cookie
    status, where = post(client, "/office/sign-out", {}, page="/office/cashier")
    assert (status, where) == (303, "/office/sign-in")
    assert client.get("/office/cashier", follow_redirects=False).status_code == 303


def test_a_session_ends_after_the_idle_time(
    central_settings: Settings, central_engine: Engine, role_tokens: dict[Role, str]
) -> None:
    settings = central_settings.model_copy(update={"office_idle_minutes": 5})
    app = create_app(settings)
    try:
        with TestClient(app) as client:
            sign_in(client, Role.AUDITOR)
            assert client.get("/office/audit").status_code == 200
            with central_engine.begin() as conn:
                row = conn.execute(select(UserSession.expires_at).order_by(UserSession.created_at.desc())).first()
                assert row is not None
                assert timedelta(minutes=4) < row[0] - datetime.now(UTC) <= timedelta(minutes=5)
                # Six idle minutes later:
                conn.execute(update(UserSession).where(UserSession.expires_at == row[0])
                             .values(expires_at=datetime.now(UTC) - timedelta(minutes=1)))  # fmt: skip
            answer = client.get("/office/audit", follow_redirects=False)
            assert answer.status_code == 303
            assert answer.headers["location"].startswith("/office/sign-in")
    finally:
        app.state.engine.dispose()


def test_failed_sign_ins_are_audited_and_throttled_per_account(client: TestClient, central_engine: Engine) -> None:
    app: FastAPI = client.app  # type: ignore[assignment]
    attempts = app.state.settings.office_sign_in_attempts
    for _ in range(attempts):
        token = csrf_of(client, "/office/sign-in")
        form = {"csrf_token": token, "username": "front_desk", "password": "wrong"}
        refused = client.post("/office/sign-in", data=form, headers={"Accept-Language": "en"})
        assert refused.status_code == 401
        assert "wrong password" in refused.text
    token = csrf_of(client, "/office/sign-in")
    throttled = client.post("/office/sign-in", data={"csrf_token": token, "username": "front_desk",
                                                     "password": PASSWORD},
                            headers={"Accept-Language": "en"})  # fmt: skip
    assert throttled.status_code == 429
    assert "Too many failed sign-ins" in throttled.text
    # Another account from the same address is not locked out by these.
    assert sign_in(client, Role.CASHIER) == "/office/cashier"
    with Session(central_engine) as session:
        failures = list(session.scalars(select(AuditEntry).where(AuditEntry.action == "office.sign_in_failed")))
    assert [f.after["why"] for f in failures if f.after] == ["bad_password"] * attempts + ["throttled"]
    assert {f.entity_id for f in failures} == {"front_desk"}


def test_languages_by_cookie_link_and_accept_language(client: TestClient) -> None:
    assert "<title>登录" in client.get("/office/sign-in").text  # zh-CN by default
    assert "<title>Sign in" in client.get("/office/sign-in", headers={"Accept-Language": "en-GB,en;q=0.8"}).text
    assert "<title>登录" in client.get("/office/sign-in", headers={"Accept-Language": "fr, zh;q=0.5"}).text
    switched = client.get("/office/language/en?next=/office/sign-in", follow_redirects=False)
    assert switched.headers["location"] == "/office/sign-in"
    client.cookies.set("parkgate_office_lang", "en", path="/office")
    assert "<title>Sign in" in client.get("/office/sign-in").text
    client.cookies.set("parkgate_office_lang", "xx", path="/office")
    assert "<title>登录" in client.get("/office/sign-in").text


def test_a_malformed_or_unknown_office_address_answers_a_page(client: TestClient) -> None:
    sign_in(client, Role.FRONT_DESK)
    for path in ("/office/desk?q=x&page=abc", "/office/holders/abc", "/office/no-such-page", "/office/holders/999"):
        answer = client.get(path, headers={"Accept-Language": "en"})
        assert answer.status_code == 404, path
        assert "There is no such record" in answer.text, path
    api = client.get("/api/v1/holders/abc")
    assert api.status_code in (401, 422)
    assert api.headers["content-type"] == "application/json"
    assert client.get("/api/v1/nothing").json()["code"] == "http.not_found"


def test_a_session_ends_after_the_session_hours_even_when_busy_and_when_the_user_is_disabled(
    client: TestClient, central_engine: Engine
) -> None:
    sign_in(client, Role.OFFICE)
    assert client.get("/office/finance").status_code == 200
    hours = client.app.state.settings.session_hours  # type: ignore[attr-defined]
    with central_engine.begin() as conn:
        newest = conn.execute(select(UserSession.token_hash).order_by(UserSession.created_at.desc())).scalars().first()
        conn.execute(update(UserSession).where(UserSession.token_hash == newest)
                     .values(created_at=datetime.now(UTC) - timedelta(hours=hours, minutes=1)))  # fmt: skip
    assert client.get("/office/finance", follow_redirects=False).status_code == 303
    sign_in(client, Role.OFFICE)
    with central_engine.begin() as conn:
        conn.execute(update(User).where(User.username == "office").values(active=False))
    try:
        assert client.get("/office/finance", follow_redirects=False).status_code == 303
    finally:
        with central_engine.begin() as conn:
            conn.execute(update(User).where(User.username == "office").values(active=True))
