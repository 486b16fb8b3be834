"""Edge start-up time and memory at 8 and 64 lanes: the real ``parkgate edge run`` daemon in a process of its own,
on a generated site file whose lanes each have a Modbus TCP I/O module (barrier and loops, served by simulated
modules in this process) and a plate camera (HTTP push, one listener for all); no snapshot camera, no printer.

Start-up is the time from spawning the process to its first answer on ``/healthz``; memory is the daemon's RSS
(``VmRSS`` in ``/proc``) once every lane's I/O module is online, and again after a few seconds of polling. It
also reads which heavy libraries the daemon has loaded (``/proc/PID/maps``: OpenCV, NumPy, Pillow are shared
objects): with no snapshot camera and no PDF printed, none must be. Goals at 8 lanes: RSS < 120 MB, start < 2 s.

Run: ``.venv/bin/python benchmarks/bench_edge_start.py [--lanes 8,64] [--repeats 3] [--json FILE]``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
from figures import Recorder, add_json_argument

from drivers.modbus import IoMap, IoPoint
from simulators.barrier import BarrierConfig, BarrierModel, LaneModel
from simulators.io_module import IoModuleSimulator, ModbusServing

REPO = Path(__file__).resolve().parents[1]
IO_MAP = IoMap(
    open=IoPoint(0), close=IoPoint(1), pulse_ms=100, open_limit=IoPoint(0), closed_limit=IoPoint(1),
    arming_loop=IoPoint(2), safety_loop=IoPoint(3), fault=IoPoint(4),
)  # fmt: skip
POINTS = ("open", "close", "open_limit", "closed_limit", "arming_loop", "safety_loop", "fault")
HEAVY = {"cv2": "cv2/", "numpy": "numpy/", "PIL": "PIL/", "fpdf (fontTools)": "fontTools/"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def io_device(name: str, connection: str, poll_ms: int = 20) -> str:
    io_map = "\n".join(f"{point} = {{ address = {getattr(IO_MAP, point).address} }}" for point in POINTS)
    return (f'[devices.{name}]\nkind = "barrier_io"\ndriver = "modbus_io"\nconnection = {connection}\n'
            f"modbus = {{ unit_id = 1, poll_interval_ms = {poll_ms} }}\n[devices.{name}.io_map]\npulse_ms = 100\n"
            f"{io_map}\n\n")  # fmt: skip


def camera_device(name: str, port: int) -> str:
    return (
        f'[devices.{name}]\nkind = "plate_camera"\ndriver = "hikvision_isapi"\ncamera_id = "{name}"\n'
        f'connection = {{ type = "http_listen", listen = "127.0.0.1:{port}", path = "/isapi/{name}" }}\n\n'
    )


def write_site(folder: Path, connections: list[str], camera_port: int, listen: str, *, poll_ms: int = 20) -> Path:
    """A site of ``len(connections)`` lanes (even: entries, odd: exits with the residential tariff), lane ``i``'s
    barrier and loops on the I/O module at ``connections[i]`` (a site-file connection table)."""
    (folder / "tariffs").mkdir(exist_ok=True)
    shutil.copy(REPO / "config" / "tariffs" / "residential.toml", folder / "tariffs" / "residential.toml")
    devices = "".join(io_device(f"io-{i}", c, poll_ms) + camera_device(f"cam-{i}", camera_port)
                      for i, c in enumerate(connections))  # fmt: skip
    lanes = ""
    for i in range(len(connections)):
        exit_lane = i % 2 == 1
        tariff = 'tariff = "residential"\n' if exit_lane else ""
        wired = f'{{ barrier = "io-{i}", loops = "io-{i}", camera = "cam-{i}" }}'
        lanes += (f'\n[[lanes]]\nid = "lane-{i}"\ndirection = "{"exit" if exit_lane else "entry"}"\n'
                  f'mode = "unattended"\n{tariff}devices = {wired}\n')  # fmt: skip
    text = f"""
[car_park]
id = "bench"
name = "Benchmark"
timezone = "Asia/Shanghai"
currency = "CNY"
capacity = {{ small = 100000 }}

[journal]
path = "var/journal.sqlite3"

[console]
listen = "{listen}"

[tariffs.residential]
file = "tariffs/residential.toml"

{devices}{lanes}"""
    path = folder / "site.toml"
    path.write_text(text)
    return path


class SimulatedModules:
    """``count`` simulated I/O modules on Modbus TCP, served by an event loop in a thread of this process."""

    def __init__(self, count: int) -> None:
        self.sims = [
            IoModuleSimulator(LaneModel(BarrierModel(BarrierConfig(travel_time_s=1.0), now=time.monotonic())),
                              io_map=IO_MAP)
            for _ in range(count)
        ]  # fmt: skip
        self.ports: list[int] = []
        self._servings: list[ModbusServing] = []
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    def __enter__(self) -> SimulatedModules:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(30)
        return self

    async def _start(self) -> None:
        for sim in self.sims:
            serving = sim.serving()
            self.ports.append(await serving.serve_tcp("127.0.0.1", 0))
            self._servings.append(serving)

    async def _stop(self) -> None:
        for serving in self._servings:
            await serving.stop()

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def loaded_heavy(pid: int) -> list[str]:
    maps = Path(f"/proc/{pid}/maps").read_text()
    return [name for name, marker in HEAVY.items() if marker in maps]


def start_once(lanes: int, settle_s: float) -> dict[str, float | list[str]]:
    """Start the daemon on a fresh site of ``lanes`` lanes; its start-up seconds, RSS and heavy libraries."""
    folder = Path(tempfile.mkdtemp(prefix="bench-edge-start-"))
    try:
        with SimulatedModules(lanes) as modules:
            port = free_port()
            connections = [f'{{ type = "tcp", host = "127.0.0.1", port = {p} }}' for p in modules.ports]
            site = write_site(folder, connections, free_port(), f"127.0.0.1:{port}")
            env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, (str(REPO), os.environ.get("PYTHONPATH"))))}
            started = time.perf_counter()
            process = subprocess.Popen(
                [sys.executable, "-m", "parking", "--log-level", "ERROR", "edge", "run", "--config", str(site),
                 "--drain-timeout", "5"],
                env=env, cwd=folder,
            )  # fmt: skip
            try:
                ready = None
                with httpx.Client(timeout=2) as client:
                    while time.perf_counter() - started < 60:
                        if process.poll() is not None:
                            raise RuntimeError(f"the edge exited with {process.returncode}")
                        try:
                            client.get(f"http://127.0.0.1:{port}/healthz")
                            ready = time.perf_counter() - started
                            break
                        except httpx.TransportError:
                            time.sleep(0.01)
                if ready is None:
                    raise RuntimeError("the edge did not answer /healthz within 60 s")
                deadline = time.monotonic() + 30
                while any(sim.reads == 0 for sim in modules.sims) and time.monotonic() < deadline:
                    time.sleep(0.05)
                online = time.perf_counter() - started
                polled = [sim.reads for sim in modules.sims]
                if min(polled) == 0:
                    raise RuntimeError(f"{polled.count(0)} I/O modules never polled")
                rss_online = rss_mb(process.pid)
                time.sleep(settle_s)
                rss_settled = rss_mb(process.pid)
                heavy = loaded_heavy(process.pid)
            finally:
                stopping = time.perf_counter()
                process.terminate()
                try:
                    process.wait(120)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(10)
                stop = time.perf_counter() - stopping
        return {"ready": ready, "online": online, "rss_online": rss_online, "rss": max(rss_online, rss_settled),
                "heavy": heavy, "stop": stop}  # fmt: skip
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--lanes", default="8,64", help="lane counts, comma-separated (default %(default)s)")
    parser.add_argument("--repeats", type=int, default=3, help="starts per lane count (the median counts)")
    parser.add_argument("--settle", type=float, default=3.0, help="seconds of running before RSS is read again")
    add_json_argument(parser)
    args = parser.parse_args()
    recorder = Recorder("edge start")
    for lanes in (int(n) for n in args.lanes.split(",")):
        runs = [start_once(lanes, args.settle) for _ in range(args.repeats)]
        ready = statistics.median(float(r["ready"]) for r in runs)  # type: ignore[arg-type]
        online = statistics.median(float(r["online"]) for r in runs)  # type: ignore[arg-type]
        rss = statistics.median(float(r["rss"]) for r in runs)  # type: ignore[arg-type]
        stop = statistics.median(float(r["stop"]) for r in runs)  # type: ignore[arg-type]
        heavy = sorted({h for r in runs for h in r["heavy"]})  # type: ignore[union-attr]
        print(
            f"{lanes:2d} lanes: start to /healthz {ready:.2f} s, every I/O module polled at {online:.2f} s, "
            f"RSS {rss:.0f} MB; heavy libraries loaded: {', '.join(heavy) or 'none'}; SIGTERM to exit {stop:.1f} s "
            f"(median of {len(runs)})"
        )
        goal = lanes == 8
        note = f"median of {len(runs)}, Modbus TCP I/O + camera per lane"
        recorder.add(f"edge start to /healthz, {lanes} lanes", ready, "s", goal="< 2 s" if goal else "",
                     met=ready < 2.0 if goal else None, note=note)  # fmt: skip
        recorder.add(f"edge start to every I/O module polled, {lanes} lanes", online, "s", note=note)
        recorder.add(f"edge RSS, {lanes} lanes", rss, "MB", goal="< 120 MB" if goal else "",
                     met=rss < 120 if goal else None,
                     note=note + "; loaded: " + (", ".join(heavy) or "no cv2/numpy/PIL"))  # fmt: skip
        recorder.add(f"edge stop (SIGTERM to exit, idle lanes), {lanes} lanes", stop, "s", note=note)
        recorder.add(f"edge heavy libraries loaded, {lanes} lanes", len(heavy), "libs", goal="0 (cv2, numpy, PIL)",
                     met=not heavy, note=", ".join(heavy) or "none")  # fmt: skip
    recorder.save(args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
