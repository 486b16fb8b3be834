"""``parkgate edge run`` as a process: serves /healthz and /metrics, lets a vehicle in through the simulator,
stops cleanly on SIGTERM; ``parkgate edge verify`` and ``status`` read the journal it left."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.edge.test_daemon import SimLane, free_port, push_isapi, sims, until, write_site

__all__ = ["sims"]  # the fixture, shared with the daemon tests
ROOT = Path(__file__).resolve().parents[2]


async def test_edge_run_serves_a_vehicle_and_stops_on_sigterm(tmp_path: Path, sims: tuple[SimLane, SimLane]) -> None:
    entry, out = sims
    cameras, metrics = free_port(), free_port()
    site_file = write_site(tmp_path, entry.port, out.port, None, cameras)
    command = [sys.executable, "-m", "parking", "--log-json", "edge", "run", "--config", str(site_file),
               "--metrics-listen", f"127.0.0.1:{metrics}", "--synchronous", "NORMAL"]  # fmt: skip
    log_file = tmp_path / "edge.log"
    with log_file.open("wb") as log_out:  # a file, not a pipe: a full pipe would block the daemon's logging
        process = await asyncio.create_subprocess_exec(*command, cwd=ROOT, stderr=log_out)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{metrics}") as client:
            deadline = time.monotonic() + 20
            while True:
                try:
                    if (await client.get("/healthz")).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert time.monotonic() < deadline, "the edge did not come up"
                await asyncio.sleep(0.1)
            await asyncio.sleep(0.5)  # the Modbus driver's first polls
            await push_isapi(cameras, "粤B13579", 95)
            entry.drive_up()
            await until(lambda: entry.model.passed == 1, what="vehicle through the entry")
            text = (await client.get("/metrics")).text
            assert 'outcome="open"} 1.0' in text
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), timeout=20) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    log = log_file.read_text()
    # JSON lines, no central configured: the tariff's text (sent once), the entry and the barrier's open and close.
    assert '"message": "edge stopped; 4 records await central"' in log

    verify = await asyncio.to_thread(parkgate, "edge", "verify", "--config", str(site_file))
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert "journal OK: 4 records chained" in verify.stdout
    status = await asyncio.to_thread(parkgate, "edge", "status", "--config", str(site_file))
    assert "1 vehicles inside (small 1/10)" in status.stdout


def parkgate(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "parking", *args], cwd=ROOT, capture_output=True, text=True,
                          check=False)  # fmt: skip


async def test_edge_run_on_a_port_in_use_says_so_in_one_line(tmp_path: Path, sims: tuple[SimLane, SimLane]) -> None:
    import socket

    entry, out = sims
    site_file = write_site(tmp_path, entry.port, out.port, None, free_port())
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        command = [sys.executable, "-m", "parking", "edge", "run", "--config", str(site_file),
                   "--metrics-listen", f"127.0.0.1:{port}", "--synchronous", "NORMAL"]  # fmt: skip
        done = await asyncio.to_thread(subprocess.run, command, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    [line] = [text for text in done.stderr.splitlines() if text.startswith("parkgate: error:")]
    assert f"cannot listen on 127.0.0.1:{port}" in line
    assert "in use" in line
