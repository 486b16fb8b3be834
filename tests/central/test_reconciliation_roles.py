"""Who may do what in reconciliation: the supervisor signs off and flags (never a shift they worked), the cashier
records a bag's custody, auditors and admins read; every action is audited with before and after. Also the
``parkgate central reconcile`` and ``rebuild-projections`` commands over the same database."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, insert, select, update

from central.core.db import make_session_factory, utcnow
from central.core.security import Role, new_token, token_digest
from central.models import AuditEntry, MoneyRecord, User, UserSession
from central.reconciliation.projection import rebuild_projections
from parking.cli import main
from tests.central.conftest import Operators, password_hash
from tests.central.edge_site import DAY, T0, EdgeSite
from tests.central.scenario import make_site, ok
from tests.central.test_reconciliation import plain_shift

pytestmark = pytest.mark.postgres
READERS = {Role.ADMIN, Role.SUPERVISOR, Role.AUDITOR}


def error(answer: object) -> tuple[int, str]:
    status = answer.status_code  # type: ignore[attr-defined]
    return status, answer.json()["code"]  # type: ignore[attr-defined]


def user_headers(engine: Engine, username: str, role: Role) -> dict[str, str]:
    """A central user of ``role`` named like an edge operator (a collector promoted to supervisor, say)."""
    token = new_token("pgu")
    with engine.begin() as conn:
        user_id = conn.execute(
            insert(User).values(username=username, full_name=username, role=role.value,
                                password_hash=password_hash(), active=True).returning(User.id)
        ).scalar_one()  # fmt: skip
        conn.execute(insert(UserSession).values(token_hash=token_digest(token), user_id=user_id,
                                                expires_at=utcnow() + timedelta(hours=1)))  # fmt: skip
    return {"Authorization": f"Bearer {token}"}


def test_each_role_per_action_and_the_collector_cannot_sign_off_their_shift(
    tmp_path: Path, client: TestClient, as_role: Operators, central_engine: Engine
) -> None:
    edge = EdgeSite(tmp_path, make_site(client, as_role.admin))
    shift = plain_shift(edge, operator="c07", bag="TB-0100")
    edge.push(client)
    base = f"/api/v1/reconciliation/shifts/{shift.id}"
    for role in Role:
        for path in (f"/api/v1/reconciliation/days/lakeview/{DAY}", base):
            answer = client.get(path, headers=as_role[role])
            assert answer.status_code == (200 if role in READERS else 403), (role, path)
        bags = client.get("/api/v1/bags", headers=as_role[role], params={"car_park": "lakeview"})
        assert bags.status_code == (200 if role in READERS | {Role.CASHIER} else 403), role
        if role is not Role.SUPERVISOR:
            assert error(client.post(base + "/sign-off", headers=as_role[role], json={})) == (403, "auth.forbidden")
            assert error(client.post(base + "/flag", headers=as_role[role], json={"note": "x"})) == (
                403, "auth.forbidden",
            )  # fmt: skip
        if role is not Role.CASHIER:
            answer = client.post("/api/v1/bags/lakeview/TB-0100/pick-up", headers=as_role[role],
                                 json={"witnessed_by": "supervisor"})  # fmt: skip
            assert error(answer) == (403, "auth.forbidden"), role

    # the shift's own collector, now a supervisor at central, can neither sign it off nor flag it
    own = user_headers(central_engine, "c07", Role.SUPERVISOR)
    assert error(client.post(base + "/sign-off", headers=own, json={"note": "mine"})) == (403, "review.own_shift")
    assert error(client.post(base + "/flag", headers=own, json={"note": "mine"})) == (403, "review.own_shift")
    assert error(client.post(base + "/flag", headers=as_role[Role.SUPERVISOR], json={})) == (
        422, "review.note_required",
    )  # fmt: skip
    flagged = ok(client.post(base + "/flag", headers=as_role[Role.SUPERVISOR], json={"note": "check the bag"}))
    assert flagged["state"] == "flagged"

    cashier = as_role[Role.CASHIER]
    pick = "/api/v1/bags/lakeview/TB-0100/pick-up"
    assert error(client.post(pick, headers=cashier, json={"witnessed_by": "cashier"})) == (
        422, "bag.witness_is_cashier",
    )  # fmt: skip
    assert error(client.post("/api/v1/bags/lakeview/TB-0100/deposit", headers=cashier,
                             json={"slip_reference": "X"})) == (409, "bag.not_picked_up")  # fmt: skip
    assert error(client.post("/api/v1/bags/lakeview/NOPE/pick-up", headers=cashier,
                             json={"witnessed_by": "supervisor"})) == (404, "bag.not_found")  # fmt: skip
    ok(
        client.post(
            pick, headers=cashier, json={"witnessed_by": "supervisor", "at": (T0 + timedelta(hours=8)).isoformat()}
        )
    )
    assert error(client.post(pick, headers=cashier, json={"witnessed_by": "supervisor"})) == (
        409, "bag.already_picked_up",
    )  # fmt: skip
    ok(client.post("/api/v1/bags/lakeview/TB-0100/count", headers=cashier, json={"counted": 19000}))
    ok(client.post("/api/v1/bags/lakeview/TB-0100/deposit", headers=cashier, json={"slip_reference": "ICBC-1"}))
    result = ok(client.get(base, headers=as_role[Role.AUDITOR]))
    assert [f["code"] for f in result["findings"]] == ["bag.count_differs"]
    assert result["state"] == "flagged"

    with make_session_factory(central_engine)() as session:
        actions = session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
        assert [a for a in actions if a.startswith(("shift.", "bag."))] == [
            "shift.flag", "bag.pick_up", "bag.count", "bag.deposit",
        ]  # fmt: skip
        flag = session.scalars(select(AuditEntry).where(AuditEntry.action == "shift.flag")).one()
        assert flag.before is None
        assert flag.after is not None
        assert flag.after["note"] == "check the bag"
        assert flag.username == "supervisor"
        count = session.scalars(select(AuditEntry).where(AuditEntry.action == "bag.count")).one()
        assert count.before is not None
        assert count.before["counted"] is None
        assert count.after is not None
        assert count.after["counted"] == 19000


def test_the_commands_reconcile_a_day_and_rebuild_the_projection(
    tmp_path: Path, client: TestClient, as_role: Operators, central_engine: Engine, postgres_sqlalchemy_url: str,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    edge = EdgeSite(tmp_path, make_site(client, as_role.admin))
    shift = plain_shift(edge, short=500)
    edge.push(client)
    monkeypatch.setenv("PARKGATE_DATABASE_URL", postgres_sqlalchemy_url)
    capsys.readouterr()
    assert main(["central", "reconcile", "--car-park", "lakeview", "--day", DAY, "--json"]) == 0
    day = json.loads(capsys.readouterr().out)
    assert [s["shift"] for s in day["shifts"]] == [shift.id]
    assert [f["code"] for f in day["shifts"][0]["findings"]] == ["cash.shortage"]
    assert main(["central", "reconcile", "--car-park", "lakeview", "--day", DAY]) == 0
    text = capsys.readouterr().out
    assert "cash.shortage" in text
    assert "difference -5.00" in text

    with make_session_factory(central_engine)() as session:
        before = session.scalar(select(func.count()).select_from(MoneyRecord))
        session.execute(update(MoneyRecord).values(amount=None))  # a projection bug
        session.commit()
    assert main(["central", "rebuild-projections"]) == 0
    assert "rebuilt" in capsys.readouterr().out
    with make_session_factory(central_engine)() as session:
        assert session.scalar(select(func.count()).select_from(MoneyRecord)) == before == edge.journal.last_seq
        assert rebuild_projections(session) == before
    assert main(["central", "reconcile", "--car-park", "lakeview", "--day", DAY, "--json"]) == 0
    assert [f["code"] for f in json.loads(capsys.readouterr().out)["shifts"][0]["findings"]] == ["cash.shortage"]


def test_a_transaction_whose_tariff_central_cannot_resolve(
    tmp_path: Path, client: TestClient, as_role: Operators, central_engine: Engine
) -> None:
    edge = EdgeSite(tmp_path, make_site(client, as_role.admin), send_tariffs=False)  # an edge of before
    shift = plain_shift(edge)
    edge.push(client)
    result = ok(client.get(f"/api/v1/reconciliation/shifts/{shift.id}", headers=as_role.admin))
    assert sorted(f["code"] for f in result["findings"]) == ["tariff.unresolved"] * 3
    # published at central, the same text resolves it
    text = (Path(__file__).resolve().parents[2] / "config" / "tariffs" / "residential.toml").read_text()
    ok(client.put("/api/v1/tariffs/residential", headers=as_role.admin, json={"content": text}))
    result = ok(client.get(f"/api/v1/reconciliation/shifts/{shift.id}", headers=as_role.admin))
    assert result["findings"] == []


def test_reconciliation_on_the_embedded_sqlite_database(tmp_path: Path) -> None:
    """The default central (a SQLite file) projects and reconciles the same way."""
    from central.core.config import Settings
    from central.core.db import make_engine
    from central.core.migrate import upgrade
    from central.main import create_app

    url = f"sqlite:///{tmp_path / 'central.db'}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    app = create_app(Settings(database_url=url, bootstrap_admin_password="correct horse battery"))
    with TestClient(app) as client:
        token = ok(client.post("/api/v1/auth/login", json={"username": "admin", "password": "correct horse battery"}))
        admin = {"Authorization": f"Bearer {token['token']}"}
        edge = EdgeSite(tmp_path, make_site(client, admin))
        shift = plain_shift(edge, short=200)
        edge.push(client)
        day = ok(client.get(f"/api/v1/reconciliation/days/lakeview/{DAY}", headers=admin))
        assert [s["shift"] for s in day["shifts"]] == [shift.id]
        assert [f["code"] for f in day["shifts"][0]["findings"]] == ["cash.shortage"]
        assert day["shifts"][0]["figures"]["fee_recheck"]["equal"] == 3
