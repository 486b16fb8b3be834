"""A test stopped by pytest-timeout names, in its one-line summary, the asyncio tasks it was still waiting on."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

HANGING = """
import asyncio

import pytest


@pytest.fixture
async def stuck():
    yield
    never = asyncio.Event()

    async def wait_for_the_release() -> None:
        await never.wait()

    asyncio.create_task(wait_for_the_release(), name="release-pulse")
    await asyncio.sleep(3600)


async def test_hangs_in_teardown(stuck):
    pass
"""


def test_a_timeout_in_teardown_names_the_pending_tasks() -> None:
    root = Path(__file__).resolve().parent.parent
    folder = root / "tests" / f"hang_probe_{os.getpid()}"
    folder.mkdir()
    try:
        (folder / "__init__.py").write_text("")
        (folder / "test_probe.py").write_text(HANGING)
        done = subprocess.run(
            [sys.executable, "-m", "pytest", str(folder), "-q", "-p", "no:cacheprovider", "--timeout", "2", "-rE"],
            cwd=root, capture_output=True, text=True, timeout=60, env={**os.environ, "CI": "true"},
        )  # fmt: skip
    finally:
        shutil.rmtree(folder)
    summary = [line for line in done.stdout.splitlines() if line.startswith("ERROR ")]
    assert len(summary) == 1, done.stdout
    assert "Timeout" in summary[0]
    assert "release-pulse: wait_for_the_release@tests/" in summary[0], summary[0]
    assert "wait@locks.py" in summary[0]
