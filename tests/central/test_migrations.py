"""The Alembic migrations build exactly the models' schema on a fresh SQLite file and a fresh PostgreSQL database,
and go back down cleanly."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect, text

from central.core.db import make_engine
from central.core.migrate import downgrade, upgrade
from central.models import Base


def differences(engine: Engine) -> list[object]:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return list(compare_metadata(context, Base.metadata))


def test_sqlite_file_migrates_up_and_down(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'central.db'}")
    upgrade(engine)
    assert differences(engine) == []
    with engine.connect() as conn:
        assert conn.execute(text("SELECT version, purged_through FROM sync_clock WHERE id = 1")).one() == (0, 0)
    upgrade(engine)  # at head already: nothing to do
    downgrade(engine, "base")
    assert set(inspect(engine).get_table_names()) == {"alembic_version"}
    engine.dispose()


@pytest.mark.postgres
def test_postgresql_database_migrates_up_and_down(postgres_sqlalchemy_url: str) -> None:
    engine = make_engine(postgres_sqlalchemy_url, pool_size=1)
    upgrade(engine)
    assert differences(engine) == []
    columns = {c["name"]: c for c in inspect(engine).get_columns("edge_records")}
    assert str(columns["payload"]["type"]) == "JSONB"
    assert getattr(columns["at"]["type"], "timezone", False) is True
    downgrade(engine, "base")
    assert set(inspect(engine).get_table_names()) == {"alembic_version"}
    engine.dispose()
