"""``parkgate sim`` runs each of these simulators from the command line, on TCP, for a moment."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.parametrize("device", ["io-module", "loop-detector", "display", "dispenser"])
def test_parkgate_sim_starts_and_stops(device: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "parking.cli", "sim", device, "--tcp", "127.0.0.1:0", "--duration", "0.3"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "serving" in done.stdout
