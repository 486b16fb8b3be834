"""Driving the office console like a browser does, with a TestClient: signing in through the form, reading the
CSRF token from the page, posting forms."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from central.core.security import Role
from tests.central.conftest import PASSWORD

_CSRF = re.compile(r'name="csrf_token" value="([0-9a-f]+)"')


def csrf_of(client: TestClient, path: str) -> str:
    page = client.get(path)
    assert page.status_code == 200, page.text
    match = _CSRF.search(page.text)
    assert match is not None, f"no CSRF token on {path}"
    return match[1]


def sign_in(client: TestClient, role: Role | str, password: str = PASSWORD) -> str:
    """Sign in as the test user named after ``role``; answers where the console sent them."""
    token = csrf_of(client, "/office/sign-in")
    answer = client.post("/office/sign-in", data={"csrf_token": token, "username": str(role), "password": password},
                         follow_redirects=False)  # fmt: skip
    assert answer.status_code == 303, answer.text
    return str(answer.headers["location"])


def post(client: TestClient, path: str, data: dict[str, str], page: str | None = None) -> tuple[int, str]:
    """POST ``data`` with the CSRF token of ``page`` (default: ``path``); answers the status and the redirect or
    the page."""
    token = csrf_of(client, page or path)
    answer = client.post(path, data={"csrf_token": token, **data}, follow_redirects=False)
    return answer.status_code, str(answer.headers.get("location", answer.text))


def error_beside(html: str, field_id: str) -> str:
    """The error message shown in the field block of the input ``field_id``; empty when none."""
    start = html.find(f'id="{field_id}"')
    assert start >= 0, f"no field {field_id}"
    block = html[start : html.find("</div>", start)]
    match = re.search(r'<p class="error"[^>]*>(.*?)</p>', block, re.S)
    return match[1].strip() if match else ""
