"""``parkgate central``: migrate, create a user and an edge on a SQLite file (the default database), and the token
printed once works for sync and ingest against that same file."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from central.core.config import Settings
from central.main import create_app
from central.models import EdgeTransaction, ReportDaily
from parking.cli import main
from parking.wire import IngestAck, IngestBatch, SyncPage
from tests.central.scenario import chain


def test_admin_commands_on_a_sqlite_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'central.db'}"
    monkeypatch.setenv("PARKGATE_DATABASE_URL", url)
    assert main(["central", "migrate"]) == 0
    monkeypatch.setenv("PARKGATE_NEW_PASSWORD", "short")
    assert main(["central", "create-user", "wang", "--role", "front_desk"]) == 1
    monkeypatch.setenv("PARKGATE_NEW_PASSWORD", "a good long password")
    assert main(["central", "create-user", "wang", "--role", "front_desk"]) == 0
    assert main(["central", "create-user", "wang", "--role", "front_desk"]) == 1
    assert main(["central", "create-user", "boss", "--role", "admin"]) == 0
    capsys.readouterr()
    assert main(["central", "create-edge", "lakeview-edge", "--car-park", "lakeview"]) == 0
    token = capsys.readouterr().out.strip()
    assert token.startswith("pge_")
    assert main(["central", "create-edge", "lakeview-edge", "--car-park", "lakeview"]) == 1
    assert main(["central", "purge-tombstones"]) == 0
    assert main(["central", "expire-passes"]) == 0

    with TestClient(create_app(Settings(database_url=url))) as client:
        login = client.post("/api/v1/auth/login", json={"username": "wang", "password": "a good long password"})
        assert login.json()["role"] == "front_desk"
        edge = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        assert SyncPage.model_validate_json(client.get("/api/v1/sync", headers=edge).content).full
        body = IngestBatch(edge_id="lakeview-edge", records=chain("lakeview", 5)).model_dump_json()
        first = IngestAck.model_validate_json(client.post("/api/v1/ingest", headers=edge, content=body).content)
        again = IngestAck.model_validate_json(client.post("/api/v1/ingest", headers=edge, content=body).content)
        assert (len(first.accepted), first.chain, first.last_seq) == (5, "ok", 5)
        assert (again.accepted, len(again.duplicates)) == ([], 5)
        staff = {"Authorization": f"Bearer {login.json()['token']}"}
        boss = client.post("/api/v1/auth/login", json={"username": "boss", "password": "a good long password"})
        admin = {"Authorization": f"Bearer {boss.json()['token']}"}
        holder = client.post("/api/v1/holders", headers=staff, json={"name": "王芳"}).json()["id"]
        plan = client.post("/api/v1/plans", headers=admin, json={"name": "resident", "price_minor": 30000}).json()["id"]
        sale = {"holder_id": holder, "plan_id": plan, "plates": ["粤B3R7K2"], "months": 2}
        assert client.post("/api/v1/passes", headers=staff, json=sale).status_code == 201
        found = client.get("/api/v1/passes?plate=粤B3R7K2", headers=staff).json()
        assert [p["plates"] for p in found] == [["粤B3R7K2"]]
        assert client.get("/api/v1/transactions", headers=staff).status_code == 403  # front desk: not theirs
        with client.app.state.sessions() as session:  # type: ignore[attr-defined]
            assert session.scalar(select(func.sum(EdgeTransaction.amount_minor))) == 2500
            kept = session.scalar(select(func.sum(ReportDaily.amount_minor)))
    assert kept == 2500  # counted by ingest as the records arrived
    capsys.readouterr()
    assert main(["central", "rebuild-rollups"]) == 0
    assert "5 records counted" in capsys.readouterr().out
    with create_app(Settings(database_url=url)).state.sessions() as session:
        assert session.scalar(select(func.sum(ReportDaily.amount_minor))) == 2500
        assert session.scalar(select(func.sum(ReportDaily.count))) == 5


def test_help_lists_the_central_actions(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["central", "--help"])
    out = capsys.readouterr().out
    for action in (
        "run",
        "migrate",
        "create-user",
        "create-edge",
        "purge-tombstones",
        "expire-passes",
        "rebuild-rollups",
    ):
        assert action in out
