"""Central's login against spraying and guessing, over real HTTP (uvicorn) from several source addresses: limited
per source before any account's count moves, a growing delay per account, every attempt audited with its source,
and counted in the metrics."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import Engine, insert, select, text

from central.models import AuditEntry, SignInAttempt, User
from central.sign_in_limits import SOURCE_MAX_FAILURES, account_delay
from tests.central.conftest import PASSWORD, password_hash
from tests.central.test_server import served as served  # the fixture: the app on a real uvicorn

pytestmark = pytest.mark.postgres


@pytest.fixture
def source(served: str) -> Iterator[dict[str, httpx.Client]]:
    """An HTTP client per source address on the loopback (127.0.0.1 ... 127.0.0.4)."""
    clients = {
        f"127.0.0.{n}": httpx.Client(base_url=served, transport=httpx.HTTPTransport(local_address=f"127.0.0.{n}"))
        for n in range(1, 5)
    }
    yield clients
    for client in clients.values():
        client.close()


def add_users(engine: Engine, *names: str) -> None:
    with engine.begin() as conn:
        for name in names:
            conn.execute(insert(User).values(username=name, full_name=name, role="collector",
                                             password_hash=password_hash(), active=True))  # fmt: skip


def login(client: httpx.Client, username: str, password: str) -> httpx.Response:
    return client.post("/api/v1/auth/login", json={"username": username, "password": password})


def audit(engine: Engine) -> list[tuple[str, str, str]]:
    with engine.connect() as conn:
        rows = conn.execute(select(AuditEntry.action, AuditEntry.entity_id, AuditEntry.after)
                            .where(AuditEntry.entity == "login").order_by(AuditEntry.id))  # fmt: skip
        return [(action, entity_id, after["source"]) for action, entity_id, after in rows]


def test_a_password_sprayed_from_one_source_is_refused_before_any_account_is_checked(
    app: FastAPI, source: dict[str, httpx.Client], central_engine: Engine
) -> None:
    names = [f"spray{n:02d}" for n in range(12)]
    add_users(central_engine, *names)
    attacker, office = source["127.0.0.2"], source["127.0.0.3"]
    answers = [login(attacker, name, "Spring2026!") for name in names[:-1]]
    answers.append(login(attacker, names[-1], PASSWORD))  # the right password, but from a source over its limit
    assert [a.status_code for a in answers] == [401] * SOURCE_MAX_FAILURES + [429] * (12 - SOURCE_MAX_FAILURES)
    assert answers[-1].json()["code"] == "auth.rate_limited"
    assert int(answers[-1].headers["Retry-After"]) > 0
    assert login(office, names[-1], PASSWORD).status_code == 200  # the office's own address is not affected
    trail = audit(central_engine)
    assert trail[:SOURCE_MAX_FAILURES] == [("login_failed", n, "127.0.0.2") for n in names[:SOURCE_MAX_FAILURES]]
    assert trail[SOURCE_MAX_FAILURES:] == [
        ("login_refused", names[10], "127.0.0.2"), ("login_refused", names[11], "127.0.0.2"),
        ("login", names[11], "127.0.0.3"),
    ]  # fmt: skip
    # Refused attempts moved no account's count: those accounts have no failure at all.
    with central_engine.connect() as conn:
        counted = conn.execute(select(SignInAttempt.username).where(SignInAttempt.outcome == "failed")).scalars()
        assert set(counted) == set(names[:SOURCE_MAX_FAILURES])
    metrics = attacker.get("/metrics").text
    assert 'parkgate_central_logins_total{outcome="failed"} 10.0' in metrics
    assert 'parkgate_central_logins_total{outcome="refused"} 2.0' in metrics
    assert 'parkgate_central_logins_total{outcome="ok"} 1.0' in metrics


def test_guessing_one_account_from_many_sources_meets_a_growing_delay(
    app: FastAPI, source: dict[str, httpx.Client], central_engine: Engine
) -> None:
    add_users(central_engine, "li")
    clients = list(source.values())
    for n in range(5):
        assert login(clients[n % 4], "li", f"guess-{n}").status_code == 401
    locked = login(clients[1], "li", PASSWORD)  # the right password, refused while the delay runs
    assert (locked.status_code, locked.json()["code"]) == (429, "auth.locked")
    assert 1 <= int(locked.headers["Retry-After"]) <= 30
    with central_engine.begin() as conn:  # 31 seconds pass
        conn.execute(text("UPDATE sign_in_attempts SET at = at - interval '31 seconds'"))
    assert login(clients[2], "li", "guess-5").status_code == 401  # allowed again, and the delay doubles
    again = login(clients[3], "li", PASSWORD)
    assert (again.status_code, 31 <= int(again.headers["Retry-After"]) <= 60) == (429, True)
    with central_engine.begin() as conn:
        conn.execute(text("UPDATE sign_in_attempts SET at = at - interval '61 seconds'"))
    assert login(clients[0], "li", PASSWORD).status_code == 200  # and a success clears the run
    assert login(clients[0], "li", "guess-6").status_code == 401
    assert [a for a, _, _ in audit(central_engine)].count("login_refused") == 2


def test_the_delay_grows_to_a_cap() -> None:
    assert [account_delay(n).total_seconds() for n in (0, 4, 5, 6, 7, 10, 40)] == [0, 0, 30, 60, 120, 900, 900]
