"""Fixtures for the real services: a fresh PostgreSQL database per test module, unique MQTT topics per test,
Chromium for browser tests, and a folder for test artefacts (screenshots, PDFs)."""

from __future__ import annotations

import json
import os
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import services, soak_summary

ARTEFACTS = Path(__file__).resolve().parent.parent / "test-output"


@pytest.fixture(scope="module")
def postgres_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """A PostgreSQL database created for this test module and dropped after it; yields a psycopg URL."""
    module = re.sub(r"[^a-z0-9]+", "_", request.module.__name__.lower())[-30:]
    with services.own_database(f"pg_{module}") as url:
        yield url


@pytest.fixture(scope="module")
def postgres_sqlalchemy_url(postgres_url: str) -> str:
    """The module's database as a SQLAlchemy URL (psycopg 3 driver)."""
    return postgres_url.replace("postgresql://", "postgresql+psycopg://", 1)


@pytest.fixture
def mqtt_broker() -> tuple[str, int]:
    """The real Mosquitto broker's host and port."""
    host, port = services.mqtt_host_port()
    services.require(services.port_open(host, port), f"Mosquitto not reachable at {host}:{port}")
    return host, port


@pytest.fixture
def mqtt_topic(request: pytest.FixtureRequest, mqtt_broker: tuple[str, int]) -> str:
    """A topic prefix no other test (or test run) uses: ``parkgate-test/<test>/<random>``."""
    test = re.sub(r"[^A-Za-z0-9_]+", "_", request.node.name)[:40]
    return f"parkgate-test/{test}/{uuid.uuid4().hex[:12]}"


@pytest.fixture
def chromium_path() -> str:
    """Debian's Chromium for Playwright (it cannot download its own browser here)."""
    services.require(services.chromium_available(), f"Chromium not found at {services.CHROMIUM}")
    return services.CHROMIUM


@pytest.fixture
def artefacts_dir(request: pytest.FixtureRequest) -> Path:
    """``test-output/<test module>/``: where tests leave screenshots and documents for a reviewer."""
    folder = ARTEFACTS / str(request.module.__name__).rsplit(".", 1)[-1]
    folder.mkdir(parents=True, exist_ok=True)
    return folder


# ------------------------------------------------------------------------- the soak's summary table (issue 18)


def pytest_configure(config: pytest.Config) -> None:
    if not hasattr(config, "workerinput"):  # the controlling process (or a run without xdist)
        soak_summary.start_run(uuid.uuid4().hex)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    if hasattr(config, "workerinput"):
        return
    run = os.environ.get(soak_summary.RUN_ENV, "")
    items = soak_summary.rows(run)
    soak_summary.end_run(run)
    if not items:
        return
    terminalreporter.section("faults, fuzz and conservation (tests/soak_summary.py)")
    for line in soak_summary.table(items):
        terminalreporter.write_line(line)
    (soak_summary.SUMMARY_DIR / "summary.json").write_text(
        json.dumps(items, ensure_ascii=False, indent=1), encoding="utf-8"
    )
