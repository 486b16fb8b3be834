"""Fixtures for the real services: a fresh PostgreSQL database per test module, unique MQTT topics per test,
Chromium for browser tests, and a folder for test artefacts (screenshots, PDFs)."""

from __future__ import annotations

import json
import os
import re
import signal
import uuid
from collections.abc import Generator, Iterator
from pathlib import Path
from types import FrameType
from typing import Any

import pytest

from tests import hangs, services, soak_summary

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


# ------------------------------------------------------------------------ whole-system tests, two at a time

# The whole-system modules run several processes each (central's workers, an edge, simulators): more than two of them
# at once on the 2-core machine starve the simulated devices' 200 ms answers and the lanes see faults that are not
# there. Under `--dist loadfile` (the Makefile's) each group below is one unit of work, run by one worker module
# after module, so at most two run at once while the other workers take the rest; the groups start first. Balanced
# by the modules' wall time (seconds, measured on the 2-core machine); a module not listed is its own unit.
HEAVY_GROUPS: dict[str, tuple[str, ...]] = {
    "whole-system-a": ("tests/system/test_demo.py", "tests/system/test_edge_kill.py",
                       "tests/system/test_central_crl_reload.py", "tests/central/test_sync_scale.py"),  # ~145 s
    "whole-system-b": ("tests/system/test_central_down.py", "tests/system/test_scenarios.py",
                       "tests/system/test_two_centrals.py", "tests/system/test_secrets_never_logged.py"),  # ~155 s
}  # fmt: skip
_GROUP_OF = {path: group for group, paths in HEAVY_GROUPS.items() for path in paths}


def _module_of(nodeid: str) -> str:
    """The test module's path in a node id (``tests/x/test_y.py::test_z`` -> ``tests/x/test_y.py``)."""
    return nodeid.split("::", 1)[0]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The heavy groups first, then the other modules by their number of tests, most first (the Makefile passes
    ``--no-loadscope-reorder``, so that xdist keeps this order)."""
    groups = list(HEAVY_GROUPS)
    modules: dict[str, list[pytest.Item]] = {}
    for item in items:
        modules.setdefault(_module_of(item.nodeid), []).append(item)

    def rank(path: str) -> tuple[int, int]:
        return (groups.index(_GROUP_OF[path]), 0) if path in _GROUP_OF else (len(groups), -len(modules[path]))

    items[:] = [item for path in sorted(modules, key=rank) for item in modules[path]]


# A worker whose first test is not a whole-system one runs at a lower priority (``nice``, which any user may raise)
# for the rest of the run: on a 2-core machine the CPU goes first to the whole-system tests' edge, central and
# simulated devices, whose answers have deadlines, and the other tests take what is left. The two workers that
# start with a heavy group keep their priority. Not lower than 5: the other tests have deadlines too (a loop's
# 70 ms gap seen through 20 ms polls, in tests/edge/test_daemon.py), and at nice 10 (a tenth of the CPU when the
# groups want all of it) one of them missed its gap in one clean-clone run of four.
LIGHT_WORKER_NICE = 5
_first_test_seen = False


def pytest_runtest_setup(item: pytest.Item) -> None:
    global _first_test_seen
    if _first_test_seen or not hasattr(item.config, "workerinput"):
        return
    _first_test_seen = True
    if _module_of(item.nodeid) not in _GROUP_OF:
        os.nice(LIGHT_WORKER_NICE)


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """``--dist loadfile`` with :data:`HEAVY_GROUPS` as units of work of their own."""
    if config.getoption("dist", None) != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling  # type: ignore[import-untyped]

    class GroupedFiles(LoadFileScheduling):  # type: ignore[misc]
        def _split_scope(self, nodeid: str) -> str:
            return _GROUP_OF.get(_module_of(nodeid)) or str(super()._split_scope(nodeid))

    return GroupedFiles(config, log)


# ------------------------------------------------------------------------- the soak's summary table (issue 18)


PENDING_AT_TIMEOUT = pytest.StashKey[list[str]]()


@pytest.hookimpl(wrapper=True)
def pytest_timeout_set_timer(item: pytest.Item, settings: Any) -> Generator[None, object, object]:
    """When pytest-timeout's alarm goes off, note the asyncio tasks still waiting (before the teardown cancels them)."""
    result = yield
    theirs = signal.getsignal(signal.SIGALRM)
    if callable(theirs):

        def noting(signum: int, frame: FrameType | None) -> None:
            item.stash[PENDING_AT_TIMEOUT] = hangs.pending_tasks()
            theirs(signum, frame)

        signal.signal(signal.SIGALRM, noting)
    return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A test stopped by pytest-timeout says in its summary line which asyncio tasks were still waiting, and where."""
    report: pytest.TestReport = yield
    pending = item.stash.get(PENDING_AT_TIMEOUT, None)
    if report.failed and pending is not None and call.excinfo is not None and "Timeout" in str(call.excinfo.value):
        report.sections.append(("pending asyncio tasks at the timeout", "\n".join(pending) or "none"))
        crash = getattr(report.longrepr, "reprcrash", None)
        if crash is not None:
            crash.message += " | pending tasks: " + ("; ".join(pending) or "none")
    return report


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
