"""Settings refuse unsafe defaults outside development."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from central.core.config import Environment, Settings


def test_development_accepts_the_sqlite_default() -> None:
    settings = Settings(environment=Environment.DEVELOPMENT)
    assert settings.sqlalchemy_url.startswith("sqlite:///")


def test_production_refuses_sqlite_and_weak_bootstrap_passwords() -> None:
    with pytest.raises(ValidationError, match="PostgreSQL"):
        Settings(environment=Environment.PRODUCTION, database_url="sqlite:///central.db")
    with pytest.raises(ValidationError, match="12 characters"):
        Settings(environment=Environment.PRODUCTION, database_url="postgresql://db/central",
                 bootstrap_admin_password="admin")  # fmt: skip
    ok = Settings(environment=Environment.PRODUCTION, database_url="postgresql://db/central")
    assert ok.sqlalchemy_url == "postgresql+psycopg://db/central"


def test_environment_variables_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PARKGATE_DATABASE_URL", "postgresql://u@h/central")
    monkeypatch.setenv("PARKGATE_SESSION_HOURS", "8")
    settings = Settings()
    assert (settings.database_url, settings.session_hours) == ("postgresql://u@h/central", 8)
