"""A started edge without a snapshot camera has not loaded OpenCV, NumPy or the PDF stack (fpdf2, Pillow,
fontTools), nor the simulators' web stack: the real ``parkgate edge run`` in a process of its own, on a site with a
Modbus TCP I/O module (a simulator) and a plate camera, run with ``python -X importtime`` so every module it
imports is written to its stderr as it happens; read once the lane's I/O module is being polled."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path

import httpx

from simulators.barrier import BarrierModel, LaneModel
from simulators.io_module import IoModuleSimulator
from tests.edge.test_daemon import IO_MAP, free_port, modbus_io_devices

REPO = Path(__file__).resolve().parents[2]
HEAVY = ("cv2", "numpy", "PIL", "fpdf", "fontTools", "fastapi", "uvicorn")


def site(folder: Path, io_port: int, camera_port: int, listen: int) -> Path:
    text = f"""
[car_park]
id = "lazy"
name = "Lazy"
timezone = "Asia/Shanghai"
currency = "CNY"
capacity = {{ small = 10 }}

[journal]
path = "var/journal.sqlite3"

[console]
listen = "127.0.0.1:{listen}"

{modbus_io_devices({"in-io": io_port})}
[devices.in-cam]
kind = "plate_camera"
driver = "hikvision_isapi"
camera_id = "in-cam"
connection = {{ type = "http_listen", listen = "127.0.0.1:{camera_port}", path = "/isapi/in" }}

[[lanes]]
id = "in-1"
direction = "entry"
mode = "unattended"
devices = {{ barrier = "in-io", loops = "in-io", camera = "in-cam" }}
"""
    path = folder / "site.toml"
    path.write_text(text)
    return path


def imported(stderr: str) -> set[str]:
    """Top-level packages named in ``-X importtime`` lines."""
    names = set()
    for line in stderr.splitlines():
        if line.startswith("import time:") and line.count("|") == 2:
            names.add(line.rsplit("|", 1)[1].strip().split(".")[0])
    return names


async def test_a_started_edge_without_a_snapshot_camera_has_not_loaded_opencv_or_the_pdf_stack(tmp_path: Path) -> None:
    sim = IoModuleSimulator(LaneModel(BarrierModel(now=time.monotonic())), io_map=IO_MAP)
    serving = sim.serving()
    io_port = await serving.serve_tcp("127.0.0.1", 0)
    listen = free_port()
    site_file = site(tmp_path, io_port, free_port(), listen)
    log = tmp_path / "importtime.txt"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    with log.open("w") as stderr:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-X", "importtime", "-m", "parking", "--log-level", "ERROR", "edge", "run",
            "--config", str(site_file), env=env, cwd=tmp_path, stderr=stderr,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        async with httpx.AsyncClient(timeout=2) as client:
            while True:
                assert process.returncode is None, log.read_text()[-2000:]
                assert time.monotonic() < deadline, "the edge did not answer /healthz"
                try:
                    health = await client.get(f"http://127.0.0.1:{listen}/healthz")
                    break
                except httpx.TransportError:
                    await asyncio.sleep(0.05)
        assert health.status_code in (200, 503)
        reads = sim.reads
        while sim.reads < reads + 3:  # the lane's I/O module is being polled: the devices are up
            assert time.monotonic() < deadline, "the I/O module was not polled"
            await asyncio.sleep(0.05)
        modules = imported(log.read_text())
        assert {"edge", "drivers", "aiohttp", "sqlite3", "pymodbus"} <= modules  # the log is what the edge loaded
        assert modules.isdisjoint(HEAVY), sorted(modules & set(HEAVY))
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), 60)
        await serving.stop()
